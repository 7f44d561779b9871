"""What must change at the suppliers: changes by address, with their field differences."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from okectl.model.redaction import SENSITIVE_CHANGE
from okectl.model.resources import Address
from okectl.model.sla import Standing

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
# The marks of a supplier whose support desk makes the changes: a change still to ask it
# for (apply writes a change request), and one an open request already asks for.
TO_REQUEST = "to-request"
REQUESTED = "requested"


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
class Awaiting:
    """A change an open change request already asks a supplier's support desk for: shown as
    requested (its ``change`` carries the ``requested`` mark), never proposed again, until the
    supplier's confirmation is recorded or the request is rejected or cancelled."""

    change: Change
    request: str
    requested_on: date
    # Since when the supplier is waiting to act (the request, or its reopening), and for
    # how many days, against its support.sla_days and support.escalate_after_days.
    since: date
    age_days: int
    sla_days: int
    escalate_after_days: int
    standing: Standing

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.request,
            "requested_on": self.requested_on.isoformat(),
            "since": self.since.isoformat(),
            "age_days": self.age_days,
            "sla_days": self.sla_days,
            "escalate_after_days": self.escalate_after_days,
            "standing": self.standing,
        }


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
    # Changes open change requests already ask for: not changes to make, so neither counted
    # nor applied, but shown, so a reader sees what a support desk still has to do.
    awaiting: list[Awaiting] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Changes per action; an adoption counts as an update here (it is one)."""
        c = Counter(ch.action for ch in self.changes)
        return {a: c.get(a, 0) for a in ACTIONS}

    @property
    def adoptions(self) -> int:
        return sum(1 for ch in self.changes if ch.adopt)

    @property
    def has_changes(self) -> bool:
        """Whether there is anything to do: changes awaiting a supplier's confirmation are
        not (they were requested already)."""
        return bool(self.changes)

    @property
    def to_request(self) -> int:
        """Changes apply carries out by writing a change request."""
        return sum(1 for ch in self.changes if any(m.kind == TO_REQUEST for m in ch.marks))

    def summary(self) -> str:
        c = self.counts()
        n = len(self.awaiting)
        awaiting = f"{n} requested change{'s' if n != 1 else ''} awaiting confirmation" if n else ""
        if not self.changes:
            return f"No changes. {self.in_sync} resources in sync" + (f"; {awaiting}." if n else ".")
        # Taking ownership of what was made by hand is a different decision from an edit:
        # counted on its own, as Terraform counts imports, and only when there are any.
        adopt = self.adoptions
        adopting = f"{adopt} to adopt, " if adopt else ""
        asking = f" ({self.to_request} by change request)" if self.to_request else ""
        return (
            f"Plan: {c['create']} to create, {adopting}{c['update'] - adopt} to update, "
            f"{c['delete']} to delete{asking}; {self.in_sync} in sync, "
            f"{len(self.unmanaged)} unmanaged left alone" + (f"; {awaiting}." if n else ".")
        )
