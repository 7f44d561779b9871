"""The GitHub Action's own scripts, run here as a runner would run them.

The bash steps run with `bash --noprofile --norc -eo pipefail` (GitHub's `shell: bash`), their
`env:` expressions filled in from the inputs and earlier steps' outputs, against the example
repository and the real okectl. The comment script runs in Node.js against a stand-in for the
GitHub API, so the one-comment-per-pull-request behaviour is checked, not just its spelling.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT, run_cli

ACTION = yaml.safe_load((PROJECT / "action.yml").read_text(encoding="utf-8"))
STEPS = {step["id"]: step for step in ACTION["runs"]["steps"]}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Runner:
    """Runs the action's steps one by one, keeping the outputs as the runner does."""

    workspace: Path
    bin_dir: Path
    temp: Path
    inputs: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, text: str) -> str:
        def resolve(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref.startswith("inputs."):
                return self.inputs[ref.removeprefix("inputs.")]
            if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", ref):
                return self.outputs.get(m.group(1), {}).get(m.group(2), "")
            if ref == "github.action_path":
                return str(PROJECT)
            raise AssertionError(f"the test does not know the expression {ref!r}")

        return EXPRESSION.sub(resolve, text)

    def run(self, step_id: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        step = STEPS[step_id]
        output_file = self.temp / f"output-{step_id}"
        output_file.write_text("")
        env = {
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(self.temp)),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output_file),
            "OKECTL_TODAY": os.environ["OKECTL_TODAY"],
        }
        env.update({name: self.value(str(value)) for name, value in step.get("env", {}).items()})
        env.update(extra_env)
        cwd = self.workspace / self.value(step.get("working-directory", "."))
        script = self.temp / f"{step_id}.sh"
        script.write_text(step["run"])
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        lines = output_file.read_text().splitlines()
        self.outputs[step_id] = dict(line.split("=", 1) for line in lines)
        return result


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
    # pip is not run for real: the stand-in records what it was asked to install.
    _stand_in(bin_dir / "python", f'echo "$*" >> "{temp}/pip.log"\n')
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


# The comment script, in Node.js, against a stand-in GitHub API that records the calls.
HARNESS = """
const fs = require('fs');
const comments = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const script = fs.readFileSync(process.argv[3], 'utf8');
const calls = [];
const github = {
  paginate: async (method, params) => method(params),
  rest: {
    issues: {
      listComments: async (params) => { calls.push({ call: 'listComments', ...params }); return comments; },
      updateComment: async (params) => { calls.push({ call: 'updateComment', ...params }); },
      createComment: async (params) => { calls.push({ call: 'createComment', ...params }); },
    },
  },
};
const context = {
  repo: { owner: 'school', repo: 'config' },
  issue: { number: 7 },
  sha: 'merge00000000',
  serverUrl: 'https://github.example',
  runId: 42,
  payload: { pull_request: { head: { sha: 'abc1234def5678' } } },
};
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', script)(require, github, context)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.skip("Node.js is not installed (apt-get install nodejs); the comment script runs in it")
    return found


def _comment(
    node: str, tmp_path: Path, comments: list[dict[str, Any]], files: dict[str, str], **env: str
) -> list[dict[str, Any]]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    (tmp_path / "harness.js").write_text(HARNESS)
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    (tmp_path / "script.js").write_text(STEPS["comment"]["with"]["script"])
    variables = {"OUT": str(out), "COMMENT_ID": "okectl-plan", "ARTIFACT_NAME": "", "VERIFY_LEVEL": "3",
                 "VERIFY_EXIT": "", **env}
    result = subprocess.run(
        [node, str(tmp_path / "harness.js"), str(tmp_path / "comments.json"), str(tmp_path / "script.js")],
        env={"PATH": os.environ["PATH"], **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls: list[dict[str, Any]] = json.loads(result.stdout)
    return calls


def _bot(comment_id: int, body: str) -> dict[str, Any]:
    return {"id": comment_id, "user": {"type": "Bot", "login": "github-actions[bot]"}, "body": body}


PLAN = "<!-- okectl-plan -->\n### okectl plan\n\n| create | update |\n|---:|---:|\n| 1 | 2 |\n"


def test_the_first_run_creates_the_comment(node: str, tmp_path: Path) -> None:
    calls = _comment(node, tmp_path, [], {"okectl-plan.md": PLAN}, ARTIFACT_NAME="okectl-plan-7")

    assert [c["call"] for c in calls] == ["listComments", "createComment"]
    body = calls[1]["body"]
    assert calls[1]["issue_number"] == 7
    assert body.startswith("<!-- okectl-plan -->\n")
    assert PLAN in body
    assert "Plan for abc1234 ([run](https://github.example/school/config/actions/runs/42); " in body
    assert "artifact okectl-plan-7" in body


def test_a_later_run_updates_its_own_comment_and_leaves_others_alone(node: str, tmp_path: Path) -> None:
    comments = [
        {"id": 1, "user": {"type": "User", "login": "reviewer"}, "body": "> <!-- okectl-plan -->\n> quoted"},
        {"id": 2, "user": {"type": "User", "login": "author"}, "body": "<!-- okectl-plan --> pasted"},
        _bot(3, "Thanks for the pull request!"),
        _bot(4, "<!-- okectl-plan -->\n### okectl plan\n(an older plan)"),
        _bot(5, "<!-- other-plan -->\n### okectl plan"),
    ]

    calls = _comment(node, tmp_path, comments, {"okectl-plan.md": PLAN})

    assert [c["call"] for c in calls] == ["listComments", "updateComment"]
    assert calls[1]["comment_id"] == 4
    assert PLAN in calls[1]["body"]


def test_a_second_use_of_the_action_keeps_a_comment_of_its_own(node: str, tmp_path: Path) -> None:
    comments = [_bot(4, "<!-- okectl-plan -->\n### okectl plan")]

    calls = _comment(node, tmp_path, comments, {"okectl-plan.md": PLAN}, COMMENT_ID="okectl-plan-staging")

    assert [c["call"] for c in calls] == ["listComments", "createComment"]
    assert calls[1]["body"].startswith("<!-- okectl-plan-staging -->\n")


def test_without_a_plan_the_comment_says_so_instead_of_keeping_an_old_plan(node: str, tmp_path: Path) -> None:
    calls = _comment(node, tmp_path, [_bot(4, "<!-- okectl-plan -->\nold")], {})

    assert calls[1]["call"] == "updateComment"
    assert "**okectl produced no plan**: validation failed, see the [run](" in calls[1]["body"]


def test_the_verify_result_joins_the_comment_and_a_huge_plan_is_cut(node: str, tmp_path: Path) -> None:
    files = {"okectl-plan.md": PLAN + "x" * 200_000, "okectl-verify.txt": "level 3: 2 failures\n"}

    calls = _comment(node, tmp_path, [], files, VERIFY_EXIT="4")

    body = calls[1]["body"]
    assert len(body) < 65_536  # GitHub's limit for a comment
    assert "_Cut here; the whole text is in the job log._" in body
    assert "### okectl verify --level 3 (exit 4)\n\n```text\nlevel 3: 2 failures\n" in body


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
    listed = re.findall(r"^> - (.*)$", markdown[box:], re.M)
    assert listed == warnings
