"""Fixtures of the git-backed tests: a fleet applied to a served sandbox, for drift."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.drift_fleet import Fleet, make_fleets
from tests.support.git import GitRepo


@pytest.fixture
def make_fleet(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Fleet]]:
    yield from make_fleets(make_repo, tmp_path, monkeypatch)
