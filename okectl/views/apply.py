"""`okectl apply`'s view: how an apply ended, and the question it asks first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.views.escape import terminal
from okectl.views.rendered import Rendered, lines

if TYPE_CHECKING:
    from okectl.commands.apply import Applied
    from okectl.plans.outcomes import Status

CONFIRM_PROMPT = "Apply these changes? Only 'yes' is accepted"
# The writes that did not happen, in the order they are listed after a run.
PROBLEMS: tuple[Status, ...] = ("failed", "unknown", "refused", "not-attempted")


def render_applied(applied: Applied) -> Rendered:
    """The summary (standard output), and each write that did not happen and why
    (standard error)."""
    if applied.status == "already applied":
        return Rendered(
            f"{terminal(applied.plan_file)}: the plan was applied already: every change it makes is done\n"
        )
    if applied.status == "nothing to apply":
        return Rendered("Nothing to apply.\n")
    if applied.status == "cancelled":
        return Rendered("Apply cancelled.\n")
    result = applied.result
    assert result is not None
    err = [
        f"{status}: {terminal(o.address)} ({o.action}): {terminal(o.message)}"
        for status in PROBLEMS
        for o in result.by_status(status)
    ]
    if result.stopped_by is not None:
        err.append(f"stopped by {result.stopped_by}: the writes under way finished, no others started")
    return Rendered(lines([result.summary(), f"Journal: {terminal(result.journal)}"]), lines(err))
