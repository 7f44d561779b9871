"""The desired-state difference between two refs, by resource address, with no API call."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from okectl.engine.diff import field_changes
from okectl.engine.workspace import load_workspace
from okectl.errors import ValidationFailed
from okectl.gitops.state import StateAtRefInvalid, state_at
from okectl.model.redaction import redact_spec
from okectl.model.resources import SENSITIVE, Address, Resource
from okectl.plans.changes import FieldChange


@dataclass
class StateDiff:
    base: str
    target: str
    added: list[Resource] = field(default_factory=list)
    removed: list[Resource] = field(default_factory=list)
    changed: list[tuple[Address, list[FieldChange]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.base,
            "to": self.target,
            "summary": {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed)},
            "added": [{"address": str(r.address), "spec": redact_spec(r.kind, r.spec)} for r in self.added],
            "removed": [
                {"address": str(r.address), "spec": redact_spec(r.kind, r.spec)} for r in self.removed
            ],
            "changed": [
                {"address": str(a), "fields": [f.to_json() for f in fields]} for a, fields in self.changed
            ],
        }


def _field_diffs(before: Resource, after: Resource) -> list[FieldChange]:
    return field_changes(
        {**before.spec, "protected": before.protected},
        {**after.spec, "protected": after.protected},
        SENSITIVE[after.kind],
    )


def diff_states(before: list[Resource], after: list[Resource], *, base: str, target: str) -> StateDiff:
    old = {r.address: r for r in before}
    new = {r.address: r for r in after}
    result = StateDiff(base=base, target=target)
    result.added = [new[a] for a in sorted(new.keys() - old.keys(), key=str)]
    result.removed = [old[a] for a in sorted(old.keys() - new.keys(), key=str)]
    # By address text, so an environment comes right before its clients and roles.
    for address in sorted(old.keys() & new.keys(), key=str):
        fields = _field_diffs(old[address], new[address])
        if fields:
            result.changed.append((address, fields))
    return result


def diff_refs(root: Path, ref1: str, ref2: str | None) -> StateDiff:
    """The desired-state difference between two refs (``ref2`` None: the work tree, loaded
    as the workspace; two refs need no valid work tree)."""
    root = root.resolve()
    before, sha1 = state_at(root, ref1)
    if ref2 is None:
        try:
            after = load_workspace(root).validated
        except ValidationFailed as exc:
            raise StateAtRefInvalid("the work tree", exc.lines()) from None
        label2 = "the work tree"
    else:
        after, sha2 = state_at(root, ref2)
        label2 = f"{ref2} ({sha2[:7]})"
    return diff_states(before.resources, after.resources, base=f"{ref1} ({sha1[:7]})", target=label2)


