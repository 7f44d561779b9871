"""The YAML shape of policies/rules.yaml and policies/waivers.yaml."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from okectl.config.models import EnvironmentType, IsoDate, Model, Slug

Severity = Literal["error", "warning"]


class Selector(Model):
    schools: list[str] | None = None
    suppliers: list[str] | None = None
    environment_types: list[EnvironmentType] | None = None


class Rule(Model):
    id: Slug
    kind: Slug = Field(description="A built-in rule kind, or `cel` for a custom expression")
    severity: Severity = "error"
    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    select: Selector = Selector()
    expression: str | None = None
    message: str | None = None


class RuleSet(Model):
    rules: list[Rule] = Field(default_factory=list)


class Waiver(Model):
    policy: Slug
    target: Annotated[str, Field(min_length=1)]
    reason: str
    owner: str
    expires: IsoDate


class WaiverSet(Model):
    waivers: list[Waiver] = Field(default_factory=list)
