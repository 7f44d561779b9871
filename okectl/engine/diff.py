"""The comparison of desired with actual resources, keyed by address.

Equal normalised specs cost one dict comparison, and only resources that differ are
compared field by field, which keeps a 10,000-resource fleet in sync cheap to plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from okectl.engine.workspace import SecretResolver
from okectl.model.resources import (
    SENSITIVE,
    SUPPLIER_OWNED,
    ActualResource,
    Address,
    Resource,
    fingerprint,
    normalise,
)
from okectl.plans.changes import Change, FieldChange, Plan, Unmanaged


@dataclass(slots=True)
class _Compared:
    desired: dict[str, Any]
    actual: dict[str, Any]
    secret_changed: bool


def _exactly_equal(res: Resource, act: ActualResource) -> bool:
    """The common case, checked without normalising: every managed field already equal."""
    owned_fields = SUPPLIER_OWNED[res.kind]
    sensitive = SENSITIVE[res.kind]
    got = act.spec
    for key, want in res.spec.items():
        if key in sensitive:
            if want is not None:
                return False
        elif key not in owned_fields and got.get(key) != want:
            return False
    return True


def _compare(res: Resource, act: ActualResource, resolve_secret: SecretResolver) -> _Compared:
    owned_fields = SUPPLIER_OWNED[res.kind]
    desired: dict[str, Any] = {}
    actual: dict[str, Any] = {}
    secret_changed = False
    for key, want in res.spec.items():
        if key in owned_fields:
            continue
        if key in SENSITIVE[res.kind]:
            if want is None:
                continue
            value = resolve_secret(want)
            # An unresolvable reference cannot be compared; apply reports it when it writes.
            if value is not None and fingerprint(value) != act.spec.get("secret_fingerprint"):
                secret_changed = True
            continue
        desired[key] = normalise(want)
        actual[key] = normalise(act.spec.get(key))
    return _Compared(desired, actual, secret_changed)


def field_changes(
    before: dict[str, Any], after: dict[str, Any], sensitive: frozenset[str] = frozenset()
) -> list[FieldChange]:
    """Field-level changes, as dotted paths. A changed list also says which elements came
    and went (`list_elements`). Fields named in ``sensitive`` say only that they changed.
    A plain walk for the fields: both sides are small flat specs, and it runs on every
    changed resource of a fleet."""
    out: list[FieldChange] = []

    def walk(b: Any, a: Any, path: str) -> None:
        if isinstance(b, dict) and isinstance(a, dict):
            for key in sorted(set(b) | set(a), key=str):
                if b.get(key) != a.get(key):
                    walk(b.get(key), a.get(key), f"{path}.{key}" if path else str(key))
        elif b != a:
            if path.split(".")[0] in sensitive:
                out.append(FieldChange(path, None, None, sensitive=True))
            elif isinstance(b, list) and isinstance(a, list):
                elements = list_elements(b, a)
                if elements is None:
                    out.append(FieldChange(path, b, a))
                else:
                    out.append(FieldChange(path, b, a, added=elements[0], removed=elements[1]))
            else:
                out.append(FieldChange(path, b, a))

    walk(before, after, "")
    return out


def list_elements(before: list[Any], after: list[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """(added, removed) elements of a changed list, order ignored; None when the change is
    not a matter of whole elements coming and going (an element changed inside).

    DeepDiff, imported here and only here: it is needed for changed lists alone, and
    importing it costs more than planning a fleet that is in sync."""
    from deepdiff import DeepDiff

    found = DeepDiff(before, after, ignore_order=True)
    if set(found) - {"iterable_item_added", "iterable_item_removed", "values_changed", "type_changes"}:
        return None
    added = list(found.get("iterable_item_added", {}).values())
    removed = list(found.get("iterable_item_removed", {}).values())
    # Ignoring order, DeepDiff pairs an element that went with one that came and calls it
    # a changed value; for a whole element (`root[3]`) that is one removed and one added.
    for kind in ("values_changed", "type_changes"):
        for where, change in found.get(kind, {}).items():
            if not _WHOLE_ELEMENT.fullmatch(where):
                return None
            removed.append(change["old_value"])
            added.append(change["new_value"])
    return tuple(sorted(added, key=_element_key)), tuple(sorted(removed, key=_element_key))


_WHOLE_ELEMENT = re.compile(r"root\[\d+\]")


def _element_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _keep_environments_holding_unmanaged(plan: Plan) -> None:
    """Leave an environment alone when something okectl does not own lives in it.

    The supplier refuses to delete an environment that still has clients or roles, so
    deleting its owned children first would strip it and then fail, on every run.
    """
    holders: dict[Address, list[str]] = {}
    for u in plan.unmanaged:
        if u.address.parent is not None:
            holders.setdefault(u.address.parent, []).append(str(u.address))
    doomed = {
        c.address
        for c in plan.changes
        if c.action == "delete" and c.address.kind == "environment" and c.address in holders
    }
    if not doomed:
        return
    kept = [
        c
        for c in plan.changes
        if c.action == "delete" and (c.address in doomed or c.address.parent in doomed)
    ]
    plan.changes = [c for c in plan.changes if c not in kept]
    for env in sorted(doomed):
        plan.warnings.append(
            f"{env}: not deleted, nor anything in it: it holds resources okectl does not own "
            f"({', '.join(sorted(holders[env]))}); remove them at the supplier or import them, "
            "then plan again"
        )
    for c in kept:
        plan.unmanaged.append(
            Unmanaged(c.address, "kept: its environment holds resources okectl does not own")
        )
    plan.unmanaged.sort(key=lambda u: u.address)


def _reading_order(change: Change) -> tuple[str, str, str, bool, str, str]:
    a = change.address
    # An environment reads before its clients and roles.
    return (a.supplier, a.school, a.environment, a.kind != "environment", a.kind, a.name)


def diff_resources(
    desired: Iterable[Resource],
    actual: Iterable[ActualResource],
    *,
    repository: str,
    resolve_secret: SecretResolver,
    locate: Callable[[Resource], tuple[str, int, int] | None] | None = None,
) -> Plan:
    """Compare desired with actual by address. Only owned resources are updated or deleted."""
    plan = Plan()
    actual_by_addr = {a.address: a for a in actual}
    seen: set[Address] = set()
    for res in desired:
        addr = res.address
        seen.add(addr)
        act = actual_by_addr.get(addr)
        if act is not None and act.unaddressable is not None:
            plan.unmanaged.append(Unmanaged(addr, f"cannot be addressed: {act.unaddressable}"))
            continue
        if act is None:
            src = locate(res) if locate is not None else None
            plan.changes.append(Change(addr, "create", None, dict(res.spec), source=src))
            continue
        owned = act.owned_by(repository)
        # Whole-dict equality first: one C-level comparison settles most in-sync resources.
        if owned and (res.spec == act.spec or _exactly_equal(res, act)):
            plan.in_sync += 1
            continue
        cmp = _compare(res, act, resolve_secret)
        if owned and not cmp.secret_changed and cmp.desired == cmp.actual:
            plan.in_sync += 1
            continue
        if not owned and act.labels.get("managed-by") == "okectl":
            plan.unmanaged.append(
                Unmanaged(addr, f"managed by another repository ({act.labels.get('okectl/repository')})")
            )
            continue
        changes = field_changes(cmp.actual, cmp.desired) if cmp.desired != cmp.actual else []
        if cmp.secret_changed:
            changes.append(FieldChange("secret", None, None, sensitive=True))
        plan.changes.append(
            Change(
                addr,
                "update",
                dict(act.spec),
                dict(res.spec),
                changes,
                etag=act.etag,
                adopt=not owned,
                # Looked up only for changes: finding a position in the YAML costs more
                # than comparing the resource.
                source=locate(res) if locate is not None else None,
            )
        )
    for addr, act in actual_by_addr.items():
        if addr in seen:
            continue
        if act.unaddressable is not None:
            plan.unmanaged.append(Unmanaged(addr, f"cannot be addressed: {act.unaddressable}"))
            continue
        if act.owned_by(repository):
            plan.changes.append(Change(addr, "delete", dict(act.spec), None, etag=act.etag))
        else:
            owner = act.labels.get("okectl/repository")
            reason = (
                f"managed by another repository ({owner})"
                if act.labels.get("managed-by") == "okectl"
                else "not in the configuration and not created by okectl"
            )
            plan.unmanaged.append(Unmanaged(addr, reason))
    _keep_environments_holding_unmanaged(plan)
    plan.changes.sort(key=_reading_order)
    plan.unmanaged.sort(key=lambda u: u.address)
    return plan
