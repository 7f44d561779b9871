"""Where incidents come from: the verification record, the apply journals and the change
requests, read afresh on every run.

Each source says what fails now (an ``Incident``) and, for what it saw pass, that it
passes (a ``Recovery``). A check a source did not see is in neither: the nightly run has
no apply journal, so it neither opens nor resolves an incident of a write. Only positive
evidence resolves an incident.

Everything these files hold is read as hostile: the record and the journals are okectl's
own files, but anyone with write access to the folder can plant one, and the record holds
what an endpoint claimed. Values are checked against their patterns before they become a
key, and someone else's words are scrubbed of the run's secrets and cut to one short line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okectl.config.verification import RecordedRun, read_record
from okectl.engine.apply import RUNS_DIR
from okectl.errors import OkectlError, ValidationFailed
from okectl.files import read_regular
from okectl.incidents.model import Fact, Incident, PlanSeen, Recovery, plain, when
from okectl.model.redaction import scrub
from okectl.model.secrets import SecretRefused, read_secret

if TYPE_CHECKING:
    from okectl.config.models import Supplier
    from okectl.engine.validate import Validated
    from okectl.requests.store import StoredRequest
    from okectl.requests.tracking import OpenRequest

# A journal holds two short lines per write; far more is not one.
JOURNAL_LIMIT = 64 << 20
PLAN_LIMIT = 64 << 20
_NAME = r"[a-z0-9][a-z0-9-]{0,62}"
_ENVIRONMENT = re.compile(rf"{_NAME}/[0-9]{{2}}[A-Z]{{2}}/{_NAME}")
_RESOURCE = re.compile(rf"{_ENVIRONMENT.pattern}(/(client|role)/{_NAME})?")
_VERSION = re.compile(r"\d{1,3}\.\d{1,3}(\.\d{1,3})?")
_ACTIONS = ("create", "update", "delete")

Clean = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Found:
    incidents: list[Incident]
    recoveries: list[Recovery]


def _context(supplier: Supplier) -> dict[str, Any]:
    support = supplier.support
    contact = str(support.email) if support.email else (str(support.portal) if support.portal else None)
    return {"status_page": plain(support.url, 200) if support.url else None, "support": contact}


def run_secrets(validated: Validated) -> list[str]:
    """The values of every secret the repository references: no incident text may hold one,
    in any form a supplier may echo it in."""
    refs: set[str] = set()
    for supplier in validated.state.suppliers.values():
        if supplier.api is not None and supplier.api.auth is not None:
            refs.add(supplier.api.auth.client_secret.describe())
    for res in validated.resources:
        ref = res.spec.get("secret") if res.kind == "client" else None
        if isinstance(ref, str):
            refs.add(ref)
    smtp = validated.settings.smtp
    if smtp is not None and smtp.password is not None:
        refs.add(smtp.password.describe())
    values: list[str] = []
    for ref in sorted(refs):
        try:
            value = read_secret(ref, validated.settings.secret_roots)
        except SecretRefused:
            continue  # never read, so never sent: it cannot be echoed
        if value:
            values.append(value)
    return values


def cleaner(secrets: Iterable[str]) -> Clean:
    hidden = list(secrets)

    def clean(text: str) -> str:
        # Scrubbed before it is cut, so a secret cut in half cannot survive the cut.
        return plain(scrub(text, hidden))

    return clean


# --- the verification record --------------------------------------------------------------


def _declared(validated: Validated) -> dict[str, str]:
    """Environment address → the OKE version the configuration declares for it."""
    return {
        str(r.address): str(r.spec.get("oke_version")) for r in validated.resources if r.kind == "environment"
    }


def _drift_alone(run: RecordedRun) -> bool:
    # The record keeps the lowest level every environment passed, not which check failed.
    # Version drift fails level 2; when nothing below it failed, the drift incidents of
    # the environments say all the record knows, and a second incident would repeat them.
    return bool(run.drift) and run.status == "fail" and run.passed_level >= 1


def from_verification(validated: Validated, clean: Clean) -> Found:
    """Per environment: the version its ``GET /`` names, when another than declared
    (``verify.version``). Per supplier and OKE version: a verify that did not pass the
    level asked (``verify.level@<version>``), supplier-wide since the record does not
    say which environment failed; it names the environments verified."""
    incidents: list[Incident] = []
    recoveries: list[Recovery] = []
    declared = _declared(validated)
    for sid, supplier in sorted(validated.state.suppliers.items()):
        runs = {v: r for v, r in read_record(validated.state.root, sid).items() if _VERSION.fullmatch(v)}
        if not runs:
            continue
        ctx = _context(supplier)
        newest: dict[str, tuple[str, RecordedRun]] = {}
        for version, run in sorted(runs.items()):
            for env in run.environments:
                if not (_ENVIRONMENT.fullmatch(env) and env.startswith(sid + "/")):
                    continue
                if env not in newest or run.date > newest[env][1].date:
                    newest[env] = (version, run)
        for env, (version, run) in sorted(newest.items()):
            seen = f"{run.date.isoformat()} (okectl verify --level {run.level})"
            if env not in declared:
                recoveries.append(
                    Recovery(
                        sid, env, "verify.version", "verify", f"{env} is no longer in the configuration", seen
                    )
                )
            elif env in run.drift:
                incidents.append(
                    Incident(
                        supplier=sid,
                        subject=env,
                        check="verify.version",
                        source="verify",
                        title=f"{env} serves another OKE version than declared",
                        facts=(
                            Fact("declared", f"OKE {version}"),
                            Fact("its GET / names", clean(str(run.drift[env])), quoted=True),
                        ),
                        seen=seen,
                        advice=(
                            "Ask the supplier which OKE version this environment serves; then correct the "
                            f"configuration, or have the supplier correct the environment. `okectl verify "
                            f"--environment {env.rsplit('/', 1)[1]} --level 2 --record` checks again."
                        ),
                        **ctx,
                    )
                )
            elif run.level >= 2 and run.passed_level >= 2:
                recoveries.append(
                    Recovery(
                        sid,
                        env,
                        "verify.version",
                        "verify",
                        f"GET / of {env} names OKE {version}, as declared",
                        seen,
                    )
                )
        for version, run in sorted(runs.items()):
            check = f"verify.level@{version}"
            seen = f"{run.date.isoformat()} (okectl verify --level {run.level})"
            still = tuple(
                e for e in run.environments if e.startswith(sid + "/") and declared.get(e) == version
            )
            passed = None
            if not still:
                passed = f"no environment of {sid} is declared at OKE {version} any more"
            elif run.status == "pass" and run.passed_level >= run.level:
                passed = f"okectl verify --level {run.level} passed for OKE {version} ({', '.join(still)})"
            if passed is not None:
                recoveries.append(Recovery(sid, sid, check, "verify", passed, seen))
            elif not _drift_alone(run):
                status = plain(run.status, 20)
                failed = "could not complete" if status == "error" else "fails"
                incidents.append(
                    Incident(
                        supplier=sid,
                        subject=sid,
                        check=check,
                        source="verify",
                        title=f"{sid}: okectl verify {failed} for OKE {version}",
                        facts=(
                            Fact("OKE version", version),
                            Fact("level asked", str(run.level)),
                            Fact(
                                "passed up to level",
                                str(run.passed_level) if run.passed_level >= 0 else "none",
                            ),
                            Fact("status", status),
                            Fact("environments", ", ".join(still)),
                        ),
                        seen=seen,
                        environments=still,
                        advice=(
                            f"`okectl verify --supplier {sid} --level {run.level}` names each failing check, "
                            "its request and what the profile requires."
                        ),
                        **ctx,
                    )
                )
    return Found(incidents, recoveries)


# --- the apply journals -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Write:
    outcome: str  # applied | requested | failed | unknown | in-flight | read-back
    action: str
    message: str
    time: str
    journal: str


def _string(record: dict[str, Any], name: str, limit: int = 64) -> str:
    value = record.get(name)
    return plain(value, limit) if isinstance(value, str) else ""


def _journal_writes(root: Path) -> dict[str, _Write]:
    """The last word of the journals on each address, oldest journal first (their names
    start with the time the run started)."""
    runs = root / RUNS_DIR
    if runs.is_symlink() or runs.parent.is_symlink():
        raise OkectlError(f"{runs}: cannot read the apply journals: a link leads there")
    if not runs.is_dir():
        return {}
    last: dict[str, _Write] = {}
    for path in sorted(p for p in runs.iterdir() if p.name.endswith(".jsonl")):
        if path.is_symlink():
            # okectl writes journals itself, never through a link: one here was planted.
            raise OkectlError(f"{path}: cannot read an apply journal: it is a link")
        raw = read_regular(path, what="an apply journal", limit=JOURNAL_LIMIT)
        pending: dict[tuple[str, str], str] = {}
        recovered = ""
        for line in raw.decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue  # the last line of a run killed while writing it
            if not isinstance(record, dict):
                continue
            event, time = record.get("event"), _string(record, "time")
            if event == "recovered":
                recovered = time or "a later run"
                continue
            address, action = record.get("address"), record.get("action")
            if not (isinstance(address, str) and _RESOURCE.fullmatch(address) and action in _ACTIONS):
                continue
            if event == "intent":
                pending[(address, str(action))] = time
            elif event == "call":
                pending.pop((address, str(action)), None)
                outcome = record.get("outcome")
                if outcome in ("applied", "requested", "failed", "unknown"):
                    message = record.get("message")
                    text = message if isinstance(message, str) and outcome in ("failed", "unknown") else ""
                    if outcome == "requested":
                        # Which change request carries it: said, never shown as what okectl was told.
                        request = record.get("request")
                        text = plain(request, 80) if isinstance(request, str) else ""
                    last[address] = _Write(str(outcome), str(action), text, time, path.name)
        for (address, action), time in pending.items():
            if recovered:
                last[address] = _Write("read-back", action, "", recovered, path.name)
            else:
                last[address] = _Write("in-flight", action, "", time, path.name)
    return last


_WRITE_TITLES = {
    "failed": "the {action} failed",
    "unknown": "the outcome of the {action} is unknown",
    "in-flight": "the outcome of the {action} is unknown",
}
_WRITE_OUTCOMES = {
    "failed": "failed",
    "unknown": "outcome unknown: okectl gave up, and the supplier may have carried it out",
    "in-flight": "outcome unknown: the run stopped while the write was under way",
}


def _names(value: object, what: str, display: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OkectlError(f"{display}: not an okectl plan ({what} is not a list of names)")
    return frozenset(value)


def read_plan(path: Path) -> PlanSeen:
    """What a plan (``okectl plan --out FILE`` or ``--output json``) says is left to do, read
    as hostile input: its time, its scope and the addresses it changes."""
    display = str(path)
    raw = read_regular(path, what="the plan", limit=PLAN_LIMIT)
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise OkectlError(f"{display}: not an okectl plan (not JSON)") from None
    if not isinstance(doc, dict):
        raise OkectlError(f"{display}: not an okectl plan (not a JSON object)")
    created = when(doc.get("created_at"))
    if created is None:
        raise OkectlError(f"{display}: not an okectl plan (created_at is not a time with its offset)")
    scope = doc.get("scope")
    changes = doc.get("changes")
    if not isinstance(scope, dict) or not isinstance(changes, list):
        raise OkectlError(f"{display}: not an okectl plan (no scope or changes)")
    changed = [c.get("address") if isinstance(c, dict) else None for c in changes]
    if not all(isinstance(a, str) for a in changed):
        raise OkectlError(f"{display}: not an okectl plan (a change without an address)")
    return PlanSeen(
        created_at=created,
        schools=_names(scope.get("schools"), "scope.schools", display),
        suppliers=_names(scope.get("suppliers"), "scope.suppliers", display),
        changed=frozenset(str(a) for a in changed),
    )


def from_journals(validated: Validated, clean: Clean, plan: PlanSeen | None = None) -> Found:
    """Per resource address: the last write the journals hold for it, when it failed or
    its outcome is unknown (``write``). A later write of the same address that was applied
    resolves it, and so does a later ``plan`` with nothing left to do there (the write was
    carried out after all, or someone did it by hand)."""
    incidents: list[Incident] = []
    recoveries: list[Recovery] = []
    suppliers = validated.state.suppliers
    for address, write in sorted(_journal_writes(validated.state.root).items()):
        sid = address.split("/", 1)[0]
        supplier = suppliers.get(sid)
        if supplier is None:
            continue  # a supplier no longer configured: nothing left to write there
        seen = f"{write.time or 'unknown time'} (journal {write.journal})"
        settled = plan.recovery(address, when(write.time)) if plan is not None else None
        if settled is not None and write.outcome in _WRITE_TITLES:
            recoveries.append(settled)
            continue
        if write.outcome == "applied":
            recoveries.append(
                Recovery(
                    sid, address, "write", "writes", f"the {write.action} of {address} was applied", seen
                )
            )
            continue
        if write.outcome == "requested":
            # Not a failed write: the supplier's support desk makes the change, and a request
            # past its SLA is an incident of its own (request.overdue).
            carried = f" in change request {write.message}" if write.message else ""
            passed = f"the {write.action} of {address} was requested from its support desk{carried}"
            recoveries.append(Recovery(sid, address, "write", "writes", passed, seen))
            continue
        if write.outcome == "read-back":
            recoveries.append(
                Recovery(
                    sid,
                    address,
                    "write",
                    "writes",
                    f"the {write.action} of {address} left in flight was read back by a later run",
                    seen,
                )
            )
            continue
        facts = [Fact("write", write.action), Fact("outcome", _WRITE_OUTCOMES[write.outcome])]
        if write.message:
            facts.append(Fact("what okectl was told", clean(write.message), quoted=True))
        env = "/".join(address.split("/")[:3])
        incidents.append(
            Incident(
                supplier=sid,
                subject=address,
                check="write",
                source="writes",
                title=f"{address}: " + _WRITE_TITLES[write.outcome].format(action=write.action),
                facts=tuple(facts),
                seen=seen,
                environments=(env,),
                advice=(
                    "Run `okectl plan`: it reads what the supplier has now and proposes what is still to "
                    "do, and `okectl apply` carries it out. The next applied write of this address "
                    "resolves this."
                ),
                **_context(supplier),
            )
        )
    return Found(incidents, recoveries)


# --- change requests ----------------------------------------------------------------------


def _rejected_on(req: StoredRequest) -> date:
    days = [e.date for e in req.status.history if e.event == "rejected"]
    return max(days) if days else req.status.requested_on


def _latest(requests: list[StoredRequest]) -> str:
    """The latest thing that happened to a school's requests, said as a recovery's 'when'."""
    best: tuple[date, str] | None = None
    for req in requests:
        for event in req.status.history:
            said = f"{event.date.isoformat()}: {req.id} {event.event}"
            if event.ref:
                said += f" (ticket {plain(event.ref, 60)})"
            if best is None or event.date >= best[0]:
                best = (event.date, said)
    return best[1] if best else "-"


def _environments(requests: Iterable[StoredRequest]) -> tuple[str, ...]:
    found = {
        f"{r.status.supplier}/{r.status.school}/{c.environment}" for r in requests for c in r.document.changes
    }
    return tuple(sorted(e for e in found if _ENVIRONMENT.fullmatch(e)))


def _late(o: OpenRequest) -> Fact:
    since = o.since.isoformat()
    if o.standing == "escalated":
        return Fact(
            f"request {o.request.id}", f"escalate: waiting since {since}, past {o.escalate_after_days} days"
        )
    return Fact(
        f"request {o.request.id}", f"overdue: waiting since {since}, past the SLA of {o.sla_days} days"
    )


def _overdue(subject: str, late: list[OpenRequest], ctx: dict[str, Any]) -> Incident:
    escalate = any(o.standing == "escalated" for o in late)
    return Incident(
        supplier=subject.split("/", 1)[0],
        subject=subject,
        check="request.overdue",
        source="requests",
        title=f"{subject}: change request "
        + ("to escalate: far past the supplier's SLA" if escalate else "past the supplier's SLA"),
        facts=tuple(_late(o) for o in late),
        seen=", ".join(f"{o.request.id} has waited {o.age_days} days" for o in late),
        environments=_environments(o.request for o in late),
        advice=(
            "Chase the support desk, or escalate; when it answers, record its answer with "
            "`okectl requests confirm ID --ref TICKET` or `okectl requests reject ID --reason TEXT`."
        ),
        **ctx,
    )


def _rejected(subject: str, standing: list[StoredRequest], clean: Clean, ctx: dict[str, Any]) -> Incident:
    facts: list[Fact] = []
    for r in standing:
        facts.append(Fact(f"request {r.id}", f"rejected on {_rejected_on(r).isoformat()}"))
        reasons = [e.detail for e in r.status.history if e.event == "rejected" and e.detail]
        if reasons:
            facts.append(Fact("reason given", clean(reasons[-1]), quoted=True))
    return Incident(
        supplier=subject.split("/", 1)[0],
        subject=subject,
        check="request.rejected",
        source="requests",
        title=f"{subject}: change request rejected by the supplier",
        facts=tuple(facts),
        seen=", ".join(f"{r.id} rejected on {_rejected_on(r).isoformat()}" for r in standing),
        environments=_environments(standing),
        advice=(
            "Its changes are still to do: settle the reason with the supplier or change the "
            "configuration; the next `okectl apply` asks again, with a new request."
        ),
        **ctx,
    )


def from_requests(validated: Validated, clean: Clean, today: date | None) -> Found:
    """Per school at a supplier: open change requests past the supplier's SLA
    (``request.overdue``), and a rejected request not asked again since
    (``request.rejected``)."""
    from okectl.requests.store import list_requests
    from okectl.requests.tracking import open_requests

    state = validated.state
    found, problems = list_requests(state.root)
    if problems:
        raise ValidationFailed(problems)
    late: dict[str, OpenRequest] = {
        o.request.id: o for o in open_requests(state.root, state, today=today) if o.standing != "awaiting"
    }
    tenants: dict[tuple[str, str], list[StoredRequest]] = {}
    for req in found:
        tenants.setdefault((req.status.supplier, req.status.school), []).append(req)
    incidents: list[Incident] = []
    recoveries: list[Recovery] = []
    for (sid, school), requests in sorted(tenants.items()):
        supplier = state.suppliers.get(sid)
        if supplier is None:
            continue
        ctx = _context(supplier)
        subject = f"{sid}/{school}"
        when = _latest(requests)
        overdue = sorted(
            (late[r.id] for r in requests if r.id in late), key=lambda o: (o.since, o.request.id)
        )
        if overdue:
            incidents.append(_overdue(subject, overdue, ctx))
        else:
            passed = f"no change request of {subject} is past its SLA"
            recoveries.append(Recovery(sid, subject, "request.overdue", "requests", passed, when))
        rejected = [r for r in requests if r.status.status == "rejected"]
        # A rejection stands until the school's requests are asked again: a request
        # written on or after the day of the rejection (the next apply writes one).
        later = [r for r in requests if r.status.status != "rejected"]
        standing = sorted(
            (r for r in rejected if not any(o.status.requested_on >= _rejected_on(r) for o in later)),
            key=lambda r: (_rejected_on(r), r.id),
        )
        if standing:
            incidents.append(_rejected(subject, standing, clean, ctx))
        elif rejected:
            newest = max(later, key=lambda r: (r.status.requested_on, r.id))
            passed = f"the rejected change request of {subject} was asked again as {newest.id}"
            recoveries.append(Recovery(sid, subject, "request.rejected", "requests", passed, when))
        else:
            passed = f"no change request of {subject} stands rejected"
            recoveries.append(Recovery(sid, subject, "request.rejected", "requests", passed, when))
    return Found(incidents, recoveries)
