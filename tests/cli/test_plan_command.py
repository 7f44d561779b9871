"""okectl plan on the example repository over the embedded sandbox: formats, scope, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.support.cli import run_cli
from tests.support.repos import PROJECT

PLAN_SCHEMA = json.loads((PROJECT / "okectl" / "plans" / "plan.schema.json").read_text())


def test_plan_json_follows_its_documented_schema(example_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(example_repo), "--output", "json")
    assert result.exit_code == 0, result.err
    doc = json.loads(result.out)
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(doc)
    assert doc["format_version"] == 1
    counts = {a: sum(1 for c in doc["changes"] if c["action"] == a) for a in ("create", "update", "delete")}
    assert counts == {a: doc["summary"][a] for a in counts}
    assert all(c["etag"] for c in doc["changes"] if c["action"] != "create")


def test_plan_shows_the_harmonisation_the_seed_calls_for(example_repo: Path) -> None:
    doc = json.loads(run_cli("plan", "--repo", str(example_repo), "--output", "json").out)
    by_address = {c["address"]: c for c in doc["changes"]}
    # Environments beyond the profile go; versions are aligned; hand-made things stay.
    assert by_address["delta-toets/23KM/chain-test"]["action"] == "delete"
    assert doc["summary"]["unmanaged"] >= 3
    assert any(
        d["path"] == "oke_version" for c in doc["changes"] for d in c["diff"] if not d.get("sensitive")
    )


def test_detailed_exitcode_is_2_with_changes_and_0_without(example_repo: Path) -> None:
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 2
    assert run_cli("plan", "--repo", str(example_repo)).exit_code == 0


def test_school_and_supplier_filters_scope_the_plan(example_repo: Path) -> None:
    result = run_cli(
        "plan",
        "--repo",
        str(example_repo),
        "--output",
        "json",
        "--school",
        "23KM",
        "--supplier",
        "delta-toets",
    )
    doc = json.loads(result.out)
    assert doc["changes"], "the seed has changes for 23KM at delta-toets"
    assert {c["address"].split("/")[:2] == ["delta-toets", "23KM"] for c in doc["changes"]} == {True}
    assert doc["scope"]["schools"] == ["23KM"] and doc["scope"]["suppliers"] == ["delta-toets"]


def test_markdown_output_is_a_pull_request_comment(example_repo: Path) -> None:
    md = run_cli("plan", "--repo", str(example_repo), "--output", "markdown").out
    assert md.startswith("<!-- okectl-plan -->\n### okectl plan")
    assert "<details><summary><b>delta-toets</b>" in md


def test_saved_plan_has_a_checksum_and_text_says_how_to_apply_it(example_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    result = run_cli("plan", "--repo", str(example_repo), "--out", str(out))
    assert f"Saved the plan to {out}; apply it with: okectl apply {out}" in result.out
    doc = json.loads(out.read_text())
    assert doc["checksum"].startswith("sha256:")


def test_a_bad_configuration_stops_the_plan_with_located_problems(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(school.read_text().replace("federation: surfconext", "federation: surfnet"))
    result = run_cli("plan", "--repo", str(example_repo))
    assert result.exit_code == 1
    assert result.err.startswith("schools/21RC.yaml:")
    assert "Traceback" not in result.err


def test_policy_errors_show_in_the_plan_and_stop_apply(example_repo: Path) -> None:
    school = example_repo / "schools" / "27NH.yaml"
    text = school.read_text()
    school.write_text(
        text.replace(
            "    profile: standard\n",
            '    profile: standard\n    environments:\n      production: {sso: "off"}\n',
            1,
        )
    )
    plan = run_cli("plan", "--repo", str(example_repo))
    assert plan.exit_code == 0
    assert "[sso-never-off-in-production]" in plan.out
    result = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert result.exit_code == 3
    assert "refusing to apply: 2 policy error(s) stand; fix them or add a waiver" in result.err
    assert "[sso-federation] roosterwijs/27NH/production" in result.err
    assert "schools/27NH.yaml:" in result.err
    assert not (example_repo / ".okectl" / "runs").exists()


def test_okectl_today_shows_what_an_expiring_waiver_will_stop(
    example_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("plan", "--repo", str(example_repo)).exit_code == 0
    # The day after the first example waiver expires.
    monkeypatch.setenv("OKECTL_TODAY", "2027-04-01")
    plan = run_cli("plan", "--repo", str(example_repo))
    assert plan.exit_code == 0
    assert "[certification] examengo/23KM/production" in plan.out
    result = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert result.exit_code == 3
    assert "[certification] examengo/23KM/production" in result.err
    monkeypatch.setenv("OKECTL_TODAY", "April 1st")
    result = run_cli("plan", "--repo", str(example_repo))
    assert result.exit_code == 1
    assert result.err.strip() == "OKECTL_TODAY='April 1st' is not a date; use YYYY-MM-DD or unset it"


def test_text_plan_lists_policy_errors_but_only_counts_warnings(example_repo: Path) -> None:
    out = run_cli("plan", "--repo", str(example_repo)).out
    # The count depends on the day (end-of-support warnings), the form does not.
    assert re.fullmatch(r"[1-9]\d* policy warning\(s\); see okectl policy check", out.splitlines()[-2])
    assert "[oke-version-end-of-support]" not in out


def test_unknown_schools_and_suppliers_in_the_scope_are_errors(example_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(example_repo), "--school", "99XX", "--supplier", "nope")
    assert result.exit_code == 1
    assert (
        result.err.strip()
        == "unknown supplier 'nope'; unknown school '99XX' in --school/--supplier; check the spelling"
    )


def test_a_plan_out_path_that_cannot_be_written_is_one_line(example_repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "p.json"
    result = run_cli("plan", "--repo", str(example_repo), "--out", str(target))
    assert result.exit_code == 1
    assert result.err.strip() == f"{target}: cannot write the plan file: No such file or directory"


def _resealed(doc: dict[str, object]) -> dict[str, object]:
    from okectl.plans.document import checksum

    body = {k: v for k, v in doc.items() if k != "checksum"}
    return {**body, "checksum": checksum(body)}


def test_an_edited_plan_file_with_a_recomputed_checksum_is_still_checked(
    example_repo: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "p.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    original = json.loads(plan_file.read_text())
    cases = {
        "explode": ("action", "change 1 ({addr}): unknown action 'explode'; re-plan"),
        "not/an/address/at/all/x": (
            "address",
            "change 1: 'not/an/address/at/all/x' is not a resource address",
        ),
    }
    for value, (key, expected) in cases.items():
        doc = json.loads(json.dumps(original))
        addr = doc["changes"][0]["address"]
        doc["changes"][0][key] = value
        plan_file.write_text(json.dumps(_resealed(doc)))
        result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
        assert result.exit_code == 1
        assert result.err.startswith(f"{plan_file}: " + expected.format(addr=addr)), result.err
        assert "Traceback" not in result.err and "internal error" not in result.err
    assert not (example_repo / ".okectl" / "runs").exists()


def test_a_saved_plan_is_readable_by_its_owner_only(example_repo: Path, tmp_path: Path) -> None:
    """It holds digests of the secret values it writes: not for everyone on the machine."""
    out = tmp_path / "plan.json"
    result = run_cli("plan", "--repo", str(example_repo), "--out", str(out))
    assert result.exit_code == 0, result.err
    assert out.stat().st_mode & 0o777 == 0o600
