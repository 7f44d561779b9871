"""The one clock: the moment a run records, and what day it is for policies.

Every timestamp okectl writes (plans, journals, the apply lock, reports) and every "today"
a policy weighs (waiver expiry, end of support, release dates) comes from a ``Clock``; a
command gets one with its workspace, and a test can fix it.

``OKECTL_TODAY=YYYY-MM-DD`` evaluates policies as of another day: to preview what a
waiver's expiry or a version's end of support will break, or to make a run reproducible.
It moves the day, never the moments recorded in journals and plans.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from okectl.errors import OkectlError

TODAY_ENV = "OKECTL_TODAY"
Precision = Literal["seconds", "milliseconds"]


@dataclass(frozen=True)
class Clock:
    # A fixed moment (aware), for tests and reproducible runs; None: the system's clock.
    fixed: datetime | None = None
    # The day policies are evaluated for, when it is not today (a report as of a date).
    day: date | None = None

    def now(self) -> datetime:
        """The moment, in UTC."""
        return self.fixed.astimezone(UTC) if self.fixed is not None else datetime.now(UTC)

    def today(self) -> date:
        """The day policies are evaluated for: the clock's own day when it has one, else
        OKECTL_TODAY when set, else the local date."""
        if self.day is not None:
            return self.day
        value = os.environ.get(TODAY_ENV, "").strip()
        if value:
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise OkectlError(
                    f"{TODAY_ENV}={value!r} is not a date; use YYYY-MM-DD or unset it"
                ) from None
        return self.fixed.date() if self.fixed is not None else date.today()

    def stamp(self, precision: Precision = "seconds") -> str:
        """Now as ISO 8601 in UTC, the form every record okectl writes uses."""
        return self.now().isoformat(timespec=precision)

    def file_stamp(self) -> str:
        """Now in a form that sorts by time and is safe in a file name."""
        return self.now().strftime("%Y%m%dT%H%M%S%fZ")


SYSTEM = Clock()


def today() -> date:
    """The day of the system's clock (for callers without a workspace)."""
    return SYSTEM.today()
