"""A hostile corpus: configuration files, secret references and supplier answers made to
break okectl. Each must end in one clear line, never in an absence or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Validate, clean_failure, run_cli
from tests.support.repos import BASE, write_tree


@pytest.fixture
def base_repo(tmp_path: Path) -> Path:
    """A small valid repository (one school, two suppliers, embedded sandbox)."""
    return write_tree(tmp_path / "repo", dict(BASE))


@pytest.fixture
def validate() -> Validate:
    def run(root: Path) -> list[str]:
        return clean_failure(run_cli("validate", "--repo", str(root)))

    return run
