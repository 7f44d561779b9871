"""The forge as the incidents tests meet it: the stand-in for GitHub's issues API with the
action's incidents step run against it (``Forge``), the variables of a workflow run, the
incidents okectl derives (``incidents``), and a verification record written by hand
(``record``, for the ``tests.support.git.BASE_FILES`` repository whose delta secret is
``SECRET``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from okectl.cli.action import main as action_main
from tests.support.cli import CliResult, run_cli, run_main
from tests.support.github_api import TOKEN, GitHubState

REPOSITORY = "school/config"
RUN_URL = "https://github.example/school/config/actions/runs/42"
SECRET = "dElTa-11aa-S3cret-value"
PROD = "delta/11AA/production"


@dataclass
class Forge:
    """The stand-in for GitHub's API (``tests.support.github_api``) at ``url``, holding
    ``state``, and the action's incidents step run against it."""

    state: GitHubState
    url: str

    def reconcile(self, repo: Path, *args: str) -> CliResult:
        """`python -m okectl.cli.action incidents`, as the workflows run it."""
        return run_main(action_main, "incidents", "--repo", str(repo), *args)

    def issues(self, state: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.state.issues if state is None or i["state"] == state]

    def comments(self, number: int) -> list[str]:
        return [c["body"] for c in self.state.comments.get(number, [])]

    def writes_during(self, repo: Path, *args: str) -> list[tuple[str, str]]:
        before = len(self.state.writes)
        result = self.reconcile(repo, *args)
        assert result.exit_code == 0, result.out + result.err
        return [(c.method, c.path) for c in self.state.writes[before:]]


def incidents(repo: Path, *args: str) -> dict[str, Any]:
    """`okectl incidents --output json`, by key."""
    result = run_cli("incidents", "--repo", str(repo), "--output", "json", *args)
    assert result.exit_code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return {i["key"]: i for i in doc["incidents"]}


def forge_environment(url: str) -> dict[str, str]:
    """The variables a workflow run has, with the GitHub API at ``url``."""
    return {
        "GITHUB_API_URL": url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
    }


def record(
    repo: Path, drift: dict[str, str] | None = None, *, passed: int = 2, supplier: str = "delta"
) -> None:
    """A verification record written by hand, as anyone with write access to the repository
    could: one run of OKE 1.0 over ``PROD`` and two more environments, ``drift`` found."""
    runs: dict[str, Any] = {
        "1.0": {
            "date": "2026-11-27",
            "level": 2,
            "passed_level": passed if not drift else 1,
            "status": "pass" if not drift and passed >= 2 else "fail",
            "environments": [PROD, "delta/11AA/acceptance", "delta/22BB/production"],
            "drift": drift or {},
        }
    }
    path = repo / "verification" / f"{supplier}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"supplier": supplier, "oke_versions": runs}))
