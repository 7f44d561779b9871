"""What applying did, write by write, and how progress is reported while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from okectl.model.resources import Address

# unknown: okectl gave up on a write that may have reached the supplier all the same.
# requested: written into a change request to the supplier's support desk, which makes the
# change; done as far as this run goes, and tracked until the supplier confirms it.
Status = Literal["applied", "requested", "failed", "unknown", "refused", "not-attempted"]
STATUSES: tuple[Status, ...] = ("applied", "requested", "failed", "unknown", "refused", "not-attempted")
# What a run may end with and still have done all it was asked.
DONE: frozenset[Status] = frozenset({"applied", "requested"})


@dataclass(slots=True)
class Outcome:
    address: Address
    action: str
    status: Status
    message: str = ""
    # The change request that carries the change (status requested).
    request: str | None = None


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
        return all(o.status in DONE for o in self.outcomes)

    @property
    def requests(self) -> list[str]:
        """The change requests this run wrote (or found already written), in order."""
        return list(dict.fromkeys(o.request for o in self.outcomes if o.request is not None))

    def counts(self) -> dict[Status, int]:
        return {s: len(self.by_status(s)) for s in STATUSES}

    def summary(self) -> str:
        n = self.counts()
        unknown = f"{n['unknown']} outcome unknown, " if n["unknown"] else ""
        requested = f"{n['requested']} requested, " if n["requested"] else ""
        text = (
            f"Apply: {n['applied']} applied, {requested}{n['failed']} failed, {unknown}"
            f"{n['refused']} refused, {n['not-attempted']} not attempted."
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
