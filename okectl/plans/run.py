"""A plan as one run made it: the changes, and what they were planned from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from okectl.model.resources import ActualResource, Address
from okectl.model.scope import Scope
from okectl.plans.changes import Plan

if TYPE_CHECKING:
    from okectl.policy.findings import PolicyReport


@dataclass
class PlanRun:
    plan: Plan
    repository: str
    scope: Scope
    commit: str | None
    dirty: bool
    created_at: str
    # Problems the safety guards found (a plan command refuses to show a plan with any).
    safety: list[str] = field(default_factory=list)
    # The policy findings the plan reports (those of its scope), when evaluated.
    policy: PolicyReport | None = None
    # What the refresh found, by address, and the owned environments per supplier the
    # mass-deletion guard counts: a saved plan is checked against these.
    actual: dict[Address, ActualResource] = field(default_factory=dict, repr=False)
    owned_envs: dict[str, int] = field(default_factory=dict)
