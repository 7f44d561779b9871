"""The sources read as hostile files: what cannot be read is one clear error naming it,
what does not have the shape of an address or a version never becomes an incident's key."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.engine.apply import RUNS_DIR
from tests.support.cli import run_cli
from tests.support.forge import incidents
from tests.support.git import BASE_FILES


@pytest.fixture
def repo(build_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DELTA_11AA", "value-of-the-secret")
    return build_tree(BASE_FILES)


def test_a_fifo_among_the_journals_is_one_error_naming_it_and_never_blocks(repo: Path) -> None:
    runs = repo / RUNS_DIR
    runs.mkdir(parents=True)
    os.mkfifo(runs / "20261128T000000Z-abc.jsonl")

    result = run_cli("incidents", "--repo", str(repo))

    assert result.exit_code == 1 and result.out == ""
    assert (
        result.err == f"{runs}/20261128T000000Z-abc.jsonl: cannot read an apply journal: not a regular file\n"
    )


def test_a_link_among_the_journals_is_refused(repo: Path, tmp_path: Path) -> None:
    runs = repo / RUNS_DIR
    runs.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text(
        json.dumps(
            {
                "event": "call",
                "address": "delta/11AA/production",
                "action": "create",
                "outcome": "failed",
                "message": "read from outside",
            }
        )
        + "\n"
    )
    (runs / "1.jsonl").symlink_to(elsewhere)

    result = run_cli("incidents", "--repo", str(repo))

    assert (
        result.exit_code == 1
        and result.err == f"{runs}/1.jsonl: cannot read an apply journal: it is a link\n"
    )


def test_journal_lines_that_name_no_address_or_another_supplier_are_no_incident(repo: Path) -> None:
    runs = repo / RUNS_DIR
    runs.mkdir(parents=True)
    lines = [
        {
            "event": "call",
            "address": "delta/11AA/production\n# forged",
            "action": "create",
            "outcome": "failed",
        },
        {"event": "call", "address": "delta/11AA/../x", "action": "create", "outcome": "failed"},
        {"event": "call", "address": "gone/11AA/production", "action": "create", "outcome": "failed"},
        {"event": "call", "address": "delta/11AA/production", "action": "drop", "outcome": "failed"},
        ["not", "a", "record"],
    ]
    (runs / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"event": "ca')

    assert incidents(repo) == {}


FAILING = {"date": "2026-11-27", "level": 2, "passed_level": 1, "status": "fail"}


@pytest.mark.parametrize(
    ("version", "entry", "field"),
    [
        (
            "1.0",
            {"environments": ["planwijs/11AA/production"], "drift": {"planwijs/11AA/production": "9"}},
            "planwijs/11AA/production",
        ),
        ("1.0 <b>", {"environments": ["delta/11AA/production"]}, "1.0 <b>"),
    ],
    ids=["another-suppliers-environment", "not-a-version"],
)
def test_a_record_naming_another_suppliers_environment_or_no_version_is_refused_not_an_incident(
    repo: Path, version: str, entry: dict[str, object], field: str
) -> None:
    path = repo / "verification" / "delta.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"oke_versions": {version: {**FAILING, **entry}}}))

    result = run_cli("incidents", "--repo", str(repo))

    assert result.exit_code == 1 and result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("verification/delta.json: ") and field in lines[0]


def test_a_plan_that_is_not_one_is_one_error(repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"created_at": "yesterday", "scope": {}, "changes": []}))

    result = run_cli("incidents", "--repo", str(repo), "--plan", str(bad))

    assert result.exit_code == 1
    assert result.err == f"{bad}: not an okectl plan (created_at is not a time with its offset)\n"
