"""From a repository to a checked plan: validate, refresh, diff, guard, record."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from okectl.config.repository import DesiredState
from okectl.config.revision import repo_state
from okectl.config.settings import load_settings
from okectl.engine.diff import diff_resources
from okectl.engine.plan import Plan, PlanRun
from okectl.engine.refresh import ProgressHook, refresh
from okectl.engine.safety import UnsafePlan, check_safety
from okectl.engine.validate import Validated, validate_repository
from okectl.errors import OkectlError
from okectl.model.resources import Resource
from okectl.model.scope import Scope


def secret_resolver(root: Path) -> Any:
    def resolve(ref: str) -> str | None:
        kind, _, name = ref.partition(":")
        if kind == "env":
            return os.environ.get(name)
        if kind == "file":
            path = (root / name) if not os.path.isabs(name) else Path(name)
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError:
                return None
        return None

    return resolve


def _unset_secrets(plan: Plan, root: Path) -> list[str]:
    """Secret references that a planned write needs but that are not set here."""
    resolve = secret_resolver(root)
    missing: dict[str, int] = {}
    for ch in plan.changes:
        ref = (ch.after or {}).get("secret") if ch.address.kind == "client" else None
        if ch.action == "create" and isinstance(ref, str) and resolve(ref) is None:
            missing[ref] = missing.get(ref, 0) + 1
    return [
        f"secret reference {ref} is not set; apply cannot create the {n} client(s) that need it"
        for ref, n in sorted(missing.items())
    ]


def locate_resource(state: DesiredState) -> Any:
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
    root: Path,
    *,
    scope: Scope | None = None,
    force: bool = False,
    progress: ProgressHook | None = None,
    with_policy: bool = True,
    guard: bool = True,
    validated: Validated | None = None,
) -> PlanRun:
    """`guard`: raise UnsafePlan when the safety check finds problems (apply FILE checks
    the saved plan's own changes instead)."""
    root = root.resolve()
    scope = scope or Scope()
    validated = validated if validated is not None else validate_repository(root)
    state = validated.state
    settings = load_settings(root)
    _check_scope(scope, state)
    desired = [
        r
        for r in validated.resources
        if (scope.schools is None or r.address.school in scope.schools)
        and (scope.suppliers is None or r.address.supplier in scope.suppliers)
    ]
    refreshed = asyncio.run(
        refresh(state, root, suppliers=scope.suppliers, schools=scope.schools, progress=progress)
    )
    actual = [a for a in refreshed.resources if scope.schools is None or a.address.school in scope.schools]
    plan = diff_resources(
        desired,
        actual,
        repository=settings.repository,
        resolve_secret=secret_resolver(root),
        locate=locate_resource(state),
    )
    plan.warnings.extend(_unset_secrets(plan, root))
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
            if r.address.kind == "environment" and r.address.school not in scope.schools:
                owned_envs[r.address.supplier] = owned_envs.get(r.address.supplier, 0) + 1
    safety = check_safety(plan, state, owned_envs, force=force)
    commit, dirty = repo_state(root)
    run = PlanRun(
        plan=plan,
        validated=validated,
        repository=settings.repository,
        scope=scope,
        commit=commit,
        dirty=dirty,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        safety=safety,
        resolve_secret=secret_resolver(root),
        actual={a.address: a for a in actual},
        owned_envs=owned_envs,
    )
    if with_policy:
        run.policy = evaluate_policy(state, validated.resources)
    if safety and guard:
        raise UnsafePlan(safety)
    return run


def evaluate_policy(state: DesiredState, resources: list[Resource] | None = None) -> Any:
    from okectl.policy.engine import evaluate

    return evaluate(state, resources=resources)


# --- saved plans ---------------------------------------------------------------------
