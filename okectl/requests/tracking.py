"""Where change requests stand: confirming, rejecting and cancelling them, and what is
pending for the planner and the ``request-age`` rule kind.

Confirming a request moves what it asked for into the recorded state. Two files change:
the record (``state/<supplier>/<school>.yaml``) first, then the request's ``status.yaml``.
Each is replaced whole, so an interruption between them leaves the request open with
the record already holding its values; confirming again rewrites the same record (nothing
changes) and closes the request. A rerun is therefore always safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from okectl.config.models import Support
from okectl.config.record import Provenance, RecordedState, load_record, write_record
from okectl.config.repository import DesiredState
from okectl.config.request_files import Event, RequestedChange, RequestStatus
from okectl.errors import OkectlError, ValidationFailed
from okectl.model import clock
from okectl.model.resources import WIRE_FIELDS, Address, normalise
from okectl.model.sla import Wait
from okectl.requests.recorded import with_resources
from okectl.requests.store import StoredRequest, find_request, list_requests, write_status

if TYPE_CHECKING:
    from okectl.plans.changes import Change

class RequestStateError(OkectlError):
    """A request cannot go where a command asks (confirming a rejected one, say)."""


@dataclass(frozen=True)
class Outcome:
    request: StoredRequest
    # False: the request already stood so; nothing was written.
    changed: bool
    record: str | None = None


def _event(current: RequestStatus, event: Event, **update: Any) -> RequestStatus:
    return current.model_copy(update={**update, "history": [*current.history, event]})


def confirm_request(
    root: Path, rid: str, *, ref: str, by: str | None = None, today: date | None = None
) -> Outcome:
    """Record the supplier's confirmation (its ticket ``ref``): the request's after-values
    become the recorded state, in one write of the school's record, then the request is
    closed as confirmed."""
    found = find_request(root, rid)
    status = found.status
    if status.status == "confirmed":
        if status.ticket == ref:
            return Outcome(found, changed=False)
        raise RequestStateError(f"{rid} is already confirmed (ticket {status.ticket}); nothing to confirm")
    if status.status != "open":
        raise RequestStateError(
            f"{rid} is {status.status}; only an open request can be confirmed "
            "(plan proposes its changes again, as a new request)"
        )
    day = today or clock.today()
    record = _record(root, status.supplier, status.school)
    source = Provenance(date=day, request=rid, ticket=ref, by=by)
    updated = apply_request(record, found.document.changes, source, status)
    path = write_record(root, updated)
    event = Event(date=day, event="confirmed", by=by, ref=ref)
    closed = _event(status, event, status="confirmed", ticket=ref)
    write_status(root, closed)
    return Outcome(
        StoredRequest(found.root, found.document, closed),
        changed=True,
        record=path.relative_to(root.resolve()).as_posix(),
    )


def apply_request(
    record: RecordedState, changes: Iterable[RequestedChange], source: Provenance, status: RequestStatus
) -> RecordedState:
    """The record with what a request asked for done."""
    secrets = {Address.parse(a): s for a, s in status.secrets.items()}
    return with_resources(
        record,
        [(Address.parse(c.address), c.after if c.action != "delete" else None) for c in changes],
        source=source,
        secrets=secrets,
    )


def _record(root: Path, supplier: str, school: str) -> RecordedState:
    loaded = load_record(root, supplier, school)
    return loaded.record if loaded is not None else RecordedState(supplier=supplier, school=school)


def reject_request(
    root: Path, rid: str, *, reason: str, by: str | None = None, today: date | None = None
) -> Outcome:
    """The supplier refused: the request is kept, with the reason; its changes are to do again."""
    return _close(root, rid, "rejected", by=by, today=today, detail=reason)


def cancel_request(root: Path, rid: str, *, by: str | None = None, today: date | None = None) -> Outcome:
    """Withdraw an open request (it was sent in error, or is overtaken)."""
    return _close(root, rid, "cancelled", by=by, today=today)


def _close(
    root: Path,
    rid: str,
    to: Literal["rejected", "cancelled"],
    *,
    by: str | None,
    today: date | None,
    detail: str | None = None,
) -> Outcome:
    """Close an open request without recording anything the supplier did; closing it
    again as it already stands changes nothing."""
    found = find_request(root, rid)
    status = found.status
    if status.status == to:
        return Outcome(found, changed=False)
    if status.status != "open":
        raise RequestStateError(f"{rid} is {status.status}; only an open request can be {to}")
    event = Event(date=today or clock.today(), event=to, by=by, detail=detail)
    closed = _event(status, event, status=to)
    write_status(root, closed)
    return Outcome(StoredRequest(found.root, found.document, closed), changed=True)


# --- what is pending ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pending(Wait):
    """One change an open request asked for, as the planner and the policy see it."""

    request: str
    address: Address
    action: str
    after: dict[str, Any] | None
    secret: str | None
    requested_on: date

    def covers(self, change: Change) -> bool:
        """Whether ``change`` is what was requested (the resource gone, or as asked): then
        it is shown as requested, not proposed again. A request to create a resource also
        covers an update to the same values (the supplier made it, not yet as asked, and a
        reopened request is still that ask). A change that differs needs a new request."""
        if (change.action == "delete") != (self.action == "delete"):
            return False
        if change.after is None or self.after is None:
            return change.after is None and self.after is None
        fields = WIRE_FIELDS[change.address.kind]
        want = {k: normalise(change.after.get(k)) for k in fields}
        asked = {k: normalise(self.after.get(k)) for k in fields}
        return want == asked


@dataclass(frozen=True)
class OpenRequest(Wait):
    request: StoredRequest


def open_requests(
    root: Path, state: DesiredState, *, supplier: str | None = None, today: date | None = None
) -> list[OpenRequest]:
    """Every open request with its age against its supplier's SLA (``support.sla_days`` and
    ``support.escalate_after_days``). ValidationFailed when a request folder is not readable."""
    found, problems = list_requests(root, supplier=supplier)
    if problems:
        raise ValidationFailed(problems)
    day = today or clock.today()
    out: list[OpenRequest] = []
    for req in found:
        if req.status.status != "open":
            continue
        supplier_model = state.suppliers.get(req.status.supplier)
        support = supplier_model.support if supplier_model is not None else Support()
        since = max(
            [req.status.requested_on]
            + [e.date for e in req.status.history if e.event in ("requested", "reopened")]
        )
        out.append(
            OpenRequest(
                request=req,
                since=since,
                age_days=max(0, (day - since).days),
                sla_days=support.sla_days,
                escalate_after_days=support.escalation_days,
            )
        )
    out.sort(key=lambda o: (o.request.status.supplier, o.request.status.school, o.since, o.request.id))
    return out


def pending_requests(
    root: Path, state: DesiredState, *, supplier: str | None = None, today: date | None = None
) -> dict[Address, Pending]:
    """What open requests asked for, by address (the newest request wins an address that
    two ask about): for the planner to show as requested instead of proposing again."""
    out: dict[Address, Pending] = {}
    for item in open_requests(root, state, supplier=supplier, today=today):
        status = item.request.status
        for change in item.request.document.changes:
            address = Address.parse(change.address)
            out[address] = Pending(
                request=status.id,
                address=address,
                action=change.action,
                after=change.after,
                secret=change.secret,
                requested_on=status.requested_on,
                since=item.since,
                age_days=item.age_days,
                sla_days=item.sla_days,
                escalate_after_days=item.escalate_after_days,
            )
    return out
