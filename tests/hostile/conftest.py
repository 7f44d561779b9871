"""A hostile corpus: configuration files, secret references and supplier answers made to
break okectl. Each must end in one clear line, never in an absence or a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.config.conftest import BASE
from tests.conftest import CliResult, run_cli, write_tree
from tests.gitops.conftest import make_repo  # noqa: F401 (a git repository, for bump)

# The real sandbox server, for tests where a supplier is involved.
from tests.sandbox.conftest import sandbox, seed_file  # noqa: F401

HERE = Path(__file__).resolve().parent


@pytest.fixture
def base_repo(tmp_path: Path) -> Path:
    """A small valid repository (one school, two suppliers, embedded sandbox)."""
    return write_tree(tmp_path / "repo", dict(BASE))


def clean_failure(result: CliResult) -> list[str]:
    """The error lines of a command that failed as it should: exit 1, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.out, result.err)
    assert "Traceback" not in result.err
    return result.err.strip().splitlines()


Validate = Callable[[Path], list[str]]


@pytest.fixture
def validate() -> Validate:
    def run(root: Path) -> list[str]:
        return clean_failure(run_cli("validate", "--repo", str(root)))

    return run
