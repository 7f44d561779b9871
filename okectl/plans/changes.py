"""What must change at the suppliers: changes by address, with their field differences."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from okectl.model.redaction import SENSITIVE_CHANGE
from okectl.model.resources import Address

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    before: Any
    after: Any
    sensitive: bool = False
    # For a list whose elements were added or removed: those elements (the reader sees
    # `+ "21rc-toezicht"` rather than two whole lists to compare by eye). None otherwise.
    added: tuple[Any, ...] | None = None
    removed: tuple[Any, ...] | None = None

    @property
    def by_element(self) -> bool:
        return self.added is not None or self.removed is not None

    def to_json(self) -> dict[str, Any]:
        if self.sensitive:
            return {"path": self.path, "sensitive": True, "change": SENSITIVE_CHANGE}
        doc = {"path": self.path, "before": self.before, "after": self.after}
        if self.by_element:
            doc["added"] = list(self.added or ())
            doc["removed"] = list(self.removed or ())
        return doc


@dataclass(frozen=True, slots=True)
class Mark:
    """Something the plan says about a change beyond its action, which decides how apply
    treats it: how it is carried out (say "requested": sent to a supplier's support desk
    rather than written) or what holds it back (say "frozen": inside a freeze window).
    Apply carries out a marked change only when it knows the mark; any other it does not
    attempt, and says why."""

    kind: str
    reason: str


@dataclass(slots=True)
class Change:
    address: Address
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    diff: list[FieldChange] = field(default_factory=list)
    etag: str | None = None
    # An update that also takes ownership of a resource made by hand at the supplier.
    adopt: bool = False
    # Where the change comes from in the YAML: (path, line, col), when known.
    source: tuple[str, int, int] | None = None
    marks: tuple[Mark, ...] = ()


@dataclass(slots=True)
class Unmanaged:
    address: Address
    reason: str


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    in_sync: int = 0
    warnings: list[str] = field(default_factory=list)
    # Environments per (supplier, school) before and after applying: for reports.
    env_counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Changes per action; an adoption counts as an update here (it is one)."""
        c = Counter(ch.action for ch in self.changes)
        return {a: c.get(a, 0) for a in ACTIONS}

    @property
    def adoptions(self) -> int:
        return sum(1 for ch in self.changes if ch.adopt)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> str:
        c = self.counts()
        if not self.changes:
            return f"No changes. {self.in_sync} resources in sync."
        # Taking ownership of what was made by hand is a different decision from an edit:
        # counted on its own, as Terraform counts imports, and only when there are any.
        adopt = self.adoptions
        adopting = f"{adopt} to adopt, " if adopt else ""
        return (
            f"Plan: {c['create']} to create, {adopting}{c['update'] - adopt} to update, "
            f"{c['delete']} to delete; {self.in_sync} in sync, {len(self.unmanaged)} unmanaged left alone."
        )
