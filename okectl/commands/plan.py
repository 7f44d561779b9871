"""`okectl plan`: what apply would change at the suppliers, optionally saved for apply FILE."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from okectl.engine.apply import report_in_flight
from okectl.engine.planner import guard, make_plan, with_policy
from okectl.engine.workspace import Workspace
from okectl.files import check_target
from okectl.model.scope import Scope
from okectl.plans.outcomes import ReadProgress
from okectl.plans.run import PlanRun

# (address, declared OKE version, the version its OKE endpoint serves, the day it was seen)
Drift = tuple[str, str, str, str]


@dataclass
class Planned:
    run: PlanRun
    # What an interrupted apply left in flight, as a read finds it now.
    in_flight: list[str] = field(default_factory=list)
    # Environments okectl verify found serving another OKE version than they declare: the
    # admin API cannot see that, only the OKE endpoint can.
    drift: list[Drift] = field(default_factory=list)
    saved_to: Path | None = None


def plan_scope(
    ws: Workspace,
    *,
    schools: set[str] | None = None,
    suppliers: set[str] | None = None,
    changed_since: str | None = None,
) -> Scope:
    """The schools and suppliers a plan covers: those named, narrowed to what a change
    since the git ref ``changed_since`` touches."""
    reasons: tuple[str, ...] = ()
    named = frozenset(schools or ())
    if changed_since is not None:
        from okectl.gitops.scope import changed_scope

        changed = changed_scope(ws.root, changed_since)
        reasons = tuple(changed.reasons)
        if changed.schools is not None:
            schools = changed.schools if schools is None else schools & changed.schools
        if changed.suppliers is not None:
            suppliers = changed.suppliers if suppliers is None else suppliers & changed.suppliers
    return Scope(schools=schools, suppliers=suppliers, reasons=reasons, named_schools=named)


def plan(
    ws: Workspace,
    *,
    scope: Scope | None = None,
    force: bool = False,
    out: Path | None = None,
    progress: ReadProgress | None = None,
) -> Planned:
    """Plan ``scope`` (everything by default), with the policy findings of that scope; save
    it to ``out`` (with a checksum, the observed ETags and digests of the secrets it
    writes) for okectl apply FILE. UnsafePlan when the safety guards refuse."""
    if out is not None:
        check_target(out)  # before reading every supplier, not after
    in_flight = report_in_flight(ws)
    run = guard(with_policy(ws, make_plan(ws, scope=scope, force=force, progress=progress)))
    if out is not None:
        save(ws, run, out)
    return Planned(run, in_flight, version_drift(ws, run.scope), out)


def save(ws: Workspace, run: PlanRun, out: Path) -> None:
    """Write the plan document to ``out``, with the digests of the secrets it writes."""
    from okectl.engine.planner import saved_secrets
    from okectl.files import write_atomic
    from okectl.jsontext import dumps
    from okectl.plans.document import plan_document

    # Readable by its owner only: it holds digests of the secret values it writes.
    write_atomic(out, dumps(plan_document(run, saved_secrets(ws, run))), what="the plan file", mode=0o600)


def version_drift(ws: Workspace, scope: Scope) -> list[Drift]:
    """What okectl verify recorded about environments in ``scope`` that still declare the
    version their endpoint was found not to serve."""
    from okectl.config.verification import RECORD_DIR

    if not os.path.lexists(ws.root / RECORD_DIR):
        # No record, nothing to show: not worth loading verify's modules for.
        return []
    from okectl.verify.evidence import recorded_drift

    declared = {
        str(r.address): str(r.spec.get("oke_version"))
        for r in ws.resources
        if r.address.kind == "environment" and (scope.schools is None or r.address.school in scope.schools)
    }
    return recorded_drift(ws.root, declared, suppliers=scope.suppliers)
