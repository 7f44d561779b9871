"""`okectl validate`: load, check references, resolve; one summary or every problem."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from okectl.config.models import PLAIN_ADAPTERS
from okectl.config.references import check_references
from okectl.config.repository import DesiredState, load_state_partially
from okectl.config.resolve import desired_resources
from okectl.config.settings import Settings, load_settings
from okectl.errors import Problem, ValidationFailed
from okectl.files import write_atomic
from okectl.model.resources import Resource
from okectl.model.secrets import SecretRoots, refusal


@dataclass(frozen=True)
class Validated:
    state: DesiredState
    resources: list[Resource]
    settings: Settings

    def summary(self) -> str:
        kinds = Counter(r.kind for r in self.resources)
        return (
            f"valid: {len(self.state.schools)} schools, {len(self.state.suppliers)} suppliers, "
            f"{len(self.state.profiles)} profiles; {len(self.resources)} resources "
            f"({kinds['environment']} environments, {kinds['client']} clients, {kinds['role']} roles)"
        )


def validate_repository(root: Path) -> Validated:
    """The desired state, its resources and the repository's settings (okectl.yaml), or
    ValidationFailed with every problem of them all."""
    problems: list[Problem] = []
    settings: Settings | None = None
    try:
        settings = load_settings(root)
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    # Files that fail their schema do not hide the cross-file problems of the others.
    state, loading = load_state_partially(root)
    problems.extend(loading)
    problems.extend(check_references(state))
    if any(
        s.api is not None and (s.api.provider not in PLAIN_ADAPTERS or s.api.settings)
        for s in state.suppliers.values()
    ):
        # The registry (and every installed package's entry points) only when an adapter
        # has something to check.
        from okectl.providers.registry import check_adapter_settings

        problems.extend(check_adapter_settings(state))
    if settings is not None:
        problems.extend(check_secret_references(state, settings.secret_roots))
    if state.rules is not None:
        # Rule definitions are configuration too: a CEL expression that does not compile
        # is reported at its own line with every other problem.
        from okectl.policy.engine import check_rule_definitions

        problems.extend(check_rule_definitions(state))
    if problems or settings is None:
        raise ValidationFailed(problems)
    return Validated(state, desired_resources(state), settings)


def check_secret_references(state: DesiredState, roots: SecretRoots) -> list[Problem]:
    """Every secret reference that points where okectl.yaml allows no secret from, at its
    line: found by validate already, so a pull request cannot point one at the machine."""
    problems: list[Problem] = []
    for sid, supplier in state.suppliers.items():
        auth = supplier.api.auth if supplier.api is not None else None
        if auth is not None:
            why = refusal(auth.client_secret.describe(), roots)
            if why is not None:
                problems.append(state.problem("supplier", sid, ("api", "auth", "client_secret"), why))
    for code, school in state.schools.items():
        for sid, conn in school.connections.items():
            for system, client in conn.clients.items():
                if client.secret is None:
                    continue
                why = refusal(client.secret.describe(), roots)
                if why is not None:
                    loc = ("connections", sid, "clients", system, "secret")
                    problems.append(state.problem("school", code, loc, why))
    return problems


@contextmanager
def edited_copy(root: Path, files: dict[str, tuple[str, str]], *, what: str) -> Iterator[Path]:
    """A scratch copy of the repository with ``files`` ({path: (old, new)}) written: where
    an edit (bump, import) is validated before the real files are touched."""
    with tempfile.TemporaryDirectory(prefix="okectl-edit-") as tmp:
        scratch = Path(tmp) / "repo"
        shutil.copytree(root, scratch, ignore=shutil.ignore_patterns(".git", ".okectl", "__pycache__"))
        for rel, (_, new) in files.items():
            write_atomic(scratch / rel, new, what=what, durable=False)
        yield scratch
