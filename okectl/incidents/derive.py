"""Deriving the incidents: every source, read afresh, on every run."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from okectl.incidents.model import SOURCES, Incident, Incidents, PlanSeen, Source
from okectl.incidents.sources import cleaner, from_journals, from_requests, from_verification, run_secrets

if TYPE_CHECKING:
    from okectl.engine.validate import Validated


def derive_incidents(
    validated: Validated,
    *,
    sources: Iterable[Source] = SOURCES,
    plan: PlanSeen | None = None,
    today: date | None = None,
) -> Incidents:
    """The open incidents and the checks seen passing, from the sources named: ``verify``
    (the record ``okectl verify --record`` keeps), ``writes`` (the journals under
    ``.okectl/runs/``, and ``plan``: what a plan made after a write says is left to do)
    and ``requests`` (``requests/``)."""
    chosen = tuple(s for s in SOURCES if s in set(sources))
    clean = cleaner(run_secrets(validated))
    out = Incidents(sources=chosen, plan=plan if "writes" in chosen else None)
    for source in chosen:
        if source == "verify":
            found = from_verification(validated, clean)
        elif source == "writes":
            found = from_journals(validated, clean, plan)
        else:
            found = from_requests(validated, clean, today)
        out.open.extend(found.incidents)
        out.healthy.update({r.key: r for r in found.recoveries})
    out.open.sort(key=lambda i: (i.supplier, i.subject, i.check))
    return out


def open_incidents(
    validated: Validated,
    *,
    supplier: str | None = None,
    environment: str | None = None,
    sources: Iterable[Source] = SOURCES,
    plan: PlanSeen | None = None,
    today: date | None = None,
) -> list[Incident]:
    """The incidents open now, all of them or those that concern ``supplier`` (and, given,
    its environment ``supplier/school/environment``): what a gate asks before it lets a
    change through, "no open incident for that supplier and environment"."""
    found = derive_incidents(validated, sources=sources, plan=plan, today=today).open
    if environment is not None and supplier is None:
        supplier = environment.split("/", 1)[0]
    if supplier is None:
        return found
    return [i for i in found if i.concerns(supplier, environment)]
