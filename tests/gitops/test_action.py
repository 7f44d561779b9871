"""The GitHub Action's own scripts, run here as a runner would run them.

The bash steps run with `bash --noprofile --norc -eo pipefail` (GitHub's `shell: bash`), their
`env:` expressions filled in from the inputs and earlier steps' outputs, against the example
repository and the real okectl. The steps that talk to GitHub reach it through the runner's
GITHUB_API_URL, here a stand-in for the API on loopback (tests/support/github_api.py), so the
one-comment-per-pull-request behaviour is checked over HTTP, not just its spelling.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.action import ACTION, Runner
from tests.support.cli import run_cli
from tests.support.github_api import TOKEN, GitHubState, github_api
from tests.support.repos import PROJECT


def _stand_in(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


@pytest.fixture
def runner(example_repo: Path, tmp_path: Path) -> Runner:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    # okectl is this tree's okectl; `verify` is answered by a stand-in that reports failures.
    _stand_in(
        bin_dir / "okectl",
        'if [ "$1" = verify ]; then echo "verify called with: $*"; exit 4; fi\n'
        f'PYTHONPATH="{PROJECT}" exec "{sys.executable}" -m okectl "$@"\n',
    )
    # pip is not run for real: the stand-in records what it was asked to install. Anything
    # else runs in this tree's Python, where okectl is installed.
    _stand_in(
        bin_dir / "python",
        f'if [ "$1 $2" = "-m pip" ]; then echo "$*" >> "{temp}/pip.log"; exit 0; fi\n'
        f'PYTHONPATH="{PROJECT}" exec "{sys.executable}" "$@"\n',
    )
    workspace = example_repo.parent
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    inputs["repo"] = example_repo.name
    return Runner(workspace=workspace, bin_dir=bin_dir, temp=temp, inputs=inputs)


def test_the_install_step_installs_the_actions_own_source_or_the_given_spec(runner: Runner) -> None:
    assert runner.run("install").returncode == 0
    runner.inputs["okectl-spec"] = "okectl==0.1.0"
    assert runner.run("install").returncode == 0

    installs = (runner.temp / "pip.log").read_text().splitlines()
    assert installs[0].endswith(f"pip install --disable-pip-version-check --quiet {PROJECT}")
    assert installs[1].endswith("pip install --disable-pip-version-check --quiet okectl==0.1.0")
    out = Path(runner.outputs["install"]["out"])
    assert out.is_dir() and out.parent == runner.temp


def test_the_steps_validate_check_and_plan_the_example_repository(runner: Runner) -> None:
    runner.inputs["upload-sarif"] = "true"
    assert runner.run("install").returncode == 0

    validate = runner.run("validate")
    policy = runner.run("policy")
    plan = runner.run("plan")
    result = runner.run("result")

    assert validate.returncode == 0 and validate.stdout.startswith("valid: 12 schools"), validate.stderr
    assert policy.returncode == 0, policy.stderr
    assert "policy check passed" in policy.stdout
    assert runner.outputs["policy"]["exit_code"] == "0"
    sarif = json.loads(Path(runner.outputs["policy"]["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"]
    assert plan.returncode == 0, plan.stderr
    assert runner.outputs["plan"]["exit_code"] == "2"
    assert runner.outputs["plan"]["changes"] == "true"
    markdown = Path(runner.outputs["plan"]["markdown"]).read_text()
    assert "### okectl plan" in markdown and "failed" not in markdown
    assert markdown in plan.stdout  # also in the job log
    saved = json.loads(Path(runner.outputs["plan"]["file"]).read_text())
    assert saved["checksum"]
    assert result.returncode == 0, result.stdout


def test_plan_arguments_reach_okectl(runner: Runner) -> None:
    assert runner.run("install").returncode == 0
    runner.inputs["plan-args"] = "--supplier delta-toets --school 21RC"

    assert runner.run("plan").returncode == 0
    markdown = Path(runner.outputs["plan"]["markdown"]).read_text()
    suppliers = set(re.findall(r"<summary><b>([\w-]+)</b>", markdown))
    assert suppliers == {"delta-toets"}
    assert "delta-toets/21RC/" in markdown and "/23KM/" not in markdown


def test_changed_since_plans_only_what_the_change_touches(runner: Runner) -> None:
    repo = runner.workspace / runner.inputs["repo"]
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "example"], check=True)
    school = repo / "schools" / "23KM.yaml"
    school.write_text(school.read_text().replace("name: ", "name: Nieuw ", 1))
    assert runner.run("install").returncode == 0
    runner.inputs["changed-since"] = "HEAD"

    assert runner.run("plan").returncode == 0
    markdown = Path(runner.outputs["plan"]["markdown"]).read_text()
    assert runner.outputs["plan"]["exit_code"] in {"0", "2"}, markdown
    assert "scoped to schools 23KM" in markdown
    planned = set(re.findall(r"^[~+-] [\w-]+/(\w+)/", markdown, re.M))
    assert planned == {"23KM"}


def test_a_failed_plan_is_recorded_noted_in_the_comment_and_fails_at_the_end(runner: Runner) -> None:
    assert runner.run("install").returncode == 0
    runner.inputs["plan-args"] = "--supplier no-such-supplier"

    plan = runner.run("plan")
    result = runner.run("result")

    assert plan.returncode == 0  # recorded, not acted on: the comment is still written
    assert runner.outputs["plan"] == {
        "exit_code": "1",
        "changes": "unknown",
        "markdown": runner.outputs["plan"]["markdown"],
    }
    assert "**okectl plan failed (exit 1).** See the job log." in Path(
        runner.outputs["plan"]["markdown"]
    ).read_text()
    assert result.returncode == 1
    assert "::error::okectl plan exited 1" in result.stdout


def test_verify_runs_level_3_and_its_failures_fail_the_action(runner: Runner) -> None:
    assert runner.run("install").returncode == 0

    verify = runner.run("verify")
    result = runner.run("result")

    assert verify.returncode == 0
    assert "verify called with: verify --level 3" in verify.stdout
    assert runner.outputs["verify"]["exit_code"] == "4"
    assert result.returncode == 1
    assert "::error::okectl verify exited 4 (4: conformance failures)" in result.stdout


@pytest.mark.parametrize(
    ("policy", "plan", "verify", "fails"),
    [
        ("0", "0", "", False),
        ("0", "2", "0", False),
        ("", "", "", False),  # nothing ran: an earlier step already failed the job
        ("3", "2", "", True),
        ("1", "0", "", True),
        ("0", "3", "", True),
    ],
)
def test_the_last_step_fails_on_policy_errors_a_failed_plan_or_failed_conformance(
    runner: Runner, policy: str, plan: str, verify: str, fails: bool
) -> None:
    runner.outputs = {
        "policy": {"exit_code": policy},
        "plan": {"exit_code": plan},
        "verify": {"exit_code": verify},
    }

    result = runner.run("result")

    assert (result.returncode != 0) == fails, result.stdout


# The steps that talk to GitHub, against the API stand-in on loopback.
REPOSITORY = "school/config"
EVENT = {"pull_request": {"number": 7, "head": {"sha": "abc1234def5678"}}}
PLAN = "<!-- okectl-plan -->\n### okectl plan\n\n| create | update |\n|---:|---:|\n| 1 | 2 |\n"


@pytest.fixture
def api() -> Iterator[tuple[GitHubState, str]]:
    state = GitHubState()
    with github_api(state) as url:
        yield state, url


def _runner_env(runner: Runner, url: str) -> dict[str, str]:
    """The variables GitHub's runner sets in every step, pointing at the stand-in."""
    event = runner.temp / "event.json"
    event.write_text(json.dumps(EVENT))
    summary = runner.temp / "step-summary.md"
    summary.touch()
    return {
        "GITHUB_API_URL": url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "GITHUB_SHA": "merge00000000",
        "GITHUB_STEP_SUMMARY": str(summary),
    }


def _comment(
    runner: Runner, url: str, files: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if "install" not in runner.outputs:
        assert runner.run("install").returncode == 0
    out = Path(runner.outputs["install"]["out"])
    for name, text in (files or {}).items():
        (out / name).write_text(text)
    runner.inputs["github-token"] = TOKEN
    return runner.run("comment", **_runner_env(runner, url))


def _bot(comment_id: int, body: str) -> dict[str, Any]:
    return {"id": comment_id, "user": {"type": "Bot", "login": "github-actions[bot]"}, "body": body}


def test_the_first_run_creates_the_comment(runner: Runner, api: tuple[GitHubState, str]) -> None:
    state, url = api
    runner.inputs["artifact-name"] = "okectl-plan-7"

    step = _comment(runner, url, {"okectl-plan.md": PLAN})

    assert step.returncode == 0, step.stdout + step.stderr
    assert step.stdout == "okectl: created the plan comment on pull request #7\n"
    assert [(c.method, c.path) for c in state.calls] == [
        ("GET", "/repos/school/config/issues/7/comments"),
        ("POST", "/repos/school/config/issues/7/comments"),
    ]
    assert {c.authorization for c in state.calls} == {f"Bearer {TOKEN}"}
    (made,) = state.comments[7]
    assert made["body"].startswith("<!-- okectl-plan -->\n")
    assert PLAN in made["body"]
    assert "Plan for abc1234 ([run](https://github.example/school/config/actions/runs/42); " in made["body"]
    assert "artifact okectl-plan-7" in made["body"]


def test_a_later_run_updates_its_own_comment_on_a_later_page_and_leaves_others_alone(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    state.page_size = 2  # GitHub pages listings; ours is on the third page
    state.comments[7] = [
        {"id": 1, "user": {"type": "User", "login": "reviewer"}, "body": "> <!-- okectl-plan -->\n> quoted"},
        {"id": 2, "user": {"type": "User", "login": "author"}, "body": "<!-- okectl-plan --> pasted"},
        _bot(3, "Thanks for the pull request!"),
        _bot(5, "<!-- other-plan -->\n### okectl plan"),
        _bot(4, "<!-- okectl-plan -->\n### okectl plan\n(an older plan)"),
    ]
    before = json.loads(json.dumps(state.comments[7]))

    step = _comment(runner, url, {"okectl-plan.md": PLAN})

    assert step.returncode == 0, step.stdout + step.stderr
    assert [(c.method, c.query.get("page")) for c in state.calls] == [
        ("GET", None), ("GET", ["2"]), ("GET", ["3"]), ("PATCH", None),
    ]
    assert state.writes[0].path == "/repos/school/config/issues/comments/4"
    after = {c["id"]: c["body"] for c in state.comments[7]}
    assert PLAN in after.pop(4)
    assert after == {c["id"]: c["body"] for c in before if c["id"] != 4}


def test_a_second_use_of_the_action_keeps_a_comment_of_its_own(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    state.comments[7] = [_bot(4, "<!-- okectl-plan -->\n### okectl plan")]
    runner.inputs["comment-id"] = "okectl-plan-staging"

    assert _comment(runner, url, {"okectl-plan.md": PLAN}).returncode == 0

    assert state.comments[7][0]["id"] == 4
    assert state.comments[7][1]["body"].startswith("<!-- okectl-plan-staging -->\n")


def test_without_a_plan_the_comment_says_so_instead_of_keeping_an_old_plan(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    state.comments[7] = [_bot(4, "<!-- okectl-plan -->\nold")]

    assert _comment(runner, url).returncode == 0

    (comment,) = state.comments[7]
    assert "**okectl produced no plan**: validation failed, see the [run](" in comment["body"]


def test_the_verify_result_joins_the_comment_and_a_huge_plan_is_cut(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    runner.outputs["verify"] = {"exit_code": "4"}
    files = {"okectl-plan.md": PLAN + "x" * 200_000, "okectl-verify.txt": "level 3: 2 failures\n"}

    assert _comment(runner, url, files).returncode == 0

    body = state.comments[7][0]["body"]
    assert len(body) < 65_536  # GitHub's limit for a comment
    assert "_Cut here; the whole text is in the job log._" in body
    assert "### okectl verify --level 3 (exit 4)\n\n```text\nlevel 3: 2 failures\n```" in body


def test_a_fork_s_read_only_token_puts_the_plan_in_the_job_summary_with_a_warning(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    state.read_only = True

    step = _comment(runner, url, {"okectl-plan.md": PLAN})

    assert step.returncode == 0, step.stdout + step.stderr  # not a red check
    assert state.comments == {}
    assert [c.method for c in state.calls] == ["GET", "POST"]
    assert step.stdout.startswith("::warning::okectl: the token may not comment on pull request #7 (")
    assert "GitHub answered 403 Forbidden: Resource not accessible by integration)" in step.stdout
    assert step.stdout.rstrip().endswith(
        "a pull request from a fork gets a read-only token. The plan is in the job summary."
    )
    assert len(step.stdout.splitlines()) == 1 and step.stderr == ""
    summary = (runner.temp / "step-summary.md").read_text()
    assert summary.startswith("<!-- okectl-plan -->\n") and PLAN in summary
    assert TOKEN not in step.stdout + summary


def test_a_token_github_does_not_accept_fails_the_step_with_one_line(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    _, url = api
    runner.run("install")
    runner.inputs["github-token"] = "not-the-token"
    step = runner.run("comment", **_runner_env(runner, url))

    assert step.returncode == 1
    assert step.stdout == (
        f"::error::GET {url}/repos/school/config/issues/7/comments: "
        "GitHub answered 401 Unauthorized: Bad credentials\n"
    )
    assert "Traceback" not in step.stderr and (runner.temp / "step-summary.md").read_text() == ""


def test_the_comment_names_the_warnings_first_and_lists_them_in_one_box_after_the_changes(
    runner: Runner,
) -> None:
    # The example repository references supplier secrets that are not set here: one warning each.
    assert runner.run("install").returncode == 0
    assert runner.run("plan").returncode == 0
    markdown = Path(runner.outputs["plan"]["markdown"]).read_text()
    text = run_cli("plan", "--repo", str(runner.workspace / runner.inputs["repo"])).out
    warnings = [line.removeprefix("warning: ") for line in text.splitlines() if line.startswith("warning: ")]

    assert len(warnings) == 22
    assert markdown.count("[!WARNING]") == 1
    box = markdown.index("> [!WARNING]\n> **22 warnings**\n>\n")
    assert box > markdown.rindex("```diff")  # after every change
    assert markdown.index("**22 warnings**, listed after the changes.") < markdown.index("```diff")
    # Each is escaped as Markdown text: what a reader sees is the plan's own line.
    listed = [re.sub(r"\\(.)", r"\1", item) for item in re.findall(r"^> - (.*)$", markdown[box:], re.M)]
    assert listed == warnings


# The day after the example's first certification waiver expires: policy errors stand.
WAIVER_EXPIRED = "2027-04-01"


def test_policy_errors_from_the_plan_are_said_as_such_with_the_findings_in_the_comment(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    assert runner.run("install").returncode == 0

    plan = runner.run("plan", OKECTL_TODAY=WAIVER_EXPIRED)
    comment = _comment(runner, url)
    result = runner.run("result")

    assert plan.returncode == 0, plan.stderr
    assert runner.outputs["plan"]["exit_code"] == "3"
    assert runner.outputs["plan"]["changes"] == "true"  # the example plan has changes besides
    body = state.comments[7][0]["body"]
    assert comment.returncode == 0, comment.stdout
    assert "failed" not in body
    assert (
        "> [!CAUTION]\n> **Policy errors stand** (`okectl plan` exit 3): `okectl apply` refuses this plan "
        "until they are fixed or waived; the findings are listed above.\n"
    ) in body
    findings = body[body.index("<details open><summary><b>Policy findings</b>: 2 error(s)"):]
    assert "| error | `certification` | `examengo/23KM/production` | `schools/23KM.yaml:" in findings
    assert result.returncode == 1
    assert result.stdout == (
        "::error::okectl plan: policy errors stand (exit 3); okectl apply refuses until they are fixed "
        "or waived (the findings are listed with the plan)\n"
    )


def _in_sync(repo: Path) -> None:
    """The embedded sandbox supplier holds exactly what the repository declares, and the
    suppliers changed by their support desk have confirmed every change asked of them."""
    (repo / ".okectl" / "sandbox.db").unlink(missing_ok=True)
    assert run_cli("sandbox", "seed", "--repo", str(repo), "--in-sync").exit_code == 0
    assert run_cli("apply", "--auto-approve", "--repo", str(repo)).exit_code == 0
    listed = run_cli("requests", "list", "--status", "open", "-o", "json", "--repo", str(repo))
    for n, request in enumerate(json.loads(listed.out)["requests"]):
        confirmed = run_cli("requests", "confirm", request["id"], "--ref", f"T-{n}", "--repo", str(repo))
        assert confirmed.exit_code == 0, confirmed.err


def test_policy_errors_on_a_plan_without_changes_say_there_are_no_changes(
    runner: Runner, example_repo: Path
) -> None:
    _in_sync(example_repo)
    assert runner.run("install").returncode == 0

    assert runner.run("plan", OKECTL_TODAY=WAIVER_EXPIRED).returncode == 0

    assert runner.outputs["plan"]["exit_code"] == "3"
    assert runner.outputs["plan"]["changes"] == "false"
    markdown = Path(runner.outputs["plan"]["markdown"]).read_text()
    assert "**No changes.**" in markdown and "**Policy errors stand**" in markdown


DRIFT = yaml.safe_load((PROJECT / ".github/workflows/drift.yml").read_text(encoding="utf-8"))
DRIFT_STEPS = DRIFT["jobs"]["drift"]["steps"]
DRIFT_ISSUE = next(s for s in DRIFT_STEPS if "drift-issue" in s.get("run", ""))


def _nightly(runner: Runner, url: str, *, today: str, verify_exit: str = "0") -> tuple[
    subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]
]:
    """The drift workflow after its action step: the issue step, then the last step."""
    (action,) = [s for s in DRIFT_STEPS if s.get("uses") == "./"]
    runner.inputs.update(action["with"])
    runner.outputs = {}
    for step_id in ("install", "plan", "result"):
        assert runner.run(step_id, OKECTL_TODAY=today).returncode == 0, step_id  # fail: "false"
    # What the workflow reads as steps.plan.outputs.* are the action's outputs.
    runner.outputs["plan"] = {name: runner.value(o["value"]) for name, o in ACTION["outputs"].items()}
    runner.outputs["verify"] = {"exit_code": verify_exit}
    (runner.workspace / "okectl-verify.txt").write_text("21RC/production serves OKE 1.0.1, declares 1.0\n")
    runner.github["token"] = TOKEN
    issue = runner.run_step(DRIFT_ISSUE, "issue", **_runner_env(runner, url))
    return issue, runner.run_step(DRIFT_STEPS[-1], "last")


def test_the_drift_issue_is_kept_while_policy_errors_stand_and_closed_when_clean(
    runner: Runner, api: tuple[GitHubState, str], example_repo: Path
) -> None:
    state, url = api

    first, first_last = _nightly(runner, url, today=WAIVER_EXPIRED)
    second, _ = _nightly(runner, url, today=WAIVER_EXPIRED, verify_exit="4")

    assert first.returncode == 0 and first.stdout == "okectl: opened the drift issue\n", first.stdout
    assert second.stdout == "okectl: updated the drift issue\n"
    (issue,) = state.issues
    assert issue["title"] == "Configuration drift at the suppliers"
    assert [label["name"] for label in issue["labels"]] == ["okectl-drift"]
    assert issue["body"].startswith(
        "**Policy errors stand** ([run](https://github.example/school/config/actions/runs/42)): "
        "`okectl apply` refuses to run until they are fixed or waived."
    )
    assert "| error | `certification` | `examengo/23KM/production` |" in issue["body"]
    assert "### okectl verify --level 2\n\n```text\n21RC/production serves OKE 1.0.1" in issue["body"]
    assert first_last.returncode == 1
    assert "::error::okectl plan: policy errors stand (exit 3)" in first_last.stdout

    # A clean plan closes it. The example always has changes, so make the suppliers match first.
    _in_sync(example_repo)
    clean, clean_last = _nightly(runner, url, today="2026-11-28")

    assert runner.outputs["plan"]["plan-exit-code"] == "0"
    assert clean.stdout == "okectl: closed the drift issue: the plan is clean again\n"
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert clean_last.returncode == 0


def test_a_failed_nightly_plan_leaves_the_drift_issue_alone_and_fails_the_job(
    runner: Runner, api: tuple[GitHubState, str]
) -> None:
    state, url = api
    state.issues.append({"number": 3, "title": "Configuration drift at the suppliers", "body": "drift",
                         "state": "open", "labels": [{"name": "okectl-drift"}]})
    runner.inputs["plan-args"] = "--supplier no-such-supplier"

    issue, last = _nightly(runner, url, today="2026-11-28")

    assert issue.stdout == "okectl: left the drift issue alone: the plan did not finish (exit 1)\n"
    assert state.writes == [] and state.issues[0]["state"] == "open"
    assert last.returncode == 1 and last.stdout == "::error::okectl plan exited 1\n"
