"""Fixtures of the git-backed tests: an empty sandbox served for the base repository, and a
fleet applied to a served sandbox, for drift."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.drift_fleet import Fleet, make_fleets
from tests.support.git import GitRepo
from tests.support.serving import serve_in_background


@pytest.fixture
def make_fleet(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Fleet]]:
    yield from make_fleets(make_repo, tmp_path, monkeypatch)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty sandbox served on a real socket, with the base repository's client secret
    set: its URL (in place of the seeded one of tests/conftest.py)."""
    with serve_in_background(tmp_path / "sandbox.db") as url:
        monkeypatch.setenv("OKECTL_SANDBOX_URL", url)
        monkeypatch.setenv("DELTA_11AA", "delta-11aa-client-secret")
        yield url
