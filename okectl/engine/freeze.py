"""Marking a plan's changes that fall inside a freeze window (policies/calendar.yaml).

A change to an environment a window freezes today is marked ``frozen``, with the window's
name and dates and the day it thaws; apply refuses it unless broken open on purpose
(``--break-glass --reason``). A waiver of a ``freeze`` rule is the planned exception: the
change it covers is not marked, and the plan says which waiver let it through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date

from okectl.config.calendar import Freeze, frozen
from okectl.engine.workspace import Workspace
from okectl.model.resources import ActualResource, Address
from okectl.plans.changes import Change, Mark, Plan

FROZEN = "frozen"


def _env_type(ws: Workspace, env: Address, actual: Mapping[Address, ActualResource]) -> str | None:
    # The configured type, or for an environment the configuration no longer has, the
    # type the supplier reports: a deletion in production is as frozen as an update.
    wanted = ws.desired.get(env)
    found = wanted.spec.get("type") if wanted is not None else None
    if found is None and env in actual:
        found = actual[env].spec.get("type")
    return str(found) if found is not None else None


def mark_reason(freeze: Freeze) -> str:
    return (
        f"{freeze.describe()}; apply writes it from {freeze.thaw} on, or now with --break-glass --reason TEXT"
    )


def frozen_environments(
    ws: Workspace, addresses: set[Address], actual: Mapping[Address, ActualResource], day: date
) -> dict[Address, Freeze]:
    """The environments among ``addresses`` a window freezes on ``day``."""
    calendar = ws.state.calendar
    out: dict[Address, Freeze] = {}
    if calendar is None or not calendar.windows:
        return out
    for env in addresses:
        supplier = ws.state.suppliers.get(env.supplier)
        if supplier is None:
            continue
        freeze = frozen(calendar, supplier, env.school, _env_type(ws, env, actual), day)
        if freeze is not None:
            out[env] = freeze
    return out


def _waived(ws: Workspace, envs: set[Address], day: date) -> dict[Address, str]:
    """The frozen environments a waiver of a ``freeze`` rule lets through, and which."""
    from okectl.policy.engine import evaluate

    if ws.state.rules is None or not any(r.kind == "freeze" for r in ws.state.rules.rules):
        return {}
    shown = frozenset(str(e) for e in envs)
    report = evaluate(
        ws.state, today=day, resources=ws.resources, changed=lambda _since: shown, kinds={"freeze"}
    )
    out: dict[Address, str] = {}
    for finding in report.findings:
        ref = finding.waived_by
        if ref is not None:
            out[Address.parse(finding.address)] = (
                f"{ref.describe()}, expires {ref.expires}: {ref.reason}"
            )
    return out


def mark_frozen(ws: Workspace, plan: Plan, actual: Mapping[Address, ActualResource]) -> None:
    """Mark the plan's changes inside a freeze window today (in place); a change a waiver
    lets through is left unmarked, with a warning naming the waiver."""
    day = ws.clock.today()
    envs = {(ch.address.parent or ch.address) for ch in plan.changes}
    found = frozen_environments(ws, envs, actual, day)
    if not found:
        return
    waived = _waived(ws, set(found), day)
    marked: list[Change] = []
    for i, ch in enumerate(plan.changes):
        env = ch.address.parent or ch.address
        freeze = found.get(env)
        if freeze is None:
            continue
        if env in waived:
            plan.warnings.append(f"{ch.address}: inside {freeze.describe()}, let through by {waived[env]}")
            continue
        plan.changes[i] = dataclasses.replace(ch, marks=(*ch.marks, Mark(FROZEN, mark_reason(freeze))))
        marked.append(ch)
    if marked:
        windows = sorted({found[c.address.parent or c.address].window.name for c in marked})
        plan.warnings.append(
            f"{len(marked)} change(s) lie inside freeze window(s) {', '.join(windows)}: apply refuses "
            "them until the window ends, unless run with --break-glass --reason TEXT"
        )
