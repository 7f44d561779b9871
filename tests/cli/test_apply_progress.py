"""Apply reports each write as it completes: one line per write when not on a terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from okectl.views.progress import apply_progress, outcome_line
from tests.support.cli import run_cli


@pytest.mark.usefixtures("example_secrets")
def test_apply_off_a_terminal_prints_a_line_per_write_in_the_order_they_complete(example_repo: Path) -> None:
    doc = json.loads(run_cli("plan", "--repo", str(example_repo), "-o", "json").out)
    result = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert result.exit_code == 0, result.err
    assert "\x1b[" not in result.out
    lines = result.out.splitlines()
    summary = lines.index(next(line for line in lines if line.startswith("Apply: ")))
    written = lines[summary - len(doc["changes"]) : summary]
    verbs = {"create": "created", "update": "updated", "delete": "deleted"}

    def line(change: dict[str, str]) -> str:
        # A supplier changed by its support desk: the change is requested, not written.
        if change.get("marks"):
            return f"{change['address']}: {change['action']} requested: in change request"
        return f"{change['address']}: {verbs[change['action']]}"

    # A requested change's line goes on to name its request: compared up to there.
    request = " in change request"
    shown = [w.split(request + " ")[0] + request if " requested: " in w else w for w in written]
    assert sorted(shown) == sorted(line(c) for c in doc["changes"])
    # Environments are made before what lives in them, and deleted after.
    assert written.index("delta-toets/23KM/chain-test: deleted") > written.index(
        "delta-toets/23KM/chain-test/role/assessor: deleted"
    )


def test_a_write_that_did_not_happen_says_why_in_its_line() -> None:
    failed = SimpleNamespace(address="a/b/c", action="update", status="failed", message="HTTP 500")
    refused = SimpleNamespace(address="a/b/c/role/x", action="delete", status="refused", message="")
    assert outcome_line(failed) == "a/b/c: update failed: HTTP 500"
    assert outcome_line(refused) == "a/b/c/role/x: delete refused"
    out = io.StringIO()
    with apply_progress(terminal=False, stream=out) as hear:
        hear.start(2)
        hear(failed)
        hear(SimpleNamespace(address="a/b/d", action="create", status="applied", message=""))
    assert out.getvalue() == "a/b/c: update failed: HTTP 500\na/b/d: created\n"
