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
    (standard error); then what became of the change requests' e-mail."""
    return _with_requests(applied, _outcome(applied))


def _outcome(applied: Applied) -> Rendered:
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
    out = [result.summary(), f"Journal: {terminal(result.journal)}"]
    if result.requests:
        out.append(
            f"Change requests ({len(result.requests)}): "
            + ", ".join(terminal(r) for r in result.requests)
            + " under requests/ (request.md, request.json, request.eml); commit them"
        )
    return Rendered(lines(out), lines(err))


def _with_requests(applied: Applied, rendered: Rendered) -> Rendered:
    """What became of the change requests' e-mail: sent (--send), not sent, or why not."""
    out: list[str] = []
    err: list[str] = []
    for sent in applied.sent or ():
        out.append(f"Sent {terminal(sent.request)} to {terminal(', '.join(sent.recipients) or 'nobody')}")
    if applied.send_failed is not None:
        err.append(f"not sent: {terminal(applied.send_failed)}")
    if applied.unsent:
        ids = " ".join(terminal(r) for r in applied.unsent)
        (err if applied.send_failed else out).append(
            f"Not sent: {ids}; send with okectl requests send ID… (or okectl apply --send), "
            "or hand request.md to the supplier's portal"
        )
    return Rendered(rendered.out + lines(out), rendered.err + lines(err))
