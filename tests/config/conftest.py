"""The configuration tests' fixtures: the tiny valid repository of ``tests.support.repos``
(``BASE``) with one place broken, and the problems validate finds in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import CliResult, Problems
from tests.support.repos import BASE, BuildRepo


@pytest.fixture
def repo(build_tree: Callable[[dict[str, str]], Path]) -> BuildRepo:
    """The base repository with some files replaced (or removed, when given None)."""

    def build(files: dict[str, str | None] | None = None) -> Path:
        merged: dict[str, str | None] = {**BASE, **(files or {})}
        return build_tree({rel: text for rel, text in merged.items() if text is not None})

    return build


@pytest.fixture
def problems(cli: Callable[..., CliResult]) -> Problems:
    """The problem lines of a validation that must fail cleanly: exit 1, no traceback."""

    def run(root: Path) -> list[str]:
        result = cli("validate", "--repo", str(root))
        assert result.exit_code == 1, result.out + result.err
        assert "Traceback" not in result.err
        assert "internal error" not in result.err
        assert result.out == ""
        lines: list[str] = result.err.splitlines()
        return lines

    return run
