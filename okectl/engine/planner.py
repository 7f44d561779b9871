"""From a workspace to a checked plan: refresh, diff, guard, record."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from okectl.config.repository import DesiredState
from okectl.engine.diff import diff_resources
from okectl.engine.freeze import mark_frozen
from okectl.engine.refresh import refresh
from okectl.engine.requesting import mark_requests
from okectl.engine.safety import UnsafePlan, check_safety
from okectl.engine.workspace import SecretResolver, Workspace
from okectl.errors import OkectlError
from okectl.model.resources import Address, Resource
from okectl.model.scope import Scope
from okectl.plans.changes import Change, Plan
from okectl.plans.document import SecretDigests, secret_digests
from okectl.plans.outcomes import ReadProgress
from okectl.plans.run import PlanRun

if TYPE_CHECKING:
    from okectl.policy.findings import Finding, PolicyReport


def _unset_secrets(plan: Plan, desired: list[Resource], resolve: SecretResolver) -> list[str]:
    """Secret references that resolve to nothing here: the clients that need one to be
    created cannot be, and the secrets of existing ones can be neither compared nor set."""
    creating = {ch.address for ch in plan.changes if ch.action == "create"}
    missing: dict[str, list[int]] = {}
    for res in desired:
        ref = res.spec.get("secret") if res.address.kind == "client" else None
        if isinstance(ref, str) and resolve(ref) is None:
            counts = missing.setdefault(ref, [0, 0])
            counts[0 if res.address in creating else 1] += 1
    out: list[str] = []
    for ref, (new, existing) in sorted(missing.items()):
        parts = []
        if new:
            parts.append(f"apply cannot create the {new} client(s) that need it")
        if existing:
            parts.append(
                f"the secret of {existing} existing client(s) can be neither compared nor updated"
            )
        out.append(f"secret reference {ref} is not set; " + "; ".join(parts))
    return out


def _verified_only(state: DesiredState, resources: list[Resource]) -> list[str]:
    """One line per supplier without an api: its environments are declared (and verified)
    but nothing reads or changes them, which a reader of the plan must not mistake for
    "in sync"."""
    envs: dict[str, int] = {}
    for res in resources:
        if res.address.kind == "environment" and not state.suppliers[res.address.supplier].managed:
            envs[res.address.supplier] = envs.get(res.address.supplier, 0) + 1
    return [
        f"supplier {sid} has no api: its {n} environment(s) are verified only, not planned"
        for sid, n in sorted(envs.items())
    ]


def locate_resource(state: DesiredState) -> Callable[[Resource], tuple[str, int, int] | None]:
    def locate(res: Resource) -> tuple[str, int, int] | None:
        if res.origin is None:
            return None
        kind, ident, loc = res.origin
        return state.position(kind, ident, loc)

    return locate


def _check_scope(scope: Scope, state: DesiredState) -> None:
    unknown = [f"unknown supplier {s!r}" for s in sorted(scope.suppliers or ()) if s not in state.suppliers]
    unknown += [f"unknown school {c!r}" for c in sorted(scope.named_schools) if c not in state.schools]
    if unknown:
        raise OkectlError("; ".join(unknown) + " in --school/--supplier; check the spelling")


def make_plan(
    ws: Workspace,
    *,
    scope: Scope | None = None,
    force: bool = False,
    progress: ReadProgress | None = None,
) -> PlanRun:
    """What must change at the suppliers in ``scope`` so they match the workspace's
    desired state. The safety guards' problems are in the run (``safety``), for the
    command to refuse on (``guard``); the policy findings are the command's to add
    (``with_policy``)."""
    scope = scope or Scope()
    validated = ws.validated
    state = ws.state
    settings = ws.settings
    resolve = ws.resolve_secret
    _check_scope(scope, state)
    in_scope = [
        r
        for r in validated.resources
        if (scope.schools is None or r.address.school in scope.schools)
        and (scope.suppliers is None or r.address.supplier in scope.suppliers)
    ]
    desired = [r for r in in_scope if state.suppliers[r.address.supplier].managed]
    refreshed = asyncio.run(
        refresh(
            state,
            ws.root,
            suppliers=scope.suppliers,
            schools=scope.schools,
            progress=progress,
            settings=settings,
        )
    )
    actual = [a for a in refreshed.resources if scope.schools is None or a.address.school in scope.schools]
    plan = diff_resources(
        desired,
        actual,
        repository=settings.repository,
        resolve_secret=resolve,
        locate=locate_resource(state),
    )
    plan.warnings.extend(_verified_only(state, in_scope))
    plan.warnings.extend(_unset_secrets(plan, desired, resolve))
    mark_frozen(ws, plan, {a.address: a for a in actual})
    owned_envs: dict[str, int] = {}
    before_envs: dict[str, int] = {}
    for a in actual:
        if a.address.kind == "environment":
            key = f"{a.address.supplier}/{a.address.school}"
            before_envs[key] = before_envs.get(key, 0) + 1
            if a.owned_by(settings.repository):
                owned_envs[a.address.supplier] = owned_envs.get(a.address.supplier, 0) + 1
    after_envs = dict(before_envs)
    for ch in plan.changes:
        if ch.address.kind == "environment" and ch.action in ("create", "delete"):
            key = f"{ch.address.supplier}/{ch.address.school}"
            after_envs[key] = after_envs.get(key, 0) + (1 if ch.action == "create" else -1)
    plan.env_counts = {
        k: (before_envs.get(k, 0), after_envs.get(k, 0)) for k in sorted(set(before_envs) | set(after_envs))
    }
    if scope.schools is not None:
        # A scoped plan sees only some tenants, but the mass-deletion guard is about the
        # supplier's whole estate: count what the configuration gives it everywhere, so
        # the pieces of a large deletion cannot each slip under the limit.
        for r in validated.resources:
            if (
                r.address.kind == "environment"
                and r.address.school not in scope.schools
                and state.suppliers[r.address.supplier].managed
            ):
                owned_envs[r.address.supplier] = owned_envs.get(r.address.supplier, 0) + 1
    # After the environment counts: a requested change is still to happen at the supplier.
    mark_requests(plan, ws, scope)
    safety = check_safety(plan, state, owned_envs, force=force)
    run = PlanRun(
        plan=plan,
        repository=settings.repository,
        scope=scope,
        commit=ws.revision.commit,
        dirty=ws.revision.dirty,
        created_at=ws.clock.stamp(),
        safety=safety,
        actual={a.address: a for a in actual},
        owned_envs=owned_envs,
    )
    return run


def guard(run: PlanRun) -> PlanRun:
    """The run, or UnsafePlan when the safety guards found problems."""
    if run.safety:
        raise UnsafePlan(run.safety)
    return run


def with_policy(ws: Workspace, run: PlanRun) -> PlanRun:
    """The run with the policy findings of its scope."""
    return dataclasses.replace(run, policy=scoped_policy(evaluate_policy(ws), run.scope))


def scoped_policy(report: PolicyReport | None, scope: Scope) -> PolicyReport | None:
    """The findings a scoped plan reports: those about its schools and suppliers.

    A finding about the repository as a whole (no school, no supplier) stays: it stops
    any apply. Apply itself still weighs every finding."""
    if report is None or (scope.schools is None and scope.suppliers is None):
        return report

    def inside(finding: Finding) -> bool:
        school, supplier = finding.school, finding.supplier
        return (scope.schools is None or school is None or school in scope.schools) and (
            scope.suppliers is None or supplier is None or supplier in scope.suppliers
        )

    return dataclasses.replace(report, findings=[f for f in report.findings if inside(f)])


def evaluate_policy(ws: Workspace) -> PolicyReport:
    """Every rule over the workspace's desired state, as of the workspace's day."""
    from okectl.policy.engine import evaluate

    return evaluate(ws.state, today=ws.clock.today(), resources=ws.resources)


def written_secrets(ws: Workspace, changes: list[Change]) -> dict[Address, str | None]:
    """The secret value each create or update of a client sends (None: its reference is
    not set), for the clients whose configuration has a secret reference."""
    out: dict[Address, str | None] = {}
    for ch in changes:
        res = ws.desired.get(ch.address)
        if ch.action == "delete" or res is None or res.kind != "client":
            continue
        ref = res.spec.get("secret")
        if isinstance(ref, str):
            out[ch.address] = ws.resolve_secret(ref)
    return out


def saved_secrets(ws: Workspace, run: PlanRun) -> SecretDigests:
    """What a saved plan records of the secret values it writes: with a fresh random
    salt, a digest per client write, so apply can tell the value moved on."""
    salt = secrets.token_hex(16)
    return SecretDigests(salt, secret_digests(written_secrets(ws, run.plan.changes), salt))
