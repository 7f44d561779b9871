"""Open incidents as text, JSON and Markdown (``okectl incidents``)."""

from __future__ import annotations

import json
from typing import Any

from okectl.incidents.model import Incident, Incidents
from okectl.incidents.text import escape, incident_markdown


def _count(n: int) -> str:
    return "1 open incident" if n == 1 else f"{n} open incidents"


def _read(incidents: Incidents) -> str:
    return ", ".join(incidents.sources) or "none"


def render_text(incidents: Incidents) -> str:
    if not incidents.open:
        return f"No open incidents (sources read: {_read(incidents)}).\n"
    lines: list[str] = []
    for inc in incidents.open:
        lines.append(f"{inc.key}  {inc.title}")
        lines.extend(f"    {f.label}: {f.value}" for f in inc.facts)
        if inc.seen:
            lines.append(f"    seen: {inc.seen}")
        if inc.status_page:
            lines.append(f"    status page: {inc.status_page} (context only)")
    lines.append(f"{_count(len(incidents.open))} (sources read: {_read(incidents)}).")
    return "\n".join(lines) + "\n"


def incident_json(inc: Incident) -> dict[str, Any]:
    return {
        "key": inc.key,
        "supplier": inc.supplier,
        "subject": inc.subject,
        "check": inc.check,
        "source": inc.source,
        "title": inc.title,
        "evidence": [{"label": f.label, "value": f.value, "quoted": f.quoted} for f in inc.facts],
        "evidence_digest": inc.digest,
        "seen": inc.seen,
        "environments": list(inc.environments),
        "advice": inc.advice,
        "status_page": inc.status_page,
        "support": inc.support,
    }


def render_json(incidents: Incidents) -> str:
    doc = {"sources": list(incidents.sources), "incidents": [incident_json(i) for i in incidents.open]}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(incidents: Incidents) -> str:
    head = f"## okectl incidents: {escape(_count(len(incidents.open)))}\n"
    if not incidents.open:
        return head + f"\nNothing fails now (sources read: {escape(_read(incidents))}).\n"
    return head + "".join("\n" + incident_markdown(i) for i in incidents.open)
