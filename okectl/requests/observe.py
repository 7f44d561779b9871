"""Confirming and reopening change requests by observation: whatever okectl can see of a
supplier decides on its own, and the evidence is kept with the request.

Two sources observe: a supplier's export (``okectl import --from``, :mod:`okectl.requests.
exports`), which lists everything the supplier has for a school, and ``okectl verify
--record``, which sees what an environment's OKE endpoint says (its OKE version on
``GET /``). Both are judged here, alike:

- an open request whose every change the source shows as asked is **confirmed**; one
  the source shows only in part (a field it cannot see, a secret to exchange) with
  nothing contradicting it is **observed**: the evidence is kept, the request stays open
  for a person to confirm;
- a confirmed request the source contradicts (on a field no later confirmed request set)
  is **reopened**, and awaits confirmation again.

What a supplier's endpoint says is hostile input: only values of the shape asked for
count (an OKE version is a version), and an endpoint that did not answer says nothing
(an outage never reopens a request).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

from okectl.config.record import Provenance, RecordedState, load_record, write_record
from okectl.config.repository import DesiredState
from okectl.config.request_files import Event, RequestedChange, RequestStatus
from okectl.errors import ValidationFailed
from okectl.model.resources import Address, normalise
from okectl.requests.recorded import confirmed_by
from okectl.requests.store import StoredRequest, list_requests, write_evidence, write_status

Outcome = Literal["confirms", "observed", "reopens"]
# The event each outcome records in the request's history.
EVENTS: dict[Outcome, Literal["confirmed", "observed", "reopened"]] = {
    "confirms": "confirmed",
    "observed": "observed",
    "reopens": "reopened",
}
CONFIRM_IT = "confirm it with okectl requests confirm"
# ASCII digits only: a Unicode digit ("١.٠") matches \d, and would be recorded as a version.
_VERSION = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){1,2}")


def shaped_version(claim: str | None) -> str | None:
    """The OKE version an endpoint names, when it is one (1.0, 1.0.1); None for anything
    else, whatever its size or characters: nothing else of the claim is kept."""
    return claim if claim is not None and _VERSION.fullmatch(claim) else None


@dataclass(frozen=True)
class Observation:
    request: str
    outcome: Outcome
    detail: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Seen:
    """What a source saw of one requested change's resource."""

    # Where it differs from what the change asked for: {address, field, expected, found}.
    mismatches: list[dict[str, Any]]
    # Whether it saw everything the change asks (so no mismatch confirms it).
    complete: bool
    # What it saw, for the evidence.
    found: Any


class Source(Protocol):
    """An observation of a supplier: what it shows of each requested change."""

    @property
    def label(self) -> str:
        """How messages name it ("export.csv", "okectl verify")."""

    @property
    def header(self) -> dict[str, Any]:
        """Said in every evidence file it leaves (its kind, file or level, digest, day)."""

    def seen(self, request: StoredRequest, change: RequestedChange) -> Seen | None:
        """What it shows of the change's resource; None when it says nothing of it."""


def flat(spec: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """A resource's fields as dotted paths (sso.mode), lists normalised."""
    out: dict[str, Any] = {}
    for key, value in (spec or {}).items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = normalise(value)
    return out


def _text(value: Any) -> str:
    if value is None:
        return "absent"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def confirmed_on(status: RequestStatus) -> date:
    dates = [e.date for e in status.history if e.event == "confirmed"]
    return dates[-1] if dates else status.requested_on


def _latest(
    requests: Iterable[StoredRequest], recorded: Mapping[str, str | None]
) -> dict[tuple[str, str], str]:
    """(address, field) → the confirmed request that set it last: a confirmed request is
    contradicted only in the fields no later confirmed request changed. The record says
    which request its value of each resource comes from (``recorded``: address → request);
    where it names none, the confirmation dates decide."""
    latest: dict[tuple[str, str], str] = {}
    confirmed = [r for r in requests if r.status.status == "confirmed"]
    ids = {r.id for r in confirmed}
    for req in sorted(confirmed, key=lambda r: (confirmed_on(r.status), r.status.requested_on, r.id)):
        for change in req.document.changes:
            by = recorded.get(change.address)
            for path in flat(change.after) or {"": None}:
                latest[(change.address, path)] = by if by in ids else req.id
    return latest


def observe(
    requests: Sequence[StoredRequest], source: Source, recorded: Mapping[str, str | None]
) -> list[tuple[StoredRequest, Observation]]:
    """Which open requests the source confirms (or observes in part), and which confirmed
    ones it contradicts. ``recorded``: per address, the request the record's value comes
    from (``recorded.confirmed_by``)."""
    out: list[tuple[StoredRequest, Observation]] = []
    latest = _latest(requests, recorded)
    # What an open request asks for anew is not held against an older confirmed one: the
    # open request is what the supplier is working on.
    asked = {c.address for r in requests if r.status.status == "open" for c in r.document.changes}
    for req in requests:
        if req.status.status not in ("open", "confirmed"):
            continue
        seen = {c.address: s for c in req.document.changes if (s := source.seen(req, c)) is not None}
        if not seen:
            continue
        if req.status.status == "open":
            if any(s.mismatches for s in seen.values()):
                continue  # not carried out (yet): nothing to record
            out.append((req, _shows(req, source, seen)))
            continue
        contradicted = [
            m
            for address, s in seen.items()
            if address not in asked
            for m in s.mismatches
            if latest.get((address, m.get("field", ""))) == req.id
            or (m.get("field") is None and any(k[0] == address and v == req.id for k, v in latest.items()))
        ]
        if contradicted:
            evidence = {
                **source.header,
                "request": req.id,
                "outcome": "reopens",
                "contradicted": contradicted,
            }
            first = contradicted[0]
            what = f"{first['address']}" + (f" {first['field']}" if "field" in first else "")
            detail = (
                f"{source.label} contradicts it: {what} is {_text(first['found'])}, "
                f"requested {_text(first['expected'])}"
            )
            out.append((req, Observation(req.id, "reopens", detail, evidence)))
    return out


def _shows(req: StoredRequest, source: Source, seen: Mapping[str, Seen]) -> Observation:
    """An open request nothing contradicts: confirmed when every change was seen whole,
    observed (kept open for a person) otherwise."""
    changes = req.document.changes
    unseen = [c.address for c in changes if c.address not in seen or not seen[c.address].complete]
    secret = any(c.secret for c in changes)
    outcome: Outcome = "observed" if unseen or secret else "confirms"
    evidence = {
        **source.header,
        "request": req.id,
        "outcome": outcome,
        "changes": [
            {
                "address": c.address,
                "action": c.action,
                "found": seen[c.address].found if c.address in seen else None,
            }
            for c in changes
        ],
    }
    if unseen:
        evidence["not_seen"] = unseen
    if not unseen:
        detail = f"every change shows in {source.label}"
        if secret:
            detail += f"; the secret exchange cannot show in {source.label}: {CONFIRM_IT}"
    else:
        detail = (
            f"{source.label} shows {len(changes) - len(unseen)} of its {len(changes)} change(s) as asked and "
            f"contradicts none; it cannot show {', '.join(unseen[:3])}{', …' if len(unseen) > 3 else ''}"
            + (" nor the secret exchange" if secret else "")
            + f": {CONFIRM_IT}"
        )
    return Observation(req.id, outcome, detail, evidence)


def evidence_name(kind: str, digest: str, day: date) -> str:
    return f"{day.isoformat()}-{kind}-{digest[:12]}.json"


def record_observation(root: Path, req: StoredRequest, obs: Observation, name: str, day: date) -> bool:
    """Keep the evidence in the request's folder and record the outcome in its history
    (``status.yaml``, written last). False when it is no news: the same facts (the same
    evidence name but for its day) were recorded, and nothing but other observations and
    sending happened to the request since."""
    stem = name.split("-", 3)[-1]  # the kind and digest, without the day
    history = req.status.history
    same = [i for i, e in enumerate(history) if e.evidence and e.evidence.endswith(stem)]
    if same and all(e.event in ("observed", "sent") for e in history[same[-1] + 1 :]):
        return False
    evidence = write_evidence(root, req.status, name, obs.evidence)
    update: dict[str, Any] = {}
    if obs.outcome == "confirms":
        update["status"] = "confirmed"
    elif obs.outcome == "reopens":
        update["status"] = "open"
    entry = Event(date=day, event=EVENTS[obs.outcome], detail=obs.detail[:2000], evidence=evidence)
    write_status(root, req.status.model_copy(update={**update, "history": [*req.status.history, entry]}))
    return True


# --- okectl verify as a source ------------------------------------------------------------


@dataclass(frozen=True)
class EndpointSeen:
    """What ``okectl verify`` saw of one environment's OKE endpoint (``verify.model.
    Observed``, as plain data): whether it answered, and the version its ``GET /`` names."""

    address: str
    base_url: str | None
    answered: bool | None
    oke_version: str | None


@dataclass
class VerifySource:
    """``okectl verify``: an environment's OKE endpoint. It sees an environment exist (its
    endpoint answers) and the OKE version its ``GET /`` names, nothing else of it, and
    nothing of clients or roles."""

    endpoints: dict[str, EndpointSeen]
    header: dict[str, Any]
    label: str = "okectl verify"

    def seen(self, request: StoredRequest, change: RequestedChange) -> Seen | None:
        if change.kind != "environment" or change.action == "delete":
            return None  # an endpoint that does not answer proves nothing gone
        endpoint = self.endpoints.get(change.address)
        if endpoint is None or endpoint.answered is not True:
            return None
        served = shaped_version(endpoint.oke_version)
        wanted = (change.after or {}).get("oke_version")
        found = {"base_url": endpoint.base_url, "oke_version": served}
        if served is None or wanted is None:
            return None
        mismatches = (
            []
            if served == wanted
            else [{"address": change.address, "field": "oke_version", "expected": wanted, "found": served}]
        )
        # Whole only when the OKE version is all the change asks: an update of it alone.
        complete = change.action == "update" and {f.path for f in change.fields} == {"oke_version"}
        return Seen(mismatches, complete, found)


@dataclass
class Observed:
    """What observing did: each request confirmed, observed or reopened, and the records
    written."""

    observations: list[Observation] = field(default_factory=list)
    records: list[str] = field(default_factory=list)


def observe_endpoints(
    root: Path,
    state: DesiredState,
    endpoints: Iterable[EndpointSeen],
    *,
    level: int,
    day: date,
) -> Observed:
    """Confirm and reopen the change requests of suppliers managed by change requests by
    what ``okectl verify`` saw of their environments' endpoints (``verify --record``).

    Confirming moves the request's values into the record, as a person's confirmation
    does; reopening records the OKE version the endpoint serves, so the next plan shows
    the requested change awaiting confirmation again. Records are written before any
    request's status: a rerun after an interruption observes the same and completes it."""
    from okectl.requests.tracking import apply_request

    by_supplier: dict[str, dict[str, EndpointSeen]] = {}
    for e in endpoints:
        sid = e.address.split("/", 1)[0]
        supplier = state.suppliers.get(sid)
        if supplier is not None and supplier.api is not None and supplier.api.provider == "requests":
            by_supplier.setdefault(sid, {})[e.address] = e
    result = Observed()
    for sid, seen in sorted(by_supplier.items()):
        requests, problems = list_requests(root, supplier=sid)
        if problems:
            raise ValidationFailed(problems)
        # Only a claim of the shape asked for reaches the evidence (and its digest).
        facts = {
            a: {"base_url": e.base_url, "oke_version": shaped_version(e.oke_version)}
            for a, e in sorted(seen.items())
        }
        header = {"kind": "verify", "level": level, "observed_on": day.isoformat(), "endpoints": facts}
        # The day is left out of the digest: the same facts seen again are not news.
        digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode("utf-8")).hexdigest()
        current = {
            school: _record(root, sid, school) for school in sorted({r.status.school for r in requests})
        }
        by = {a: r for record in current.values() for a, r in confirmed_by(record).items()}
        found = observe(requests, VerifySource(seen, header), by)
        records: dict[str, RecordedState] = {}
        name = evidence_name("verify", digest, day)
        for req, obs in found:
            school = req.status.school
            record = records.get(school) or current[school]
            if obs.outcome == "confirms":
                source = Provenance(date=day, request=req.id, observed=f"{req.rel}/evidence/{name}")
                records[school] = apply_request(record, req.document.changes, source, req.status)
            elif obs.outcome == "reopens":
                records[school] = _served(
                    record, obs.evidence["contradicted"], day, f"{req.rel}/evidence/{name}"
                )
        for school, record in sorted(records.items()):
            write_record(root, record)
            result.records.append(f"state/{sid}/{school}.yaml")
        for req, obs in found:
            if record_observation(root, req, obs, name, day):
                result.observations.append(obs)
    return result


def _record(root: Path, supplier: str, school: str) -> RecordedState:
    loaded = load_record(root, supplier, school)
    return loaded.record if loaded is not None else RecordedState(supplier=supplier, school=school)


def _served(
    record: RecordedState, contradicted: Sequence[Mapping[str, Any]], day: date, evidence: str
) -> RecordedState:
    """The record with the OKE versions the endpoints were seen to serve."""
    from okectl.requests.recorded import resources_of, with_resources

    current = resources_of(record)
    source = Provenance(date=day, observed=evidence)
    updates = []
    for m in contradicted:
        address = Address.parse(m["address"])
        if m.get("field") == "oke_version" and address in current:
            updates.append((address, {**current[address], "oke_version": m["found"]}))
    return with_resources(record, updates, source=source)
