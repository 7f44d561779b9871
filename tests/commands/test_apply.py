"""apply as a function: called with a workspace, it returns a typed result; no command
line, no click, no terminal. The sandbox supplier runs as a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from okectl.commands.apply import Applied, apply
from okectl.commands.plan import plan
from okectl.engine.apply import Journal, apply_changes
from okectl.engine.workspace import load_workspace
from okectl.plans.changes import Mark
from okectl.plans.outcomes import Outcome
from okectl.plans.run import PlanRun
from tests.support.repos import PROJECT

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def sandbox(example_sandbox: str) -> str:
    return example_sandbox


@pytest.fixture
def secrets(example_secrets: dict[str, str]) -> dict[str, str]:
    return example_secrets


# The whole round trip in a fresh interpreter: plan --out, then apply FILE, as functions.
ROUND_TRIP = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from okectl.commands.apply import apply
    from okectl.commands.plan import plan
    from okectl.engine.workspace import load_workspace

    repo, saved = Path(sys.argv[1]), Path(sys.argv[2])
    planned = plan(load_workspace(repo), out=saved)
    applied = apply(load_workspace(repo), plan_file=saved)
    again = apply(load_workspace(repo), plan_file=saved)
    print(json.dumps({
        "planned": len(planned.run.plan.changes),
        "to_request": planned.run.plan.to_request,
        "status": applied.status,
        "counts": applied.result.counts(),
        "again": again.status,
        "click": "click" in sys.modules,
    }))
    """
)


@pytest.mark.usefixtures("sandbox")
def test_a_saved_plan_is_applied_by_calling_the_function_without_click(
    example_repo: Path, secrets: dict[str, str], tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(example_repo), str(tmp_path / "plan.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "the commands print nothing"
    got = json.loads(done.stdout)
    assert got["planned"] > got["to_request"] > 0
    assert got["status"] == "applied"
    # Written to the suppliers with an API; the others' changes requested from their desks.
    assert got["counts"] == {
        "applied": got["planned"] - got["to_request"],
        "requested": got["to_request"],
        "failed": 0,
        "unknown": 0,
        "refused": 0,
        "not-attempted": 0,
    }
    assert got["again"] == "already applied"
    assert got["click"] is False


class Watching:
    """An apply view that records what apply tells it, and approves."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.shown: list[PlanRun] = []
        self.total: int | None = None
        self.outcomes: list[Outcome] = []

    def note(self, line: str) -> None:
        self.notes.append(line)

    def planned(self, run: PlanRun) -> None:
        self.shown.append(run)

    def confirm(self, run: PlanRun) -> bool:
        return True

    def start(self, total: int) -> None:
        self.total = total

    def written(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


@pytest.mark.usefixtures("sandbox")
def test_a_fresh_plan_is_shown_confirmed_and_applied_through_the_view(
    example_repo: Path, secrets: dict[str, str]
) -> None:
    view = Watching()
    applied = apply(load_workspace(example_repo), view=view)
    assert isinstance(applied, Applied) and applied.status == "applied" and applied.ok
    [shown] = view.shown
    assert view.total == len(shown.plan.changes) == len(view.outcomes)
    asked = {c.address for c in shown.plan.changes if c.marks}
    assert asked and {o.address for o in view.outcomes if o.status == "requested"} == asked
    assert {o.status for o in view.outcomes if o.address not in asked} == {"applied"}
    # Nothing left to do: what was requested awaits the support desks.
    after = plan(load_workspace(example_repo)).run.plan
    assert after.changes == [] and {a.change.address for a in after.awaiting} == asked


@pytest.mark.usefixtures("sandbox")
def test_after_a_stop_every_write_not_started_says_the_run_was_stopped(
    example_repo: Path, secrets: dict[str, str]
) -> None:
    """Also a client or role whose new environment was not made: it was not attempted
    because of the stop, not because that environment failed."""
    view = Watching()
    applied = apply(load_workspace(example_repo), view=view, stopped=lambda: "SIGTERM")
    assert applied.result is not None and applied.result.stopped_by == "SIGTERM"
    outcomes = applied.result.outcomes
    assert any(o.action == "create" and o.address.kind != "environment" for o in outcomes)
    assert {(o.status, o.message) for o in outcomes} == {("not-attempted", "the run was stopped (SIGTERM)")}


@pytest.mark.usefixtures("sandbox")
def test_a_change_marked_for_another_way_of_carrying_out_is_never_written(
    example_repo: Path, secrets: dict[str, str]
) -> None:
    """A mark the supplier's carrier does not handle (a change request, a freeze) keeps the
    change from being written through the admin API; the rest of the plan is applied."""
    ws = load_workspace(example_repo)
    changes = plan(ws).run.plan.changes
    marked = next(c for c in changes if c.action == "update" and c.address.kind == "environment")
    marked.marks = (Mark("requested", "sent to the supplier's support desk"),)
    journal = Journal(ws, plan_checksum="sha256:" + "0" * 64)
    result = asyncio.run(apply_changes(ws, changes, journal=journal))
    journal.close(result)
    [outcome] = [o for o in result.outcomes if o.address == marked.address]
    assert (outcome.status, outcome.message) == (
        "not-attempted",
        "marked requested (sent to the supplier's support desk); "
        "this apply does not carry out requested changes",
    )
    assert {o.status for o in result.outcomes if o.address != marked.address} == {"applied", "requested"}
    [left] = plan(load_workspace(example_repo)).run.plan.changes
    assert left.address == marked.address
