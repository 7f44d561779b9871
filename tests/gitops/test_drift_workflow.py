"""The nightly workflow acts on each supplier's drift mode: the action's drift step and the
workflow's own steps run as GitHub's runner runs them (bash, their env: filled in), against
a fleet under git applied to the sandbox on a real socket, with a bare repository as the
remote and the stand-in for GitHub's API on loopback for the pull request and the issue."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from okectl.engine.workspace import load_workspace
from okectl.gitops.drift.detect import find_drift
from tests.support.action import ACTION, Runner
from tests.support.drift_fleet import Fleet
from tests.support.github_api import TOKEN, GitHubState, github_api
from tests.support.repos import PROJECT

pytestmark = pytest.mark.timeout(180)

DRIFT = yaml.safe_load((PROJECT / ".github/workflows/drift.yml").read_text(encoding="utf-8"))
STEPS = DRIFT["jobs"]["drift"]["steps"]
REPOSITORY = "school/config"


def _step(text: str) -> dict[str, object]:
    return next(s for s in STEPS if text in s.get("run", "") or text == s.get("name"))


@pytest.fixture
def api() -> Iterator[tuple[GitHubState, str]]:
    state = GitHubState()
    with github_api(state) as url:
        yield state, url


def _runner(fleet: Fleet, tmp_path: Path) -> Runner:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    for name, run in (("okectl", "-m okectl"), ("python", "")):
        script = bin_dir / name
        # pip is not run for real; anything else runs in this tree's Python.
        skip_pip = 'if [ "$1 $2" = "-m pip" ]; then exit 0; fi\n' if name == "python" else ""
        script.write_text(
            f'#!/usr/bin/env bash\n{skip_pip}PYTHONPATH="{PROJECT}" exec "{sys.executable}" {run} "$@"\n'
        )
        script.chmod(0o755)
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    (action,) = [s for s in STEPS if s.get("uses") == "./"]
    inputs.update(action["with"])
    # The checkout is the workspace, the configuration at its top (repo: ".").
    return Runner(workspace=fleet.root, bin_dir=bin_dir, temp=temp, inputs=inputs)


def _nightly(runner: Runner, fleet: Fleet) -> None:
    """The action's steps as the drift workflow uses it, and its outputs as the workflow reads them."""
    runner.outputs = {}
    for step_id in ("install", "drift", "plan"):
        done = runner.run(step_id, OKECTL_SANDBOX_URL=fleet.url)
        assert done.returncode == 0, (step_id, done.stdout, done.stderr)
    runner.outputs["plan"] = {name: runner.value(o["value"]) for name, o in ACTION["outputs"].items()}


def _github(runner: Runner, url: str) -> dict[str, str]:
    runner.github["token"] = TOKEN
    return {
        "GITHUB_API_URL": url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "GITHUB_REF_NAME": "main",
    }


def test_the_nightly_heals_accepts_on_a_branch_and_offers_one_pull_request(
    make_fleet: Callable[..., Fleet], tmp_path: Path, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    fleet = make_fleet("{environment: heal, client: accept}")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    fleet.repo.git("remote", "add", "origin", str(origin))
    for code in ("11AA", "22BB"):
        fleet.desk.edit(f"{code}/acceptance", oke_version="1.1")
    for env in ("production", "acceptance"):
        fleet.desk.edit(f"44DD/{env}/client/planwijs", scopes=["nl-test-admin-flow-0"])
    runner = _runner(fleet, tmp_path)

    _nightly(runner, fleet)

    drift = runner.outputs["drift"]
    # Healed and accepted: nothing is left that this run did not settle.
    assert drift["exit_code"] == "0"
    assert drift["branch"] == "okectl/accept-drift"
    report = Path(drift["markdown"]).read_text()
    assert (
        '| delta: environment oke\\_version → "1.1", changed at the supplier | heal | 2 (11AA, 22BB) '
        "| healed |" in report
    )
    # The job is back on its own commit: the plan is of main, where the client drift stays
    # until the pull request is merged; the healed environments are in sync.
    assert fleet.repo.branch == "main"
    plan = runner.outputs["plan"]
    assert plan["plan-exit-code"] == "2"
    markdown = Path(plan["plan-markdown"]).read_text()
    assert "44DD/production/client/planwijs" in markdown and "11AA/acceptance" not in markdown

    pull = _step("Open or update the pull request of accepted drift")
    assert pull["if"] == "steps.plan.outputs.drift-branch != ''"
    first = runner.run_step(pull, "pull", **_github(runner, url))
    second = runner.run_step(pull, "pull", **_github(runner, url))

    assert first.returncode == 0, first.stderr
    (opened,) = state.pulls
    assert (
        first.stdout
        == f"okectl: opened pull request #{opened['number']} of accepted drift from okectl/accept-drift\n"
    )
    assert (
        second.stdout
        == f"okectl: updated pull request #{opened['number']} of accepted drift from okectl/accept-drift\n"
    )
    assert (opened["head"], opened["base"], opened["title"]) == (
        {"ref": "okectl/accept-drift"},
        {"ref": "main"},
        "Accept drift at the suppliers",
    )
    assert opened["body"].startswith(
        "<!-- okectl-drift-accept -->\n## Accept drift at the suppliers: 1 finding at 2 places"
    )
    # The branch on the remote holds what the supplier has: it plans to a no-op there.
    pushed = subprocess.run(
        ["git", "--git-dir", str(origin), "show", "okectl/accept-drift:schools/44DD.yaml"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "planwijs: {scopes: [nl-test-admin-flow-0]}" in pushed
    fleet.repo.git("checkout", "-q", "okectl/accept-drift")
    assert find_drift(load_workspace(fleet.root)).findings == []


def test_the_drift_issue_shows_the_grouped_report_and_the_job_fails_when_healing_is_refused(
    make_fleet: Callable[..., Fleet], tmp_path: Path, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    fleet = make_fleet("heal")
    concept = fleet.repo.read("schools/11AA.yaml").replace(
        "    clients:", '    environments:\n      production: {oke_version: "1.1"}\n    clients:'
    )
    fleet.repo.commit("11AA production on a concept version", {"schools/11AA.yaml": concept})
    fleet.desk.edit("11AA/acceptance", oke_version="1.0.1")
    runner = _runner(fleet, tmp_path)

    _nightly(runner, fleet)
    issue_step = _step("Open, update or close the drift issue")
    runner.outputs["verify"] = {"exit_code": "0"}
    (runner.workspace / "okectl-verify.txt").write_text("")
    issue = runner.run_step(issue_step, "issue", **_github(runner, url))
    last = runner.run_step(STEPS[-1], "last")

    assert runner.outputs["drift"]["exit_code"] == "3"
    assert "branch" not in runner.outputs["drift"]
    assert issue.returncode == 0 and issue.stdout == "okectl: opened the drift issue\n", issue.stderr
    (opened,) = state.issues
    assert "## okectl drift" in opened["body"] and "| heal | 1 (11AA) | not healed |" in opened["body"]
    assert opened["body"].index("## okectl drift") < opened["body"].index("okectl plan")
    assert last.returncode == 1
    assert last.stdout == "::error::okectl drift: healing refused while policy errors stand (exit 3)\n"
    assert state.pulls == []


def test_the_nightly_has_the_history_an_identity_and_never_heals_beside_an_apply() -> None:
    job = DRIFT["jobs"]["drift"]
    checkout = STEPS[0]
    (action,) = [s for s in STEPS if s.get("uses") == "./"]
    apply = yaml.safe_load((PROJECT / ".github/workflows/apply.yml").read_text(encoding="utf-8"))

    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    assert action["with"]["drift"] == "true" and action["with"]["fail"] == "false"
    assert job["concurrency"] == {"group": "okectl-apply", "cancel-in-progress": False}
    assert apply["concurrency"]["group"] == "okectl-apply"
    assert {"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"} <= set(
        job["env"]
    )
    assert DRIFT["permissions"] == {"contents": "write", "pull-requests": "write", "issues": "write"}
    # The action returns to its own commit after accepting; the pull request step pushes the branch.
    assert (
        'git checkout --quiet "$start"'
        in next(s for s in ACTION["runs"]["steps"] if s["id"] == "drift")["run"]
    )
    assert "git push --force" in _step("Open or update the pull request of accepted drift")["run"]
