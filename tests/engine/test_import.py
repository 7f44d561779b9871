"""okectl import: adopt what exists at a supplier, keeping the YAML as people wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli

# The seed's eduplan has a pilot environment at 21RC that was made by hand.
PILOT = '      pilot: {type: pilot, oke_version: "1.1", sso: optional}'


def test_import_without_write_shows_a_diff_and_writes_nothing(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    before = school.read_bytes()
    result = run_cli("import", "--repo", str(example_repo), "--supplier", "eduplan", "--school", "21RC")
    assert result.exit_code == 0, result.err
    assert f"+{PILOT}" in result.out
    assert "Would write 1 file(s)" in result.out
    assert school.read_bytes() == before


def test_import_write_keeps_comments_and_the_plan_then_adopts(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    original = school.read_text()
    assert "# a reference, never the secret itself" in original
    result = run_cli(
        "import", "--repo", str(example_repo), "--supplier", "eduplan", "--school", "21RC", "--write"
    )
    assert result.exit_code == 0, result.err
    edited = school.read_text()
    # Every line that was there is still there, comments and modeline included.
    assert [ln for ln in original.splitlines() if ln not in edited.splitlines()] == []
    assert PILOT in edited.splitlines()
    assert run_cli("validate", "--repo", str(example_repo)).exit_code == 0
    plan = json.loads(run_cli("plan", "--repo", str(example_repo), "--output", "json").out)
    adopted = [c for c in plan["changes"] if c["address"] == "eduplan/21RC/pilot"]
    assert [(c["action"], c["adopt"]) for c in adopted] == [("update", True)]
    assert "eduplan/21RC/pilot" not in {u["address"] for u in plan["unmanaged"]}


def test_import_from_an_unknown_supplier_is_one_clear_line(example_repo: Path) -> None:
    result = run_cli("import", "--repo", str(example_repo), "--supplier", "nope")
    assert result.exit_code == 1
    assert result.err.startswith("unknown supplier 'nope'; known: campusnet, delta-toets")
    assert "Traceback" not in result.err


def test_one_schools_problem_does_not_block_the_others_and_the_preview_shows_it(example_repo: Path) -> None:
    # The seed has a hand-made client of an unknown system at eduplan/25LV, and
    # hand-made environments at eduplan/21RC.
    school_21rc, school_25lv = (example_repo / "schools" / f"{c}.yaml" for c in ("21RC", "25LV"))
    before_21rc, before_25lv = school_21rc.read_text(), school_25lv.read_text()
    preview = run_cli("import", "--repo", str(example_repo), "--supplier", "eduplan")
    assert preview.exit_code == 1
    assert "blocked: schools/25LV.yaml: the import would not validate, so this file is left as it is:" in (
        preview.out
    )
    assert "  schools/25LV.yaml:13:60: unknown system 'legacy-sync'" in preview.out
    assert "Would write 1 file(s), importing 2 resource(s); 1 file(s) blocked (see above)." in preview.out
    assert school_21rc.read_text() == before_21rc

    written = run_cli("import", "--repo", str(example_repo), "--supplier", "eduplan", "--write")
    assert written.exit_code == 1
    assert "Wrote 1 file(s), imported 2 resource(s); 1 file(s) blocked (see above)." in written.out
    assert "      pilot: {type: pilot" in school_21rc.read_text()
    assert school_25lv.read_text() == before_25lv
    assert run_cli("validate", "--repo", str(example_repo)).exit_code == 0
