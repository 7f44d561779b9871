"""`okectl policy check`: the example repository, the output formats, SARIF for code scanning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from okectl.config.repository import load_state
from okectl.policy.engine import evaluate

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
Cli = Callable[..., Any]
Repo = Callable[..., Path]

NOT_CERTIFIED = {
    "suppliers/toets.yaml": [('{oke: "1.0.1", status: certified}', '{oke: "1.0.1", status: in-progress}')]
}
RULES = """
    - id: certified
      kind: certification
      description: Production only on certified OKE versions.
      help: Ask the supplier for its certification date, or waive with an owner and an expiry date.
    - {id: fewer-environments, kind: max-environments, severity: warning, params: {max: 1}}
    """


def validate_sarif(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(
        SARIF_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    validator.validate(document)


# --- the example repository ---------------------------------------------------------------


def test_the_example_repository_passes_with_its_waivers(example_repo: Path, cli: Cli) -> None:
    result = cli("policy", "check", "--repo", str(example_repo), "--today", "2026-11-28")
    assert result.exit_code == 0, result.out + result.err
    assert result.out.endswith("\npolicy check passed: 25 rules; 0 error(s), 22 warning(s), 6 waived\n"), (
        result.out
    )
    assert (
        "schools/44TW.yaml:28:18: warning[chain-on-one-version] oudtoets/44TW/production: oudtoets runs OKE "
        "1.0 in production, the school's planning system roosterwijs runs OKE 1.0.1\n"
    ) in result.out
    assert (
        "schools/21RC.yaml:23:33: warning[oke-version-released] delta-toets/21RC/acceptance: OKE 1.1 is "
        "concept in the version catalogue; acceptance environments run final versions\n"
    ) in result.out


def test_the_example_waivers_cover_the_certification_gaps(example_repo: Path) -> None:
    from datetime import date

    report = evaluate(load_state(example_repo), today=date(2026, 11, 28))
    waived = sorted((f.address, f.waived_by.index) for f in report.waived if f.waived_by is not None)
    assert waived == [
        ("campusnet/23KM/production", 1),
        ("campusnet/31AW/production", 1),
        ("campusnet/44TW/production", 1),
        ("campusnet/72ZL/production", 1),
        ("examengo/23KM/production", 0),
        ("examengo/31AW/production", 0),
    ]
    assert {f.policy for f in report.waived} == {"certification"}
    assert report.expired_waivers == report.unused_waivers == []


def test_the_example_repository_fails_once_its_waivers_expire(example_repo: Path, cli: Cli) -> None:
    result = cli("policy", "check", "--repo", str(example_repo), "--today", "2027-04-01")
    assert result.exit_code == 3
    assert "error[certification] examengo/23KM/production" in result.out
    assert "policies/waivers.yaml:7:5: warning[waiver] waiver for certification expired on 2027-03-31" in (
        result.out
    )
    assert "\nschools/23KM.yaml:15:18: error[certification] campusnet/23KM/production" not in result.out
    assert "\n  schools/23KM.yaml:15:18: error[certification] campusnet/23KM/production" in result.out


def test_the_example_rules_pass_their_own_definition_check(example_repo: Path) -> None:
    from okectl.policy.engine import check_rule_definitions

    assert check_rule_definitions(load_state(example_repo)) == []


# --- exit codes and text -------------------------------------------------------------------


def test_an_unwaived_error_exits_3_and_names_policy_severity_address_and_location(
    repo: Repo, cli: Cli
) -> None:
    root = repo(RULES, edit=NOT_CERTIFIED)
    result = cli("policy", "check", "--repo", str(root), "--today", "2026-11-28")
    assert result.exit_code == 3
    assert result.out == (
        "schools/10AA.yaml:15:18: error[certified] toets/10AA/production: toets is not certified for OKE "
        "1.0.1 (certification: in-progress); production runs only on certified versions\n"
        "schools/10AA.yaml:8:14: warning[fewer-environments] plan/10AA: 2 environments (production, "
        "acceptance); the harmonised maximum is 1 per connection\n"
        "schools/10AA.yaml:14:14: warning[fewer-environments] toets/10AA: 2 environments (production, "
        "acceptance); the harmonised maximum is 1 per connection\n"
        "\n"
        "policy check failed: 2 rules; 1 error(s), 2 warning(s), 0 waived\n"
    )
    assert "\x1b[" not in result.out


def test_colour_only_on_a_terminal(repo: Repo) -> None:
    from datetime import date

    from okectl.views.policy import render_text

    report = evaluate(load_state(repo(RULES, edit=NOT_CERTIFIED)), today=date(2026, 11, 28))
    coloured = render_text(report, color=True)
    assert "\x1b[" in coloured
    assert "schools/10AA.yaml:15:18: " in coloured
    assert "\x1b[" not in render_text(report, color=False)


def test_invalid_configuration_exits_1_with_located_problems(repo: Repo, cli: Cli) -> None:
    root = repo(RULES, edit={"schools/10AA.yaml": [("federation: surfconext", "federation: surfnet")]})
    result = cli("policy", "check", "--repo", str(root))
    assert result.exit_code == 1
    assert result.err.startswith("schools/10AA.yaml:3:13: ")
    assert result.out == ""


# --- JSON ----------------------------------------------------------------------------------


def test_json_output(repo: Repo, cli: Cli) -> None:
    root = repo(RULES, edit=NOT_CERTIFIED)
    result = cli("policy", "check", "--repo", str(root), "--today", "2026-11-28", "--output", "json")
    assert result.exit_code == 3
    doc = json.loads(result.out)
    assert doc["passed"] is False
    assert doc["counts"] == {
        "errors": 1,
        "warnings": 2,
        "waived": 0,
        "expired_waivers": 0,
        "unused_waivers": 0,
    }
    assert doc["findings"][0] == {
        "policy": "certified",
        "severity": "error",
        "address": "toets/10AA/production",
        "path": "schools/10AA.yaml",
        "line": 15,
        "col": 18,
        "message": "toets is not certified for OKE 1.0.1 (certification: in-progress); "
        "production runs only on certified versions",
        "school": "10AA",
        "supplier": "toets",
        "environment_type": "production",
        "waived": False,
    }
    assert [r["id"] for r in doc["rules"]] == ["certified", "fewer-environments"]


# --- SARIF ---------------------------------------------------------------------------------


def test_the_schema_kept_with_the_tests_is_a_valid_json_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SARIF_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{}]}]})
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif({"version": "2.0.0", "runs": []})


def test_sarif_output_is_valid_sarif_2_1_0_for_code_scanning(repo: Repo, cli: Cli) -> None:
    root = repo(
        RULES,
        edit=NOT_CERTIFIED,
        files={
            "policies/waivers.yaml": """
                waivers:
                  - {policy: fewer-environments, target: plan/10AA, reason: one system, owner: team a,
                     expires: 2027-01-01}
                  - {policy: certified, target: plan, reason: old, owner: team b, expires: 2026-01-01}
                """
        },
    )
    result = cli("policy", "check", "--repo", str(root), "--today", "2026-11-28", "--output", "sarif")
    assert result.exit_code == 3
    doc = json.loads(result.out)
    validate_sarif(doc)
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["certified", "fewer-environments", "waiver-expired", "waiver-unused"]
    assert rules[0]["shortDescription"] == {"text": "Production only on certified OKE versions."}
    assert rules[0]["help"]["text"] == (
        "Ask the supplier for its certification date, or waive with an owner and an expiry date."
    )
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    by_rule = {(r["ruleId"], r["message"]["text"].split(":")[0]): r for r in run["results"]}
    error = by_rule[("certified", "toets/10AA/production")]
    assert error["level"] == "error"
    assert rules[error["ruleIndex"]]["id"] == "certified"
    assert error["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "schools/10AA.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 15, "startColumn": 18},
    }
    assert error["locations"][0]["logicalLocations"] == [
        {"fullyQualifiedName": "toets/10AA/production", "kind": "resource"}
    ]
    waived = by_rule[("fewer-environments", "plan/10AA")]
    assert waived["level"] == "warning"
    assert waived["suppressions"][0]["kind"] == "external"
    assert waived["suppressions"][0]["status"] == "accepted"
    expired = next(r for r in run["results"] if r["ruleId"] == "waiver-expired")
    assert expired["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 5}
    assert "suppressions" not in by_rule[("fewer-environments", "toets/10AA")]


def test_sarif_of_the_example_repository_is_valid(example_repo: Path, cli: Cli) -> None:
    result = cli("policy", "check", "--repo", str(example_repo), "--today", "2026-11-28", "-o", "sarif")
    assert result.exit_code == 0
    doc = json.loads(result.out)
    validate_sarif(doc)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in doc["runs"][0]["results"]
        for loc in r["locations"]
    }
    assert uris <= {p.relative_to(example_repo).as_posix() for p in example_repo.rglob("*.yaml")}
    fingerprints = [r["partialFingerprints"]["okectlFinding/v1"] for r in doc["runs"][0]["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


# --- release feeds -------------------------------------------------------------------------


def test_release_feeds_are_read_only_when_asked(example_repo: Path, cli: Cli) -> None:
    seed = example_repo / "sandbox" / "seed.yaml"
    # EduPlan's current release drops OKE 1.0; the one before it, the last with OKE 1.0,
    # reached its end of support before "today".
    seed.write_text(
        seed.read_text(encoding="utf-8").replace(
            'oke_versions: ["1.0", "1.0.1", "1.1"]', 'oke_versions: ["1.0.1", "1.1"]'
        ),
        encoding="utf-8",
    )
    args = ("policy", "check", "--repo", str(example_repo), "--today", "2027-03-01")
    offline = cli(*args)
    assert offline.exit_code == 0, offline.out
    online = cli(*args, "--release-feeds")
    assert online.exit_code == 3, online.err
    supports = [line for line in online.out.splitlines() if "[supplier-supports-version]" in line]
    feed = "(its release feed supports 1.0.1, 1.1)"
    assert supports == [
        "schools/21RC.yaml:11:18: error[supplier-supports-version] eduplan/21RC/acceptance: no current "
        f"release of eduplan supports OKE 1.0 {feed}",
        "schools/21RC.yaml:11:18: error[supplier-supports-version] eduplan/21RC/production: no current "
        f"release of eduplan supports OKE 1.0 {feed}",
        "schools/42DE.yaml:16:18: error[supplier-supports-version] eduplan/42DE/production: no current "
        f"release of eduplan supports OKE 1.0 {feed}",
    ]
    # The suppliers changed by their support desk have no feed to read: no news, no warning.
    assert "offers no release feed" not in online.err
