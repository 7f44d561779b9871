"""The write-ahead journal as the next run reads it, and the apply lock, on real files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from okectl.engine.apply import RUNS_DIR, ApplyLocked, apply_lock, in_flight
from okectl.model.resources import Address


def _journal(root: Path, name: str, records: list[dict[str, object]], tail: str = "") -> Path:
    runs = root / RUNS_DIR
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def test_writes_with_an_intent_and_no_outcome_are_in_flight(tmp_path: Path) -> None:
    a, b = "s/21RC/production", "s/21RC/acceptance/role/assessor"
    path = _journal(
        tmp_path,
        "20261130T000000Z-abc.jsonl",
        [
            {"event": "start"},
            {"event": "intent", "address": a, "action": "update", "etag": "e1"},
            {"event": "call", "address": a, "action": "update", "outcome": "applied"},
            {"event": "intent", "address": b, "action": "delete", "etag": "e2"},
        ],
        # The run was killed while writing its next line.
        tail='{"event": "inte',
    )
    [pending] = in_flight(tmp_path)
    assert (pending.journal, pending.address, pending.action, pending.etag) == (
        path,
        Address.parse(b),
        "delete",
        "e2",
    )


def test_a_run_already_looked_into_and_what_is_not_a_journal_are_skipped(tmp_path: Path) -> None:
    _journal(
        tmp_path,
        "1.jsonl",
        [{"event": "intent", "address": "s/x/y", "action": "create"}, {"event": "recovered"}],
    )
    os.mkfifo(tmp_path / RUNS_DIR / "2.jsonl")  # read, it would hang the run
    assert in_flight(tmp_path) == []


def test_the_apply_lock_names_its_holder_and_refuses_a_second_apply(tmp_path: Path) -> None:
    with apply_lock(tmp_path) as note:
        assert note is None
        holder = json.loads((tmp_path / ".okectl" / "apply.lock").read_text())
        assert holder["pid"] == os.getpid() and {"host", "started", "user"} <= set(holder)
        second = rf"another apply of this repository is running \(pid {os.getpid()} "
        with pytest.raises(ApplyLocked, match=second), apply_lock(tmp_path):
            pass
    assert not (tmp_path / ".okectl" / "apply.lock").exists()


def test_an_unreadable_apply_lock_is_not_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / ".okectl" / "apply.lock"
    lock.parent.mkdir()
    lock.write_text("{not json")
    unreadable = "cannot be read; if no apply is running, remove it"
    with pytest.raises(ApplyLocked, match=unreadable), apply_lock(tmp_path):
        pass
    assert lock.read_text() == "{not json"
