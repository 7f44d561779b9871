"""The change-request tests' repository (``tests.support.change_requests.REPO``) with its
secret set, and a request written for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.requests.writer import WrittenRequest
from tests.support.change_requests import REPO, SECRET, write_requests


@pytest.fixture
def desk_repo(build_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESK_25LV_SECRET", SECRET)
    monkeypatch.delenv("OKECTL_SANDBOX_URL", raising=False)
    return build_tree(REPO)


@pytest.fixture
def requested(desk_repo: Path) -> tuple[Path, WrittenRequest]:
    written = write_requests(desk_repo)
    assert len(written) == 1
    return desk_repo, written[0]
