"""The policy tests' fixtures: the repository of ``tests.support.policy`` with a test's
rules and edits, and its policies evaluated as of a fixed day."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.policy import Check, Edits, Repo, build_repo, evaluate_policies


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """The base repository with the given rules; ``edit`` replaces text in a base file
    (each replacement must apply), ``files`` adds or replaces whole files."""

    def build(
        rules: str | None = None, *, edit: Edits | None = None, files: dict[str, str] | None = None
    ) -> Path:
        return build_repo(tmp_path / "repo", rules, edit=edit, files=files)

    return build


@pytest.fixture
def check() -> Check:
    """Evaluate a repository's policies as of a fixed date."""
    return evaluate_policies


@pytest.fixture
def findings(repo: Repo, check: Check) -> Callable[..., list[str]]:
    """The findings of one set of rules over the base repository with some edits, as
    ``path:line:col: severity[policy] address: message`` lines."""

    def run(
        rules: str, *, edit: Edits | None = None, files: dict[str, str] | None = None, **kw: Any
    ) -> list[str]:
        report = check(repo(rules, edit=edit, files=files), **kw)
        return sorted(str(f) for f in report.findings)

    return run
