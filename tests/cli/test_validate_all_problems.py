"""validate reports every problem in one run: schema problems and references together."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_reference_problems_are_reported_with_schema_problems(example_repo: Path) -> None:
    # A schema problem in one school, a reference problem in another.
    _edit(example_repo / "schools" / "21RC.yaml", "federation: surfconext", "federation: surfnet")
    _edit(example_repo / "schools" / "27NH.yaml", "  delta-toets:\n", "  delta-toetz:\n")
    result = run_cli("validate", "--repo", str(example_repo))
    assert result.exit_code == 1
    lines = result.err.splitlines()
    assert any(line.startswith("schools/21RC.yaml:4:") for line in lines), lines
    assert any(
        line.startswith("schools/27NH.yaml:") and "unknown supplier 'delta-toetz'" in line for line in lines
    ), lines


def test_a_file_that_does_not_load_is_not_also_reported_as_missing(example_repo: Path) -> None:
    # examengo.yaml breaks its schema; the schools connecting to it are not told it is unknown.
    _edit(example_repo / "suppliers" / "examengo.yaml", "flows: [0, 2, 3, 4]", "flows: seven")
    _edit(example_repo / "schools" / "27NH.yaml", "  delta-toets:\n", "  delta-toetz:\n")
    _edit(example_repo / "environments" / "minimal.yaml", "id: minimal", "id: minimal\nbogus: 1")
    result = run_cli("validate", "--repo", str(example_repo))
    assert result.exit_code == 1
    lines = result.err.splitlines()
    assert [line for line in lines if line.startswith("suppliers/examengo.yaml:")], lines
    assert [line for line in lines if line.startswith("environments/minimal.yaml:")], lines
    assert [line for line in lines if "unknown supplier 'delta-toetz'" in line], lines
    assert not [line for line in lines if "'examengo'" in line or "'minimal'" in line], lines
