"""Change requests as text and JSON: ``okectl requests list|show`` and what the other
request commands report."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from okectl.views.escape import terminal
from okectl.views.values import show

if TYPE_CHECKING:
    from okectl.requests.exports import ExportImport
    from okectl.requests.observe import Observed
    from okectl.requests.store import StoredRequest
    from okectl.requests.tracking import OpenRequest


def _age(item: OpenRequest | None) -> str:
    if item is None:
        return ""
    note = {
        "awaiting": f"within the SLA of {item.sla_days}d",
        "overdue": f"OVERDUE: past the SLA of {item.sla_days}d",
        "escalated": f"ESCALATE: past {item.escalate_after_days}d",
    }[item.standing]
    return f"{item.age_days}d, {note}"


def render_list(requests: list[StoredRequest], ages: dict[str, OpenRequest]) -> str:
    if not requests:
        return "No change requests.\n"
    rows = [("ID", "STATUS", "REQUESTED", "CHANGES", "TICKET", "AGE")]
    for req in requests:
        st = req.status
        rows.append(
            (
                req.id,
                st.status,
                st.requested_on.isoformat(),
                str(len(req.document.changes)),
                # Whoever confirmed it typed the ticket, or a pull request wrote it.
                terminal(st.ticket) if st.ticket else "-",
                _age(ages.get(req.id)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    opened = sum(1 for r in requests if r.status.status == "open")
    late = sum(1 for a in ages.values() if a.standing != "awaiting")
    lines.append(
        f"{len(requests)} request(s), {opened} open" + (f", {late} past their SLA" if late else "") + "."
    )
    return "\n".join(lines) + "\n"


def request_json(req: StoredRequest, age: OpenRequest | None) -> dict[str, Any]:
    return {
        "id": req.id,
        "folder": req.rel,
        "status": req.status.model_dump(mode="json", exclude={"secrets"}),
        "request": req.document.model_dump(mode="json"),
        "age": (
            {
                "days": age.age_days,
                "since": age.since.isoformat(),
                "sla_days": age.sla_days,
                "escalate_after_days": age.escalate_after_days,
                "standing": age.standing,
            }
            if age is not None
            else None
        ),
    }


def render_list_json(requests: list[StoredRequest], ages: dict[str, OpenRequest]) -> str:
    docs = [request_json(r, ages.get(r.id)) for r in requests]
    return json.dumps({"requests": docs}, indent=2, sort_keys=True) + "\n"


def render_show(req: StoredRequest, markdown: str, age: OpenRequest | None) -> str:
    """The request's status and history, then its ``request.md``: every text in them was
    typed by someone, or committed by a pull request, so each is escaped (the Markdown
    line by line, its line breaks kept)."""
    st = req.status
    head = [
        f"{req.id}  ({req.rel}/)",
        f"status: {st.status}"
        + (f", ticket {terminal(st.ticket)}" if st.ticket else "")
        + (f"; {_age(age)}" if age else ""),
        "history:",
    ]
    for e in st.history:
        parts = [e.date.isoformat(), e.event]
        if e.ref:
            parts.append(f"ticket {terminal(e.ref)}")
        if e.by:
            parts.append(f"by {terminal(e.by)}")
        if e.detail:
            parts.append(f"- {terminal(e.detail)}")
        if e.evidence:
            parts.append(f"(evidence: {req.rel}/{terminal(e.evidence)})")
        head.append("  " + " ".join(parts))
    body = "".join(f"{terminal(line)}\n" for line in markdown.splitlines())
    return "\n".join(head) + "\n\n" + body


def render_export_import(result: ExportImport) -> str:
    out: list[str] = []
    symbols = {"add": "+", "remove": "-", "change": "~"}
    for school in result.schools:
        if not school.differences:
            out.append(f"{result.supplier}/{school.school}: the export matches {school.path}")
            continue
        out.append(
            f"{result.supplier}/{school.school}: {len(school.differences)} difference(s) from {school.path}"
        )
        for diff in school.differences:
            out.append(f"  {symbols[diff.action]} {diff.address}")
            # The record's values and the export's: both someone else's words.
            out.extend(f"      {path}: {show(b)} → {show(a)}" for path, b, a in diff.fields)
    for obs in result.observations:
        # The detail names the export's file and values it holds: someone else's words.
        out.append(f"{VERBS[obs.outcome]} {terminal(obs.request)}: {terminal(obs.detail)}")
    out.extend(f"skipped: {terminal(line)}" for line in result.skipped)
    changed = len(result.changed)
    # The export's file name is the supplier's, as sent.
    source = terminal(result.source)
    if not changed and not result.observations:
        out.append(f"Nothing to record: {source} matches the recorded state.")
    elif result.written:
        out.append(f"Wrote {changed} record(s) from {source}; commit them with the requests they touch.")
    else:
        out.append(f"Would write {changed} record(s). Run again with --write to write them.")
    return "\n".join(out) + "\n"


VERBS = {"confirms": "confirms", "observed": "observes", "reopens": "reopens"}


def render_observed(done: Observed) -> str:
    """What okectl verify --record made of the change requests: a line per record written
    and per request it confirmed, observed in part or reopened."""
    out = [f"recorded: {terminal(path)}" for path in done.records]
    out += [f"{VERBS[o.outcome]} {terminal(o.request)}: {terminal(o.detail)}" for o in done.observations]
    return "".join(f"{line}\n" for line in out)
