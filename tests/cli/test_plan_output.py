"""What the plan says about the example repository: header, counts, list diffs, scope."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.repos import EXAMPLE_TODAY, PROJECT


def test_the_plan_opens_with_a_header_and_a_legend(example_repo: Path) -> None:
    lines = run_cli("plan", "--repo", str(example_repo)).out.splitlines()
    assert lines[0] == "okectl plan · repository example · not a git checkout"
    assert lines[1:5] == [
        "Actions are shown with these symbols:",
        "  + create",
        "  ~ update in place (adopt and update: also take ownership of what was made by hand)",
        "  - delete",
    ]


def test_adoptions_are_counted_on_their_own(example_repo: Path) -> None:
    out = run_cli("plan", "--repo", str(example_repo)).out
    doc = json.loads(run_cli("plan", "--repo", str(example_repo), "-o", "json").out)
    adopt = sum(1 for c in doc["changes"] if c["adopt"])
    assert adopt > 0 and doc["summary"]["adopt"] == adopt
    plain = doc["summary"]["update"] - adopt
    assert f", {adopt} to adopt, {plain} to update, " in out.splitlines()[-1]


def _plan_in_a_fresh_process(repo: Path, *args: str) -> tuple[str, bool]:
    """The text plan, and whether DeepDiff was imported to make it."""
    code = (
        "import sys; from okectl.cli import main; "
        f"code = main(['plan', '--repo', {str(repo)!r}, *{list(args)!r}]); "
        "print('DEEPDIFF', 'deepdiff' in sys.modules); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT), "OKECTL_TODAY": EXAMPLE_TODAY},
        check=True,
    )
    out, _, flag = done.stdout.rpartition("DEEPDIFF ")
    return out, flag.strip() == "True"


def test_a_changed_list_is_diffed_element_by_element(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(
        school.read_text().replace(
            "invigilator: [21rc-surveillanten]", "invigilator: [21rc-surveillanten, 21rc-toezicht]"
        )
    )
    out, imported = _plan_in_a_fresh_process(example_repo, "--school", "21RC")
    assert imported
    block = out.split("    ~ delta-toets/21RC/production/role/invigilator  update\n", 1)[1]
    assert block.startswith(
        '        groups:\n          + "21rc-toezicht"\n        name: "surveillant" → "Surveillant"\n'
    )
    # Toetsvorm's desk granted 31AW's client a scope the configuration does not give it.
    out, _ = _plan_in_a_fresh_process(example_repo, "--school", "31AW")
    block = out.split("    ~ toetsvorm/31AW/production/client/eduplan  update, to request\n", 1)[1]
    assert block.startswith('        scopes:\n          - "nl-test-admin-flow-6"\n')


def test_deepdiff_is_loaded_only_when_a_list_changed(example_repo: Path) -> None:
    # 44TW's changes are a version and a role's name: no list to compare element by element.
    out, imported = _plan_in_a_fresh_process(example_repo, "--school", "44TW")
    assert 'oke_version: "1.0" → "1.0.1"' in out
    assert 'name: "Praktijk beoordelaar" → "Praktijkbeoordelaar"' in out
    assert not imported


def _break_policy_at_27nh(repo: Path) -> None:
    school = repo / "schools" / "27NH.yaml"
    school.write_text(
        school.read_text().replace(
            "    profile: standard\n",
            '    profile: standard\n    environments:\n      production: {sso: "off"}\n',
            1,
        )
    )


def test_a_scoped_plan_reports_only_the_policy_findings_of_its_scope(example_repo: Path) -> None:
    _break_policy_at_27nh(example_repo)
    whole = json.loads(run_cli("plan", "--repo", str(example_repo), "-o", "json").out)
    assert {f["address"].split("/")[1] for f in whole["findings"] if "/" in f["address"]} > {"27NH", "21RC"}
    scoped = run_cli("plan", "--repo", str(example_repo), "-o", "json", "--school", "21RC")
    doc = json.loads(scoped.out)
    assert doc["findings"]
    assert {f["address"].split("/")[1] for f in doc["findings"]} == {"21RC"}
    text = run_cli("plan", "--repo", str(example_repo), "--school", "21RC", "--detailed-exitcode")
    assert "Policy errors" not in text.out and "27NH" not in text.out
    assert text.exit_code == 2
    # The errors elsewhere still stop apply, and a plan of their school says so.
    other = run_cli("plan", "--repo", str(example_repo), "--school", "27NH", "--detailed-exitcode")
    assert other.exit_code == 3 and "[sso-never-off-in-production]" in other.out
    supplier = json.loads(
        run_cli("plan", "--repo", str(example_repo), "-o", "json", "--supplier", "examengo").out
    )
    assert {f["address"].split("/")[0] for f in supplier["findings"]} == {"examengo"}


def test_a_scoped_saved_plan_applies_as_its_plan_said(example_repo: Path, tmp_path: Path) -> None:
    """A plan of one school that exits 2 (changes, no policy errors) is applied; errors at
    another school stop only the plans and applies that write there."""
    _break_policy_at_27nh(example_repo)
    out = tmp_path / "21rc.plan"
    planned = run_cli(
        "plan", "--repo", str(example_repo), "--school", "21RC", "--detailed-exitcode", "--out", str(out)
    )
    assert planned.exit_code == 2, planned.err
    applied = run_cli("apply", "--repo", str(example_repo), str(out))
    assert applied.exit_code in (0, 1), applied.err
    assert "refusing to apply" not in applied.err and "Apply:" in applied.out
    whole = tmp_path / "all.plan"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(whole)).exit_code == 0
    refused = run_cli("apply", "--repo", str(example_repo), str(whole))
    assert refused.exit_code == 3 and "refusing to apply: " in refused.err
