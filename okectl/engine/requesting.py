"""Suppliers whose support desk makes the changes, in the plan and in apply.

The planner marks each change for such a supplier (its adapter declares
``Capability.CHANGE_REQUESTS``): one an open change request already asks for is
``requested`` and moves to the plan's ``awaiting`` (shown with its age against the
supplier's SLA, never proposed again); any other is ``to-request``. Apply hands the
``to-request`` changes to :class:`ChangeRequests`, the carrier that writes one change
request per supplier and school of the run instead of calling the supplier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import TYPE_CHECKING

from okectl.errors import OkectlError
from okectl.plans.changes import REQUESTED, TO_REQUEST, Awaiting, Change, Mark, Plan
from okectl.plans.outcomes import Outcome

if TYPE_CHECKING:
    from okectl.config.models import Supplier
    from okectl.engine.workspace import Workspace
    from okectl.model.resources import Address
    from okectl.model.scope import Scope
    from okectl.requests.tracking import Pending
    from okectl.requests.writer import WrittenRequest


def by_requests(supplier: Supplier) -> bool:
    """Whether the supplier's changes are carried out by change requests to its desk."""
    from okectl.providers.base import Capability
    from okectl.providers.registry import capabilities

    return Capability.CHANGE_REQUESTS in capabilities(supplier)


def _to_request(supplier: Supplier) -> Mark:
    desk = f"{supplier.name}'s support desk" + (
        f" ({supplier.support.email})" if supplier.support.email else ""
    )
    return Mark(TO_REQUEST, f"to request from {desk}: apply writes a change request")


def requested_reason(pending: Pending) -> str:
    """What the ``requested`` mark says: when, as which request, and how long the desk took."""
    text = (
        f"requested on {pending.requested_on.isoformat()} as {pending.request}, awaiting confirmation, "
        f"age {pending.age_days} of SLA {pending.sla_days} days"
    )
    if pending.since != pending.requested_on:
        text += f" (reopened {pending.since.isoformat()})"
    if pending.standing == "overdue":
        text += ": overdue"
    elif pending.standing == "escalated":
        text += f": escalate, past {pending.escalate_after_days} days"
    return text


def mark_requests(plan: Plan, ws: Workspace, scope: Scope) -> None:
    """Mark the changes of suppliers managed by change requests: those an open request
    covers (same action and values) move to ``plan.awaiting``; the others are to request.
    A rejected or cancelled request covers nothing, so its changes are proposed again.
    An open request the plan no longer needs as asked is a warning."""
    state = ws.state
    desk = {
        sid
        for sid, supplier in state.suppliers.items()
        if (scope.suppliers is None or sid in scope.suppliers) and by_requests(supplier)
    }
    if not desk:
        return
    from okectl.requests.tracking import pending_requests

    pending = {
        a: p
        for a, p in pending_requests(ws.root, state, today=ws.clock.today()).items()
        if a.supplier in desk and (scope.schools is None or a.school in scope.schools)
    }
    proposed: list[Change] = []
    covered: set[str] = set()
    for change in plan.changes:
        sid = change.address.supplier
        if sid not in desk:
            proposed.append(change)
            continue
        asked = pending.get(change.address)
        if asked is not None and asked.covers(change):
            change.marks = (*change.marks, Mark(REQUESTED, requested_reason(asked)))
            plan.awaiting.append(
                Awaiting(
                    change,
                    asked.request,
                    asked.requested_on,
                    asked.since,
                    asked.age_days,
                    asked.sla_days,
                    asked.escalate_after_days,
                    asked.standing,
                )
            )
            covered.add(str(change.address))
            continue
        change.marks = (*change.marks, _to_request(state.suppliers[sid]))
        proposed.append(change)
    plan.changes = proposed
    plan.awaiting.sort(key=lambda a: (a.change.address.supplier, a.change.address.school, a.request))
    plan.warnings.extend(_not_needed(pending.values(), covered))


def _not_needed(pending: Collection[Pending], covered: Collection[str]) -> list[str]:
    """One line per open request asking for something this plan no longer proposes as
    asked: the configuration moved on, or the record has it already."""
    stale: dict[str, list[str]] = {}
    for p in pending:
        if str(p.address) not in covered:
            stale.setdefault(p.request, []).append(str(p.address))
    return [
        f"change request {rid} is open but asks for what the plan no longer proposes "
        f"({', '.join(sorted(addresses)[:3])}{', …' if len(addresses) > 3 else ''}): "
        f"cancel it (okectl requests cancel {rid}), or confirm it if the supplier carried it out"
        for rid, addresses in sorted(stale.items())
    ]


def requested_in_flight(
    ws: Workspace, items: Collection[tuple[Address, str]]
) -> dict[tuple[Address, str], str]:
    """For the changes of suppliers changed by their support desk that an interrupted
    apply left in flight: whether a change request asks for each now (the run may have
    written it before it stopped; the next apply writes what is missing)."""
    desk = {
        a.supplier
        for a, _ in items
        if (s := ws.state.suppliers.get(a.supplier)) is not None and by_requests(s)
    }
    if not desk:
        return {}
    from okectl.requests.store import list_requests

    asked: dict[tuple[str, str], str] = {}
    for sid in sorted(desk):
        for req in list_requests(ws.root, supplier=sid)[0]:
            for change in req.document.changes:
                asked[(change.address, change.action)] = f"{req.id} ({req.status.status})"
    out: dict[tuple[Address, str], str] = {}
    for address, action in items:
        if address.supplier in desk:
            found = asked.get((str(address), action))
            out[(address, action)] = (
                f"carried out as change request {found}"
                if found
                else "not carried out: no change request asks for it; the next apply writes one"
            )
    return out


class ChangeRequests:
    """Carries a supplier's changes out as change requests to its support desk
    (``requests/<supplier>/<id>/``), never by calling the supplier: one request per
    school of the run, written when the first of that school's changes comes up, with
    every change of that school the run carries. Writing the same changes again is the
    same request, so a rerun after an interruption completes it."""

    handles: frozenset[str] = frozenset({TO_REQUEST})

    def __init__(self, ws: Workspace, changes: Collection[Change]) -> None:
        self.ws = ws
        self.by_school: dict[str, list[Change]] = {}
        for change in changes:
            if all(m.kind in self.handles for m in change.marks):
                self.by_school.setdefault(change.address.school, []).append(change)
        self._written: dict[str, WrittenRequest | str] = {}
        self._lock = asyncio.Lock()

    def _write(self, school: str) -> WrittenRequest | str:
        from okectl.requests.writer import write_change_requests

        smtp = self.ws.settings.smtp
        try:
            [written] = write_change_requests(
                self.ws.root,
                self.ws.state,
                self.by_school[school],
                self.ws.desired,
                repository=self.ws.repository,
                sender=smtp.from_address if smtp is not None else None,
                resolve_secret=self.ws.resolve_secret,
                today=self.ws.clock.today(),
            )
        except OkectlError as exc:
            return str(exc)
        return written

    async def __call__(self, change: Change) -> Outcome:
        addr = change.address
        async with self._lock:
            if addr.school not in self._written:
                self._written[addr.school] = self._write(addr.school)
        written = self._written[addr.school]
        if isinstance(written, str):
            return Outcome(addr, change.action, "failed", f"the change request was not written: {written}")
        note = next((n for n in written.notes if n.startswith(f"{addr}: ")), None)
        message = f"in change request {written.id} ({written.request.rel}/)"
        return Outcome(
            addr,
            change.action,
            "requested",
            message + (f"; {note.removeprefix(f'{addr}: ')}" if note else ""),
            request=written.id,
        )

    async def aclose(self) -> None:
        return None
