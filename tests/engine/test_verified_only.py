"""A supplier without an api block is verified only: plan and apply leave it alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.repos import BASE, delta_with, write_tree


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DELTA_SECRET", "s3cret-value-for-delta")
    files = dict(BASE)
    files["suppliers/delta.yaml"] = delta_with("")
    return write_tree(tmp_path / "repo", files)


def test_validate_accepts_a_supplier_without_an_api(repo: Path) -> None:
    result = run_cli("validate", "--repo", str(repo))
    assert result.exit_code == 0, result.err


def test_plan_says_the_supplier_is_verified_only_and_plans_nothing_for_it(repo: Path) -> None:
    result = run_cli("plan", "--repo", str(repo), "--output", "json")
    assert result.exit_code == 0, result.err
    doc = json.loads(result.out)
    assert [c["address"] for c in doc["changes"] if c["address"].startswith("delta/")] == []
    assert "supplier delta has no api: its 1 environment(s) are verified only, not planned" in doc["warnings"]


def test_import_from_a_supplier_without_an_api_is_one_line(repo: Path) -> None:
    result = run_cli("import", "--repo", str(repo), "--supplier", "delta")
    assert result.exit_code == 1
    assert result.err.strip().splitlines() == [
        "supplier delta has no api: it is verified only, and plan and apply leave it alone"
    ]
