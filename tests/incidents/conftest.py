"""The incidents tests' forge: the stand-in for GitHub's API on loopback, with the
variables a workflow run has pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.forge import Forge, forge_environment
from tests.support.github_api import GitHubState, github_api


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch) -> Iterator[Forge]:
    state = GitHubState()
    with github_api(state) as url:
        for name, value in forge_environment(url).items():
            monkeypatch.setenv(name, value)
        yield Forge(state, url)
