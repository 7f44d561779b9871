"""``policies/calendar.yaml``: the windows in which changes to some environments wait.

An exam period is the case in point: while students sit exams, the test-administration
suppliers' production environments must not change under them. A window names its days
(first and last, both frozen) and what it freezes; by default the production environments
of every supplier that plays the test-administration role (``ta``). Plan marks a change
inside a window "frozen", apply refuses it unless broken open on purpose, promotion waits
for the window to end, and the ``freeze`` rule kind reports configuration changed in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from okectl.config.hints import did_you_mean
from okectl.config.models import EnvironmentType, FunctionalRole, IsoDate, Model, Slug, Supplier
from okectl.config.policies import Pattern, is_pattern, matches
from okectl.errors import Problem

if TYPE_CHECKING:
    from okectl.config.repository import DesiredState

# Overlapping or back-to-back windows freeze an environment longer than any one of them;
# the search for the first free day stops here (a calendar is a few windows a year).
_MAX_THAW_STEPS = 366


class FreezeScope(Model):
    """What a window freezes; an absent list means all."""

    environment_types: Annotated[list[EnvironmentType], Field(min_length=1)] | None = Field(
        default=None, description="Environment types (production, acceptance, test, pilot, chain-test)"
    )
    suppliers: Annotated[list[Pattern], Field(min_length=1)] | None = Field(
        default=None, description="Supplier ids or patterns"
    )
    supplier_roles: Annotated[list[FunctionalRole], Field(min_length=1)] | None = Field(
        default=None, description="Suppliers playing one of these functional roles (sis, tpl, ta)"
    )
    schools: Annotated[list[Pattern], Field(min_length=1)] | None = Field(
        default=None, description="School codes or patterns"
    )

    def selects(self, supplier: Supplier, school: str, env_type: str | None) -> bool:
        return (
            (self.environment_types is None or env_type in self.environment_types)
            and matches(self.suppliers, supplier.id)
            and (self.supplier_roles is None or bool(set(self.supplier_roles) & set(supplier.roles)))
            and matches(self.schools, school)
        )


# An exam period freezes what students meet while they sit exams: production at the
# suppliers that administer tests.
DEFAULT_FREEZE = (FreezeScope(environment_types=["production"], supplier_roles=["ta"]),)


class FreezeWindow(Model):
    name: Slug = Field(description="What plan, apply and promote call the window, e.g. exams-2027-spring")
    description: str | None = Field(default=None, description="One line: what the window is for")
    start: IsoDate = Field(description="The first frozen day (YYYY-MM-DD)")
    end: IsoDate = Field(description="The last frozen day (YYYY-MM-DD); changes may go in the day after")
    freeze: Annotated[list[FreezeScope], Field(min_length=1)] = Field(
        default_factory=lambda: list(DEFAULT_FREEZE),
        description="What the window freezes; default: the production environments of every supplier "
        "with the test-administration role (ta)",
    )

    @model_validator(mode="after")
    def _in_order(self) -> FreezeWindow:
        if self.end < self.start:
            raise PydanticCustomError(
                "window_dates",
                "end {end} is before start {start}; a window ends on or after its start",
                {"end": str(self.end), "start": str(self.start)},
            )
        return self

    @property
    def dates(self) -> str:
        return f"{self.start} to {self.end}"

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end

    def freezes(self, supplier: Supplier, school: str, env_type: str | None) -> bool:
        return any(scope.selects(supplier, school, env_type) for scope in self.freeze)


class Calendar(Model):
    windows: list[FreezeWindow] = Field(
        default_factory=list, description="Freeze windows, e.g. exam periods; order does not matter"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Calendar:
        names = [w.name for w in self.windows]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise PydanticCustomError(
                "unique_names", "window name '{name}' is used twice; names must be unique", {"name": twice[0]}
            )
        return self


@dataclass(frozen=True, slots=True)
class Freeze:
    """An environment frozen on a day: by which window, and the first day it is not."""

    window: FreezeWindow
    thaw: date

    def describe(self) -> str:
        """The window's name and dates, as a mark and a gate say them."""
        return f"freeze window {self.window.name} ({self.window.dates})"


def frozen(
    calendar: Calendar | None, supplier: Supplier, school: str, env_type: str | None, day: date
) -> Freeze | None:
    """Whether a window freezes this environment on ``day``, and until when; None when not.

    The thaw day is the first day no window freezes it, so back-to-back windows read as
    one freeze that lasts until the later one ends."""
    if calendar is None:
        return None

    def window_on(when: date) -> FreezeWindow | None:
        return next(
            (w for w in calendar.windows if w.covers(when) and w.freezes(supplier, school, env_type)),
            None,
        )

    first = window_on(day)
    if first is None:
        return None
    thaw = first.end + timedelta(days=1)
    for _ in range(_MAX_THAW_STEPS):
        later = window_on(thaw)
        if later is None:
            break
        thaw = later.end + timedelta(days=1)
    return Freeze(first, thaw)


def check_calendar(state: DesiredState) -> list[Problem]:
    """A window freezing a supplier or school (by exact name) that does not exist."""
    calendar = state.calendar
    if calendar is None:
        return []
    problems: list[Problem] = []
    for i, window in enumerate(calendar.windows):
        for j, scope in enumerate(window.freeze):
            for field, known in (("suppliers", state.suppliers), ("schools", state.schools)):
                for k, name in enumerate(getattr(scope, field) or []):
                    if is_pattern(name) or name in known or (field[:-1], name) in state.unparsed:
                        continue
                    problems.append(
                        state.problem(
                            "policy",
                            "calendar",
                            ("windows", i, "freeze", j, field, k),
                            f"unknown {field[:-1]} {name!r}{did_you_mean(name, list(known))}",
                        )
                    )
    return problems
