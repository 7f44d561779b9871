"""A repository loaded once: what every command works on.

The edge (the command line, or a test) loads the workspace once per command and hands it
down; nothing below re-reads the repository by path. It holds the repository's root, its
settings (okectl.yaml), the validated desired state with its resources, the one way to
read a secret reference, and the clock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from okectl.config.repository import DesiredState
from okectl.config.settings import Settings
from okectl.engine.validate import Validated, validate_repository
from okectl.model.clock import SYSTEM, Clock
from okectl.model.resources import Address, Resource
from okectl.model.secrets import SecretRoots, read_secret

# Turns a secret reference (env:NAME, file:PATH) into its value; None when it is not set.
SecretResolver = Callable[[str], str | None]


def secret_resolver(roots: SecretRoots) -> SecretResolver:
    """Reads secret references only where okectl.yaml allows (``roots``), each once.

    A reference okectl.yaml does not allow, or a file that is not a small regular file,
    raises SecretRefused: it stops the run with one line."""
    cache: dict[str, str | None] = {}

    def resolve(ref: str) -> str | None:
        if ref not in cache:
            cache[ref] = read_secret(ref, roots)
        return cache[ref]

    return resolve


@dataclass(frozen=True)
class Revision:
    """The git commit the repository is at (None outside git), and whether the work tree
    has uncommitted changes."""

    commit: str | None
    dirty: bool


@dataclass(frozen=True, eq=False)
class Workspace:
    root: Path
    validated: Validated
    resolve_secret: SecretResolver = field(repr=False)
    clock: Clock = SYSTEM

    @property
    def state(self) -> DesiredState:
        return self.validated.state

    @property
    def resources(self) -> list[Resource]:
        return self.validated.resources

    @property
    def settings(self) -> Settings:
        return self.validated.settings

    @property
    def repository(self) -> str:
        """The repository's id, as ownership labels carry it."""
        return self.validated.settings.repository

    @property
    def secret_roots(self) -> SecretRoots:
        return self.validated.settings.secret_roots

    @functools.cached_property
    def desired(self) -> dict[Address, Resource]:
        """The desired resources by address."""
        return {r.address: r for r in self.validated.resources}

    @functools.cached_property
    def revision(self) -> Revision:
        """Asked of git once, and only by the commands that record it."""
        from okectl.config.revision import repo_state

        commit, dirty = repo_state(self.root)
        return Revision(commit, dirty)


def load_workspace(root: Path, *, clock: Clock | None = None) -> Workspace:
    """The repository at ``root``, validated, or ValidationFailed with every problem.

    The one place the core reads a repository's configuration: a command's edge calls it
    once; an edit (import, bump) validates its scratch copy through it too."""
    root = root.resolve()
    validated = validate_repository(root)
    return Workspace(
        root=root,
        validated=validated,
        clock=clock or SYSTEM,
        resolve_secret=secret_resolver(validated.settings.secret_roots),
    )
