"""The scope of a run: which schools and suppliers a plan covers, and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    schools: set[str] | None = None
    suppliers: set[str] | None = None
    reasons: tuple[str, ...] = ()
    # Schools named on the command line: a typo must not pass as "no changes". (A scope
    # from git may name a school whose file was removed, to plan its deletion.)
    named_schools: frozenset[str] = frozenset()

    def describe(self) -> str | None:
        parts = []
        if self.schools is not None:
            parts.append(f"schools {', '.join(sorted(self.schools)) or '(none)'}")
        if self.suppliers is not None:
            parts.append(f"suppliers {', '.join(sorted(self.suppliers)) or '(none)'}")
        return "scoped to " + "; ".join(parts) if parts else None
