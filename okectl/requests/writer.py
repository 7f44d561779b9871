"""Writing change requests: apply's step for a supplier whose support desk makes the changes.

The engine calls :func:`write_change_requests` with the planned changes of the suppliers
whose adapter declares ``Capability.CHANGE_REQUESTS``, instead of writing to them. Each
supplier and school gets one request per run, in ``requests/<supplier>/<id>/``. Its id is a
digest of what it asks (supplier, school, the changes), never of the time, so the same
changes make the same request and writing it again changes nothing.

A client secret is never written into a request: the request says a secret is to be
exchanged, and through which channel (the adapter's ``secret_channel``). What the folder
keeps of the value is a salted digest in ``status.yaml``, so a confirmation can record
which value the supplier got.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from okectl.config.models import School, Supplier
from okectl.config.record import RecordedSecret
from okectl.config.repository import DesiredState
from okectl.config.request_files import (
    Event,
    RequestDocument,
    RequestedChange,
    RequestedField,
    RequestSchool,
    RequestStatus,
    RequestSupplier,
)
from okectl.errors import OkectlError
from okectl.files import write_atomic
from okectl.model import clock
from okectl.model.resources import SENSITIVE, WIRE_FIELDS, Address, Resource
from okectl.requests.mail import build_message
from okectl.requests.secrets import secret_digest
from okectl.requests.settings import RequestsSettings, requests_settings
from okectl.requests.store import (
    REQUEST_EML,
    REQUEST_JSON,
    REQUEST_MD,
    StoredRequest,
    list_requests,
    request_folder,
    write_status,
)

if TYPE_CHECKING:
    from okectl.plans.changes import Change

# A secret reference (env:NAME, file:PATH) → its value, None when it is not set.
SecretResolver = Callable[[str], str | None]
# Requests still in force: the same changes asked again are this request, not a new one.
IN_FORCE = frozenset({"open", "confirmed"})
TEMPLATES = "templates"


@dataclass(frozen=True)
class WrittenRequest:
    request: StoredRequest
    # False: the same request was already there, and nothing was written.
    written: bool
    notes: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.request.id


def requested_change(change: Change) -> RequestedChange:
    """What a request asks of one planned change: the fields that change and the resource
    as it should be, never a secret (only that one is to be exchanged)."""
    addr = change.address
    sensitive = SENSITIVE[addr.kind]
    fields = [
        RequestedField(path=d.path, before=d.before, after=d.after)
        for d in change.diff
        if not d.sensitive and d.path.split(".")[0] not in sensitive
    ]
    after = None
    if change.after is not None:
        after = {k: change.after.get(k) for k in WIRE_FIELDS[addr.kind]}
    secret: Literal["new", "changed"] | None = None
    if addr.kind == "client" and change.action != "delete":
        if change.action == "create" and change.after is not None and change.after.get("secret") is not None:
            secret = "new"
        elif any(d.sensitive or d.path.split(".")[0] in sensitive for d in change.diff):
            secret = "changed"
    return RequestedChange(
        address=str(addr),
        kind=addr.kind,
        action=change.action,
        environment=addr.environment,
        name=addr.name or None,
        fields=fields,
        after=after,
        secret=secret,
    )


def request_id(supplier: str, school: str, changes: Sequence[RequestedChange]) -> str:
    """``<supplier>-<school>-<digest>``: the same changes give the same id, on any day."""
    body = json.dumps(
        {"supplier": supplier, "school": school, "changes": [c.model_dump(mode="json") for c in changes]},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return f"{supplier}-{school.lower()}-{hashlib.sha256(body.encode('utf-8')).hexdigest()[:10]}"


def write_change_requests(
    root: Path,
    state: DesiredState,
    changes: Iterable[Change],
    desired: Mapping[Address, Resource],
    *,
    repository: str,
    sender: str | None = None,
    resolve_secret: SecretResolver | None = None,
    today: date | None = None,
) -> list[WrittenRequest]:
    """One change request per supplier and school of ``changes`` (all of suppliers managed
    by requests), written under ``requests/``; the requests already there for the same
    changes are returned as they are."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        groups.setdefault((change.address.supplier, change.address.school), []).append(change)
    out: list[WrittenRequest] = []
    for (sid, code), group in sorted(groups.items()):
        supplier = state.suppliers.get(sid)
        if supplier is None:
            raise OkectlError(f"{sid}: not a supplier of this repository; no request is written for it")
        school = state.schools.get(code)
        out.append(
            write_change_request(
                root,
                supplier,
                school,
                code,
                group,
                desired,
                repository=repository,
                sender=sender,
                resolve_secret=resolve_secret,
                today=today,
            )
        )
    return out


def write_change_request(
    root: Path,
    supplier: Supplier,
    school: School | None,
    code: str,
    changes: Sequence[Change],
    desired: Mapping[Address, Resource],
    *,
    repository: str,
    sender: str | None = None,
    resolve_secret: SecretResolver | None = None,
    today: date | None = None,
) -> WrittenRequest:
    """The change request of one supplier and school (a school that left the configuration
    still has its deletions to request: ``school`` is None then)."""
    settings = requests_settings(supplier)
    if supplier.support.email is None:
        raise OkectlError(f"supplier {supplier.id}: support.email is needed to address a change request")
    # Each environment, then what lives in it: the order a support desk works in.
    ordered = sorted(
        changes, key=lambda c: (c.address.environment, c.address.kind != "environment", c.address)
    )
    asked = [requested_change(c) for c in ordered]
    base = request_id(supplier.id, code, asked)
    existing = {r.id: r for r in list_requests(root, supplier=supplier.id)[0]}
    rid = base
    for n in range(2, 1000):
        found = existing.get(rid)
        if found is None:
            break
        if found.status.status in IN_FORCE:
            return WrittenRequest(found, written=False)
        # Rejected or cancelled: asking again is a new request, with an id of its own.
        rid = f"{base}-{n}"
    day = today or clock.today()
    document = RequestDocument(
        id=rid,
        repository=repository,
        language=supplier.support.language,
        requested_on=day,
        supplier=RequestSupplier(
            id=supplier.id, name=supplier.name, email=supplier.support.email, portal=supplier.support.portal
        ),
        school=RequestSchool(code=code, name=school.name if school is not None else code),
        secret_channel=settings.secret_channel if any(c.secret for c in asked) else None,
        changes=asked,
    )
    notes: list[str] = []
    secrets: dict[str, RecordedSecret] = {}
    for change in asked:
        if not change.secret:
            continue
        res = desired.get(Address.parse(change.address))
        ref = res.spec.get("secret") if res is not None else None
        value = resolve_secret(ref) if resolve_secret is not None and isinstance(ref, str) else None
        if isinstance(ref, str) and value is not None:
            secrets[change.address] = RecordedSecret(ref=ref, digest=secret_digest(value))
        else:
            notes.append(
                f"{change.address}: the secret {ref or '(no reference)'} is not set; the request asks for it "
                "to be exchanged, but its confirmation cannot record which value the supplier has"
            )
    status = RequestStatus(
        id=rid,
        supplier=supplier.id,
        school=code,
        status="open",
        requested_on=day,
        secrets=secrets,
        history=[Event(date=day, event="requested", detail=f"{len(asked)} change(s)")],
    )
    markdown = render_markdown(document, settings)
    message = build_message(document, markdown, sender=sender, cc=settings.cc)
    # The folder only once the request is whole: a message that cannot be built leaves none.
    folder = request_folder(root, supplier.id, rid)
    # status.yaml last: until it is there, the folder is a request whose writing was cut
    # off, written whole again by the next run.
    write_atomic(folder / REQUEST_JSON, document_json(document), what="a change request")
    write_atomic(folder / REQUEST_MD, markdown, what="a change request")
    write_atomic(folder / REQUEST_EML, message.as_bytes(), what="a change request")
    write_status(root, status)
    return WrittenRequest(StoredRequest(root.resolve(), document, status), written=True, notes=notes)


def document_json(document: RequestDocument) -> str:
    return json.dumps(document.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- the human-readable request --------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "environment": "Omgeving",
        "client": "Client",
        "role": "Rol",
        "create": "aanmaken",
        "update": "wijzigen",
        "delete": "verwijderen",
        "in": "in omgeving",
        "none": "(leeg)",
        "remove": "Verwijder deze {what} met alles erin.",
        "remove_child": "Verwijder deze {what}.",
    },
    "en": {
        "environment": "Environment",
        "client": "Client",
        "role": "Role",
        "create": "create",
        "update": "change",
        "delete": "delete",
        "in": "in environment",
        "none": "(empty)",
        "remove": "Delete this {what} and everything in it.",
        "remove_child": "Delete this {what}.",
    },
}


def _show(value: Any, none: str) -> str:
    if value is None or value == []:
        return none
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_show(v, none)}" for k, v in value.items())
    return str(value)


def _flat(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            out.extend(_flat(value, f"{prefix}{key}."))
        elif value is not None:
            out.append((f"{prefix}{key}", value))
    return out


def _section(change: RequestedChange, words: Mapping[str, str]) -> dict[str, Any]:
    kind = words[change.kind]
    title = (
        f"{kind} {change.environment}"
        if change.kind == "environment"
        else (f"{kind} {change.name} {words['in']} {change.environment}")
    )
    lines: list[str] = []
    if change.action == "delete":
        what = kind.lower()
        lines.append(words["remove" if change.kind == "environment" else "remove_child"].format(what=what))
    elif change.action == "create":
        lines = [f"{path}: {_show(value, words['none'])}" for path, value in _flat(change.after or {})]
    else:
        lines = [
            f"{f.path}: {_show(f.before, words['none'])} → {_show(f.after, words['none'])}"
            for f in change.fields
        ]
    return {
        "title": f"{title}: {words[change.action]}",
        "address": change.address,
        "lines": lines,
        "secret": change.secret,
    }


def one_line(value: Any) -> Any:
    # Every value shown comes from YAML someone wrote: it must not add lines (a forged
    # heading or instruction) to what a support desk reads.
    if isinstance(value, str):
        return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return value


@cache
def _templates() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("okectl.requests", TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=one_line,
    )


def render_markdown(document: RequestDocument, settings: RequestsSettings) -> str:
    words = _WORDS[document.language]
    template = _templates().get_template(f"request.{document.language}.md.j2")
    text: str = template.render(
        id=document.id,
        supplier_name=document.supplier.name,
        school_name=document.school.name,
        school_code=document.school.code,
        requested_on=document.requested_on.isoformat(),
        contact=settings.contact,
        secret_channel=settings.secret_channel,
        repository=document.repository,
        changes=[_section(c, words) for c in document.changes],
    )
    return text
