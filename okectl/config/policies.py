"""The YAML shape of policies/rules.yaml and policies/waivers.yaml.

The parameters of each rule kind are checked by the engine (``check_rule_definitions``)
rather than here, so a bad parameter is reported at its own line with the kind's
accepted parameters, and a new kind needs no change to this file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from okectl.config.models import EnvironmentType, IsoDate, Model, Slug

Severity = Literal["error", "warning"]

Pattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    Field(description="An exact id or a pattern where * matches any text, e.g. '2*' or 'toets-*'"),
]



def matches(patterns: Sequence[str] | None, value: str | None) -> bool:
    """Whether ``value`` is selected by a list of ids or * patterns (None selects everything)."""
    if patterns is None:
        return True
    if value is None:
        return False
    return any(p == value or (is_pattern(p) and fnmatch.fnmatchcase(value, p)) for p in patterns)


def is_pattern(text: str) -> bool:
    return "*" in text or "?" in text


KIND_HELP = (
    "A built-in rule kind (max-environments, profile-environment-types, profile-required, "
    "supported-version, ooapi-version, acceptance-not-behind, version-spread, "
    "supplier-supports-version, sso-federation, sso-mode, privacy, flow-6-dpia, certification, "
    "supplier-role-mapping, school-roles, separation-of-duties, minimal-scopes, verified, request-age, "
    "freeze), "
    "or `cel` for a custom expression"
)


class Selector(Model):
    """Which part of the fleet a rule or waiver applies to; an absent list means all."""

    schools: Annotated[list[Pattern], Field(min_length=1)] | None = Field(
        default=None, description="School codes or patterns"
    )
    suppliers: Annotated[list[Pattern], Field(min_length=1)] | None = Field(
        default=None, description="Supplier ids or patterns"
    )
    environment_types: Annotated[list[EnvironmentType], Field(min_length=1)] | None = Field(
        default=None, description="Environment types (production, acceptance, test, pilot, chain-test)"
    )


class Rule(Model):
    id: Slug = Field(description="The policy id findings and waivers refer to")
    kind: Annotated[str, StringConstraints(min_length=1)] = Field(description=KIND_HELP)
    severity: Severity = Field(
        default="error", description="`error` blocks apply (exit 3); `warning` is reported only"
    )
    description: str | None = Field(default=None, description="One line: what the rule demands")
    help: str | None = Field(default=None, description="Why the rule exists and how to fix a finding")
    params: dict[str, Any] = Field(default_factory=dict, description="The rule kind's parameters")
    select: Selector = Field(default=Selector(), description="Where the rule applies; default everywhere")
    expression: str | None = Field(
        default=None,
        description="kind cel: a CEL expression over school, supplier, connection, env, catalogue "
        "and today that must be true for every selected environment",
    )
    message: str | None = Field(
        default=None,
        description="kind cel: the finding's message; {school.code}-style placeholders are filled in",
    )


class RuleSet(Model):
    rules: list[Rule] = Field(default_factory=list)


class Waiver(Model):
    policy: Slug = Field(description="The id of the rule this waiver exempts from")
    target: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        default=None,
        description="A resource address (supplier/school/environment[/client|role/name]), an address "
        "prefix such as supplier/school, a school code or a supplier id; * matches any text",
    )
    select: Selector | None = Field(default=None, description="Instead of target: a selector")
    reason: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Why the exception is acceptable"
    )
    owner: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Who answers for the exception (a person or team, with an e-mail address)"
    )
    expires: IsoDate = Field(description="After this date the waiver no longer applies")

    @model_validator(mode="before")
    @classmethod
    def _target_or_select(cls, value: Any) -> Any:
        if isinstance(value, dict) and ("target" in value) == ("select" in value):
            raise PydanticCustomError(
                "waiver_target",
                "give exactly one of target (an address) or select (schools, suppliers, environment_types)",
            )
        return value


class WaiverSet(Model):
    waivers: list[Waiver] = Field(default_factory=list)
