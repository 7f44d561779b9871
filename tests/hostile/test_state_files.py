"""okectl's own state (the apply lock, the journals under .okectl/runs/) read as hostile
input: a link to a device, a FIFO or a huge file ends in one clear line, never a hang.
Such a file can arrive with the repository (`git add -f` commits a link)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from okectl.engine.apply import MAX_JOURNAL_BYTES, MAX_LOCK_BYTES
from tests.support.repos import EXAMPLE_TODAY, PROJECT

pytestmark = pytest.mark.timeout(120)
# Long enough for a real run on a busy machine; a read of /dev/zero or a FIFO never ends.
NO_HANG = 60


def okectl(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """okectl in a process of its own, so a hang is a timeout rather than a stuck suite."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT),
        "OKECTL_TODAY": EXAMPLE_TODAY,
    }
    return subprocess.run(
        [sys.executable, "-c", "from okectl.cli import run; run()", *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=NO_HANG,
        stdin=subprocess.DEVNULL,
    )


def _lock(repo: Path) -> Path:
    (repo / ".okectl").mkdir(exist_ok=True)
    return repo / ".okectl" / "apply.lock"


def _journal(repo: Path, name: str = "20261128T000000000000Z-0123456789ab.jsonl") -> Path:
    (repo / ".okectl" / "runs").mkdir(parents=True, exist_ok=True)
    return repo / ".okectl" / "runs" / name


def _huge(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        fh.truncate(size)  # sparse: large to read, nothing on disk


@pytest.mark.parametrize("kind", ["link to /dev/zero", "FIFO", "too large"])
def test_a_hostile_apply_lock_stops_apply_with_one_line(example_repo: Path, kind: str) -> None:
    lock = _lock(example_repo)
    if kind == "link to /dev/zero":
        lock.symlink_to("/dev/zero")
        why = "not a regular file"
    elif kind == "FIFO":
        os.mkfifo(lock)
        why = "not a regular file"
    else:
        _huge(lock, MAX_LOCK_BYTES + 1)
        why = f"larger than {MAX_LOCK_BYTES:,} bytes"
    done = okectl(example_repo, "apply", "--auto-approve")
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"{lock}: cannot read the apply lock: {why}; if no apply is running, remove it"
    ]
    assert not (example_repo / ".okectl" / "runs").exists(), "nothing was written"
    # Left as it was found: okectl removes only a lock it can show is stale.
    assert os.path.lexists(lock)


@pytest.mark.parametrize("kind", ["link to /dev/zero", "FIFO", "too large"])
def test_a_hostile_journal_is_skipped_with_one_note_and_plan_goes_on(example_repo: Path, kind: str) -> None:
    journal = _journal(example_repo)
    if kind == "link to /dev/zero":
        journal.symlink_to("/dev/zero")
    elif kind == "FIFO":
        os.mkfifo(journal)
    else:
        _huge(journal, MAX_JOURNAL_BYTES + 1)
    done = okectl(example_repo, "plan")
    assert done.returncode == 0, done.stderr
    why = "not a regular file" if kind != "too large" else f"larger than {MAX_JOURNAL_BYTES:,} bytes"
    assert done.stderr.splitlines() == [
        f"note: {journal}: cannot read the journal: {why}; skipped (okectl writes no such journal): remove it"
    ]
    assert "Plan: " in done.stdout


def test_journals_are_not_read_through_a_linked_runs_folder(example_repo: Path, tmp_path: Path) -> None:
    """A linked .okectl/runs holds nothing okectl wrote: what lies where it points (here a
    journal with a write left in flight) is not read, and plan says nothing of it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    intent = {"event": "intent", "address": "delta-toets/21RC/production", "action": "update", "etag": "e"}
    (elsewhere / "20261128T000000000000Z-0123456789ab.jsonl").write_text(json.dumps(intent) + "\n")
    (example_repo / ".okectl").mkdir()
    (example_repo / ".okectl" / "runs").symlink_to(elsewhere)
    done = okectl(example_repo, "plan")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "Plan: " in done.stdout
