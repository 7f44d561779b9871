"""`okectl validate`: load, check references, resolve; one summary or every problem."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from okectl.config.references import check_references
from okectl.config.repository import DesiredState, load_state_partially
from okectl.config.resolve import desired_resources
from okectl.errors import ValidationFailed
from okectl.model.resources import Resource


@dataclass(frozen=True)
class Validated:
    state: DesiredState
    resources: list[Resource]

    def summary(self) -> str:
        kinds = Counter(r.kind for r in self.resources)
        return (
            f"valid: {len(self.state.schools)} schools, {len(self.state.suppliers)} suppliers, "
            f"{len(self.state.profiles)} profiles; {len(self.resources)} resources "
            f"({kinds['environment']} environments, {kinds['client']} clients, {kinds['role']} roles)"
        )


def validate_repository(root: Path) -> Validated:
    """The desired state and its resources, or ValidationFailed with every problem."""
    # Files that fail their schema do not hide the cross-file problems of the others.
    state, problems = load_state_partially(root)
    problems.extend(check_references(state))
    from okectl.providers.registry import check_adapter_settings

    problems.extend(check_adapter_settings(state))
    if state.rules is not None:
        # Rule definitions are configuration too: a CEL expression that does not compile
        # is reported at its own line with every other problem.
        from okectl.policy.engine import check_rule_definitions

        problems.extend(check_rule_definitions(state))
    if problems:
        raise ValidationFailed(problems)
    return Validated(state, desired_resources(state))
