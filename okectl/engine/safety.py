"""Safety checks on a plan: mass deletions, protected and production environments."""

from __future__ import annotations

from okectl.config.repository import DesiredState
from okectl.config.resolve import environment_overrides
from okectl.engine.plan import Plan
from okectl.errors import OkectlError


class UnsafePlan(OkectlError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems[0] if problems else "unsafe plan")

    def lines(self) -> list[str]:
        return self.problems


def check_safety(plan: Plan, state: DesiredState, actual_envs: dict[str, int], *, force: bool) -> list[str]:
    """Problems that stop the plan: protected deletions always, mass deletions unless forced.

    A production environment is protected unless its override says protect: false, and
    any environment whose override says protect: true is protected whatever its type.
    """
    problems: list[str] = []
    overrides = environment_overrides(state)
    deletes_per_supplier: dict[str, int] = {}
    for ch in plan.changes:
        a = ch.address
        if a.kind != "environment" or ch.action == "create":
            continue
        override = overrides.get(a)
        protect = override.protect if override is not None else None
        where = f"connections.{a.supplier}.environments.{a.environment} in schools/{a.school}.yaml"
        was_production = (ch.before or {}).get("type") == "production"
        if ch.action == "update":
            if was_production and (ch.after or {}).get("type") != "production" and protect is not False:
                # Otherwise a production environment could be retyped out of its
                # protection in one plan and deleted in the next.
                problems.append(
                    f"{a}: refusing to change a production environment into another type; "
                    f"set protect: false under {where} if that is intended"
                )
            continue
        deletes_per_supplier[a.supplier] = deletes_per_supplier.get(a.supplier, 0) + 1
        if protect is True:
            problems.append(f"{a}: refusing to delete it: {where} says protect: true")
        elif was_production and not (override is not None and override.absent and protect is False):
            problems.append(
                f"{a}: refusing to delete a production environment; it is protected. To delete it, "
                f"keep it in schools/{a.school}.yaml under connections.{a.supplier}.environments."
                f"{a.environment} with absent: true and protect: false"
            )
    for sid, deletes in sorted(deletes_per_supplier.items()):
        supplier = state.suppliers.get(sid)
        owned = actual_envs.get(sid, 0)
        if supplier is None or owned < supplier.safety.min_environments:
            continue
        fraction = deletes / owned
        if fraction > supplier.safety.max_delete_fraction and not force:
            problems.append(
                f"{sid}: the plan deletes {deletes} of its {owned} owned environments "
                f"({fraction:.0%}, over the limit of {supplier.safety.max_delete_fraction:.0%}); "
                "check the change, then run with --force (or raise safety.max_delete_fraction "
                f"in suppliers/{sid}.yaml)"
            )
    return problems
