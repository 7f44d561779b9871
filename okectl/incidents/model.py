"""Incidents and recoveries as data: what is wrong at a supplier now, and what passed again.

An incident is one failing check of one subject at one supplier. Its **key**,
``<subject>#<check>``, is the same on every run that finds the same failure, so every
run, the forge's issues and a promotion gate speak of the same incident. Its
**evidence** is what the sources say about the failure in a form that stays the same
while the failure does (a version served, a write's outcome and message, a request's
standing): its digest changes only when the evidence does. When it was seen is not
evidence, so a failure that persists makes no noise.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Source = Literal["verify", "writes", "requests"]
SOURCES: tuple[Source, ...] = ("verify", "writes", "requests")
# Someone else's words (a supplier's message, what an endpoint claimed) are cut here.
VALUE_LIMIT = 300
TITLE_LIMIT = 200


def plain(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` on one line of printable characters, at most ``limit`` of them: what
    someone else wrote cannot add lines, control sequences or bidirectional overrides."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def when(text: object) -> datetime | None:
    """A moment written with its offset (journals, plans, the forge); anything else is none."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of evidence: okectl's label, and a value. ``quoted`` values are someone
    else's words (a supplier's answer, a support desk's reason): shown as quoted text,
    never as Markdown."""

    label: str
    value: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Incident:
    supplier: str
    # What failed: a resource or environment address, a school at a supplier
    # (``supplier/school``), or the supplier itself (supplier-wide).
    subject: str
    check: str
    source: Source
    title: str
    facts: tuple[Fact, ...]
    # When the sources last saw it (shown, never part of the evidence).
    seen: str = ""
    # The environments it concerns, for a subject wider than one environment.
    environments: tuple[str, ...] = ()
    advice: str = ""
    # The supplier's status page and support address: context for whoever picks it up.
    status_page: str | None = None
    support: str | None = None

    @property
    def key(self) -> str:
        return incident_key(self.subject, self.check)

    @property
    def digest(self) -> str:
        """Changes exactly when the evidence does."""
        doc = [self.subject, self.check, self.title, [[f.label, f.value] for f in self.facts]]
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hashlib.sha256(raw).hexdigest()[:16]

    def concerns(self, supplier: str, environment: str | None = None) -> bool:
        """Whether this incident stands in the way of ``supplier`` (and, given, one of its
        environments, ``supplier/school/environment``): a supplier-wide incident concerns
        every environment it names, or all of them when it names none."""
        if self.supplier != supplier:
            return False
        if environment is None:
            return True
        if self.subject == environment or self.subject.startswith(environment + "/"):
            return True
        if environment in self.environments:
            return True
        return self.subject in (supplier, environment.rsplit("/", 1)[0]) and not self.environments


@dataclass(frozen=True, slots=True)
class Recovery:
    """Evidence that a check passes now: what passed, and when."""

    supplier: str
    subject: str
    check: str
    source: Source
    passed: str
    when: str

    @property
    def key(self) -> str:
        return incident_key(self.subject, self.check)


@dataclass(frozen=True)
class PlanSeen:
    """A plan okectl made (``plan --out`` or ``--output json``): within its scope, an
    address it has no change for is as the configuration wants it. That settles a write
    that failed or whose outcome is unknown before the plan was made, even when no later
    write of it was needed (the write was carried out after all)."""

    created_at: datetime
    schools: frozenset[str] | None
    suppliers: frozenset[str] | None
    changed: frozenset[str]

    def settles(self, address: str, written_at: datetime | None) -> bool:
        supplier, school = address.split("/")[:2]
        return (
            written_at is not None
            and self.created_at > written_at
            and (self.schools is None or school in self.schools)
            and (self.suppliers is None or supplier in self.suppliers)
            and address not in self.changed
        )

    def recovery(self, address: str, written_at: datetime | None) -> Recovery | None:
        if not self.settles(address, written_at):
            return None
        return Recovery(
            address.split("/", 1)[0],
            address,
            "write",
            "writes",
            f"the plan has nothing left to do at {address}",
            f"plan of {self.created_at.isoformat()}",
        )


@dataclass
class Incidents:
    """What the sources say now. ``healthy`` holds, per key, the evidence that the check
    passes; a key in neither list was not observed by this run and stays as it was."""

    open: list[Incident] = field(default_factory=list)
    healthy: dict[str, Recovery] = field(default_factory=dict)
    sources: tuple[Source, ...] = SOURCES
    plan: PlanSeen | None = None

    def recovery(self, key: str, failed_by: datetime | None = None) -> Recovery | None:
        """The evidence that the check of ``key`` passes now, if this run has any. A write
        the journals here do not know of is settled by a plan made after ``failed_by``
        (when its issue was last written: the write had failed by then)."""
        found = self.healthy.get(key)
        subject, _, check = key.rpartition("#")
        if found is None and self.plan is not None and check == "write" and "writes" in self.sources:
            found = self.plan.recovery(subject, failed_by)
        return found


def incident_key(subject: str, check: str) -> str:
    return f"{subject}#{check}"
