"""``policies/rollout.yaml``: the waves a new OKE version reaches the schools in, and the
gates ``okectl promote`` holds each step to.

A version moves through the stages test → acceptance → production, by environment type,
and through the waves in the order they are written: a wave is a named group of schools
(codes, or patterns with ``*``). A school belongs to the first wave that selects it, so a
last wave ``schools: ["*"]`` reads as "everyone else".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from okectl.config.hints import did_you_mean
from okectl.config.models import Model, Slug
from okectl.config.policies import Pattern, is_pattern, matches
from okectl.errors import Problem

if TYPE_CHECKING:
    from okectl.config.repository import DesiredState

Stage = Literal["test", "acceptance", "production"]
# By environment type; pilot and chain-test environments are not stages of a rollout.
STAGES: tuple[Stage, ...] = ("test", "acceptance", "production")


class Gates(Model):
    min_level: Annotated[int, Field(ge=0, le=4)] = Field(
        default=3, description="The okectl verify level the previous stage must have passed"
    )
    max_verify_age_days: Annotated[int, Field(ge=1)] = Field(
        default=14, description="How many days a recorded verification counts for"
    )
    soak_days: Annotated[int, Field(ge=0)] = Field(
        default=7, description="Days the version runs on the previous stage before it moves on"
    )


class Wave(Model):
    name: Slug = Field(description="What okectl promote --wave names")
    description: str | None = None
    schools: Annotated[list[Pattern], Field(min_length=1)] = Field(
        description="School codes, or patterns with * (a school belongs to the first wave selecting it)"
    )


class Rollout(Model):
    gates: Gates = Field(default_factory=Gates, description="What a promotion must show first")
    waves: Annotated[list[Wave], Field(min_length=1)] = Field(
        description="Named groups of schools, in the order a version reaches them"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Rollout:
        names = [w.name for w in self.waves]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise PydanticCustomError(
                "unique_names", "wave name '{name}' is used twice; names must be unique", {"name": twice[0]}
            )
        return self

    def wave_of(self, school: str) -> Wave | None:
        """The first wave that selects the school."""
        return next((w for w in self.waves if matches(w.schools, school)), None)

    def members(self, wave: Wave, schools: list[str]) -> list[str]:
        """The schools (of ``schools``) that belong to ``wave``: it is the first to select them."""
        return [code for code in schools if self.wave_of(code) is wave]


def check_rollout(state: DesiredState) -> list[Problem]:
    """A wave naming a school that does not exist, or one an earlier wave holds already."""
    rollout = state.rollout
    if rollout is None:
        return []
    problems: list[Problem] = []
    for i, wave in enumerate(rollout.waves):
        for j, code in enumerate(wave.schools):
            if is_pattern(code):
                continue
            loc = ("waves", i, "schools", j)
            first = rollout.wave_of(code)
            if code not in state.schools and ("school", code) not in state.unparsed:
                hint = did_you_mean(code, list(state.schools))
                problems.append(state.problem("policy", "rollout", loc, f"unknown school {code!r}{hint}"))
            elif first is not None and first is not wave:
                problems.append(
                    state.problem(
                        "policy",
                        "rollout",
                        loc,
                        f"school {code} is in wave {first.name} already (it selects it first); "
                        "a school is in one wave",
                    )
                )
    return problems
