"""What applying did, write by write, and how progress is reported while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from okectl.model.resources import Address

# unknown: okectl gave up on a write that may have reached the supplier all the same.
Status = Literal["applied", "failed", "unknown", "refused", "not-attempted"]
STATUSES: tuple[Status, ...] = ("applied", "failed", "unknown", "refused", "not-attempted")


@dataclass(slots=True)
class Outcome:
    address: Address
    action: str
    status: Status
    message: str = ""


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    # The journal of the run (a path), when one was kept.
    journal: str | None = None
    # The signal that stopped the run (SIGTERM, SIGINT), when one did.
    stopped_by: str | None = None

    def by_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return all(o.status == "applied" for o in self.outcomes)

    def counts(self) -> dict[Status, int]:
        return {s: len(self.by_status(s)) for s in STATUSES}

    def summary(self) -> str:
        n = self.counts()
        unknown = f"{n['unknown']} outcome unknown, " if n["unknown"] else ""
        text = (
            f"Apply: {n['applied']} applied, {n['failed']} failed, {unknown}{n['refused']} refused, "
            f"{n['not-attempted']} not attempted."
        )
        if not self.ok:
            text += " Run okectl plan and okectl apply again once the cause is fixed; it converges."
        return text


# Reading: told (supplier id, "reading" | "done" | "failed") as each supplier's read goes.
ReadProgress = Callable[[str, str], None]


class WriteProgress(Protocol):
    """Told how many writes an apply starts, then of each as soon as it is done (on the
    event loop: it must be quick)."""

    def start(self, total: int) -> None: ...

    def __call__(self, outcome: Outcome) -> None: ...


# Whether, and by which signal, a run was asked to stop: no write starts after that.
StopSignal = Callable[[], str | None]
