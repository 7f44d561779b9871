"""Safety checks on a plan: mass deletions, protected and production environments."""

from __future__ import annotations

from okectl.config.repository import DesiredState
from okectl.config.resolve import Protection, environment_protection
from okectl.errors import OkectlError
from okectl.plans.changes import Plan


class UnsafePlan(OkectlError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems[0] if problems else "unsafe plan")

    def lines(self) -> list[str]:
        return self.problems


def check_safety(plan: Plan, state: DesiredState, actual_envs: dict[str, int], *, force: bool) -> list[str]:
    """Problems that stop the plan: protected deletions always, mass deletions unless forced.

    Protection comes from the configuration (``environment_protection``: the school's
    override, else its profile): a production environment is protected unless it says
    protect: false, and one that says protect: true is protected whatever its type.
    """
    problems: list[str] = []
    protection = environment_protection(state)
    deletes_per_supplier: dict[str, int] = {}
    for ch in plan.changes:
        a = ch.address
        if a.kind != "environment" or ch.action == "create":
            continue
        said, configured_type = protection.get(a, (Protection(), None))
        where = f"connections.{a.supplier}.environments.{a.environment} in schools/{a.school}.yaml"
        was_production = (ch.before or {}).get("type") == "production" or configured_type == "production"
        if ch.action == "update":
            if (
                (ch.before or {}).get("type") == "production"
                and (ch.after or {}).get("type") != "production"
                and said.protect is not False
            ):
                # Otherwise a production environment could be retyped out of its
                # protection in one plan and deleted in the next.
                problems.append(
                    f"{a}: refusing to change a production environment into another type; "
                    f"set protect: false under {where} if that is intended"
                )
            continue
        deletes_per_supplier[a.supplier] = deletes_per_supplier.get(a.supplier, 0) + 1
        if said.protect is True:
            problems.append(f"{a}: refusing to delete it: {said.where} says protect: true")
        elif was_production and said.protect is not False:
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
