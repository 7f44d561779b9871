"""The fleet generator (``tools/fleet.py``), which benchmarks measure okectl on: the
repositories it writes are valid, the same seed writes the same files, and it writes only
into a new or empty folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import SUMMARY, CliResult, clean_failure, run_main
from tools.fleet import generate_fleet, main


def run_fleet(*args: str) -> CliResult:
    """``python -m tools.fleet ARGS``, in-process."""
    return run_main(main, *args)


@pytest.mark.parametrize(
    ("schools", "suppliers", "seed"), [(1, 4, 0), (12, 8, 3), (60, 20, 42)], ids=["tiny", "small", "medium"]
)
def test_generated_fleets_validate(
    tmp_path: Path, cli: Callable[..., Any], schools: int, suppliers: int, seed: int
) -> None:
    stats = generate_fleet(tmp_path, schools=schools, suppliers=suppliers, seed=seed)
    result = cli("validate", "--repo", str(tmp_path))
    assert (result.exit_code, result.err) == (0, "")
    found = SUMMARY.fullmatch(result.out.strip())
    assert found is not None
    assert (int(found[1]), int(found[2])) == (stats.schools, stats.suppliers) == (schools, suppliers)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fleet_generator_is_deterministic(tmp_path: Path) -> None:
    generate_fleet(tmp_path / "a", schools=30, suppliers=10, seed=5)
    generate_fleet(tmp_path / "b", schools=30, suppliers=10, seed=5)
    generate_fleet(tmp_path / "c", schools=30, suppliers=10, seed=6)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")


def test_fleet_command_writes_a_valid_repository(tmp_path: Path, cli: Callable[..., Any]) -> None:
    out = tmp_path / "fleet"
    made = run_fleet("--out", str(out), "--schools", "5", "--suppliers", "6", "--seed", "2")
    assert made.exit_code == 0
    assert made.out == f"wrote 17 files to {out}: 5 schools, 6 suppliers\n"
    assert cli("validate", "--repo", str(out)).exit_code == 0


def test_fleet_out_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    lines = clean_failure(run_fleet("--out", str(out), "--schools", "2", "--suppliers", "4"))
    assert lines == [f"{out}: is not empty; fleet writes a new repository into a new or empty folder"]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    (out / "notes.txt").unlink()
    assert run_fleet("--out", str(out), "--schools", "2", "--suppliers", "4").exit_code == 0
    assert (out / "okectl.yaml").is_file()
