"""The forge's issues API on loopback, and the action's incidents step run as CI runs it."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from okectl.cli.action import main as action_main
from tests.conftest import CliResult, run_cli
from tests.gitops.github_api import TOKEN, GitHubState, github_api

REPOSITORY = "school/config"
RUN_URL = "https://github.example/school/config/actions/runs/42"


@dataclass
class Forge:
    state: GitHubState
    url: str

    def reconcile(self, repo: Path, *args: str) -> CliResult:
        """`python -m okectl.cli.action incidents`, as the workflows run it."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = action_main(["incidents", "--repo", str(repo), *args])
        return CliResult(code, out.getvalue(), err.getvalue())

    def issues(self, state: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.state.issues if state is None or i["state"] == state]

    def comments(self, number: int) -> list[str]:
        return [c["body"] for c in self.state.comments.get(number, [])]

    def writes_during(self, repo: Path, *args: str) -> list[tuple[str, str]]:
        before = len(self.state.writes)
        result = self.reconcile(repo, *args)
        assert result.exit_code == 0, result.out + result.err
        return [(c.method, c.path) for c in self.state.writes[before:]]


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch) -> Iterator[Forge]:
    state = GitHubState()
    with github_api(state) as url:
        for name, value in {
            "GITHUB_API_URL": url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "42",
        }.items():
            monkeypatch.setenv(name, value)
        yield Forge(state, url)


def incidents(repo: Path, *args: str) -> dict[str, Any]:
    """`okectl incidents --output json`, by key."""
    result = run_cli("incidents", "--repo", str(repo), "--output", "json", *args)
    assert result.exit_code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return {i["key"]: i for i in doc["incidents"]}
