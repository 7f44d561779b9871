"""The CI workflows, the GitHub Action and the pre-commit hook, checked against their schemas offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
ACTION = PROJECT / "action.yml"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    # check-jsonschema ships GitHub's workflow schema, so this needs no network.
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_there_are_pull_request_apply_and_drift_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["apply.yml", "drift.yml", "pull-request.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_matches_githubs_schema(path: Path) -> None:
    result = _check("vendor.github-workflows", path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_really_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")

    assert _check("vendor.github-workflows", broken).returncode != 0


def _steps(doc: Any, job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = doc["jobs"][job]["steps"]
    return steps


def _action_step(doc: Any, job: str) -> dict[str, Any]:
    (step,) = [s for s in _steps(doc, job) if s.get("uses") == "./"]
    return step


def test_the_action_matches_githubs_schema() -> None:
    result = _check("vendor.github-actions", ACTION)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_really_rejects_a_broken_action(tmp_path: Path) -> None:
    action = "name: x\ndescription: x\nruns:\n  using: composite\n  steps:\n    - run: okectl validate\n"
    good, broken = tmp_path / "good.yml", tmp_path / "broken.yml"
    good.write_text(action + "      shell: bash\n")
    # A composite action's run step must name its shell.
    broken.write_text(action)

    assert _check("vendor.github-actions", good).returncode == 0
    assert _check("vendor.github-actions", broken).returncode != 0


def test_the_action_installs_okectl_then_validates_checks_plans_verifies_and_comments() -> None:
    action = _load(ACTION)
    steps = action["runs"]["steps"]

    assert action["runs"]["using"] == "composite"
    assert [s["id"] for s in steps] == [
        "python", "install", "validate", "policy", "sarif", "drift", "plan", "verify", "artifact", "comment",
        "result",
    ]
    by_id = {s["id"]: s for s in steps}
    assert by_id["python"]["uses"].startswith("actions/setup-python@")
    assert "pip install" in by_id["install"]["run"]
    assert by_id["validate"]["run"] == "okectl validate"
    assert "okectl policy check" in by_id["policy"]["run"]
    assert "--output sarif" in by_id["policy"]["run"]
    assert by_id["sarif"]["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "plan --detailed-exitcode --output markdown --out" in by_id["plan"]["run"]
    assert 'okectl verify --level "$VERIFY_LEVEL"' in by_id["verify"]["run"]
    assert by_id["artifact"]["uses"].startswith("actions/upload-artifact@")
    assert "python -m okectl.cli.action comment" in by_id["comment"]["run"]
    # Every step that works on the configuration runs in the repository the caller names.
    for step_id in ("validate", "policy", "plan", "verify"):
        assert by_id[step_id]["working-directory"] == "${{ inputs.repo }}"
        assert by_id[step_id]["if"] == f"inputs.{step_id.replace('policy', 'policy-check')} == 'true'"
    assert by_id["result"]["if"] == "always()"


def test_verify_is_off_unless_asked_for_and_runs_level_3() -> None:
    inputs = _load(ACTION)["inputs"]

    assert inputs["verify"]["default"] == "false"
    assert inputs["verify-level"]["default"] == "3"
    assert {inputs[name]["default"] for name in ("validate", "policy-check", "plan", "comment")} == {"true"}


def test_the_action_passes_inputs_to_scripts_only_through_the_environment() -> None:
    # An expression inside a script is pasted into it before bash runs: a branch name or an
    # input could inject commands. Scripts read $VARIABLES; the env: blocks carry the values.
    for step in _load(ACTION)["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["id"]
            assert step["shell"] == "bash", step["id"]
        script = step.get("with", {}).get("script", "")
        assert "${{" not in script, step["id"]


def test_every_step_output_the_action_reads_is_written_by_that_step() -> None:
    action = _load(ACTION)
    scripts = {s["id"]: s.get("run", "") for s in action["runs"]["steps"]}
    text = ACTION.read_text(encoding="utf-8")

    references = set(re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text))
    assert references
    for step_id, name in references:
        assert step_id in scripts, step_id
        assert re.search(rf'echo "{name}=', scripts[step_id]), (step_id, name)
    # Outputs of the action are step outputs that exist.
    for output in action["outputs"].values():
        (ref,) = re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", output["value"])
        assert ref in references


def test_the_comment_step_gets_the_token_and_the_marker_and_runs_only_on_pull_requests() -> None:
    # What it does with them runs against a stand-in for GitHub's API in test_action.py.
    comment = next(s for s in _load(ACTION)["runs"]["steps"] if s["id"] == "comment")

    assert comment["env"]["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    assert comment["env"]["COMMENT_ID"] == "${{ inputs.comment-id }}"
    assert '--comment-id "$COMMENT_ID"' in comment["run"]
    assert "github.event.pull_request" in comment["if"]
    assert _load(ACTION)["inputs"]["comment-id"]["default"] == "okectl-plan"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_runs_okectl_through_the_action(path: Path) -> None:
    doc = _load(path)
    (job,) = doc["jobs"]
    steps = _steps(doc, job)
    inputs = _load(ACTION)["inputs"]
    outputs = _load(ACTION)["outputs"]

    uses = [s.get("uses", "") for s in steps]
    assert uses[0].startswith("actions/checkout@")
    assert uses.count("./") == 1
    step = _action_step(doc, job)
    assert set(step.get("with", {})) <= set(inputs), set(step.get("with", {})) - set(inputs)
    # okectl is installed by the action, nowhere else.
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "pip install" not in runs
    assert not any(u.startswith("actions/setup-python@") for u in uses)
    # Whatever the workflow reads from the action is one of its outputs.
    if "id" in step:
        read = set(re.findall(rf"steps\.{step['id']}\.outputs\.([\w-]+)", path.read_text(encoding="utf-8")))
        assert read <= set(outputs), read - set(outputs)


def test_pull_requests_upload_sarif_plan_the_change_and_keep_one_comment() -> None:
    doc = _load(PROJECT / ".github/workflows/pull-request.yml")
    step = _action_step(doc, "check")

    assert step["with"]["changed-since"] == "origin/${{ github.base_ref }}"
    assert step["with"]["upload-sarif"] == "true"
    assert step["with"]["comment"] == "true"
    assert step["with"]["artifact-name"] == "okectl-plan-${{ github.event.pull_request.number }}"
    assert "policy-check" not in step["with"] and "validate" not in step["with"]  # on by default
    assert doc["permissions"]["security-events"] == "write"
    assert doc["permissions"]["pull-requests"] == "write"
    checkout = next(s for s in _steps(doc, "check") if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0


def test_apply_runs_one_at_a_time_through_a_protected_environment() -> None:
    doc = _load(PROJECT / ".github/workflows/apply.yml")

    assert doc[True]["push"]["branches"] == ["main"]  # PyYAML reads the key `on` as true
    assert doc["concurrency"] == {"group": "okectl-apply", "cancel-in-progress": False}
    assert doc["jobs"]["apply"]["environment"]["name"] == "production"
    step = _action_step(doc, "apply")
    assert step["with"]["comment"] == "false"
    apply = next(s for s in _steps(doc, "apply") if "okectl apply" in s.get("run", ""))
    assert apply["env"]["PLAN_FILE"] == "${{ steps.okectl.outputs.plan-file }}"
    assert "okectl apply okectl-plan.json --auto-approve" in apply["run"]
    # Incidents of writes, from this run's journal, whether the apply failed or not.
    (incidents,) = [s for s in _steps(doc, "apply") if "okectl.cli.action incidents" in s.get("run", "")]
    assert incidents["if"] == "always()" and "--source writes" in incidents["run"]
    assert incidents["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert doc["permissions"]["issues"] == "write"


def test_the_nightly_drift_run_keeps_a_single_labelled_issue() -> None:
    # What the issue step does runs against a stand-in for GitHub's API in test_action.py.
    doc = _load(PROJECT / ".github/workflows/drift.yml")

    assert doc[True]["schedule"]
    step = _action_step(doc, "drift")
    assert step["with"]["comment"] == "false"
    assert step["with"]["fail"] == "false"  # the issue is kept before the job fails
    issue = next(s for s in _steps(doc, "drift") if "drift-issue" in s.get("run", ""))
    assert issue["env"]["PLAN_EXIT"] == "${{ steps.plan.outputs.plan-exit-code }}"
    assert issue["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    last = _steps(doc, "drift")[-1]
    assert last["if"] == "always()" and "PLAN_EXIT" in last["run"]
    assert doc["permissions"]["issues"] == "write"
    # The incidents after verify has recorded, before the job fails.
    names = [s.get("run", "") for s in _steps(doc, "drift")]
    (at,) = [n for n, run in enumerate(names) if "okectl.cli.action incidents" in run]
    assert at > next(n for n, run in enumerate(names) if "okectl verify" in run and "--record" in run)
    assert _steps(doc, "drift")[at]["if"] == "always()"


def test_the_pre_commit_hook_runs_okectl_validate_once_per_commit() -> None:
    hooks = _load(PROJECT / ".pre-commit-hooks.yaml")

    # check-jsonschema ships no schema for hook manifests; these are pre-commit's required keys.
    assert isinstance(hooks, list)
    (hook,) = hooks
    assert {"id", "name", "entry", "language"} <= hook.keys()
    assert hook["id"] == "okectl-validate"
    assert hook["entry"] == "okectl validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False


def test_apply_commits_the_change_requests_it_writes() -> None:
    doc = _load(PROJECT / ".github/workflows/apply.yml")
    assert doc["permissions"]["contents"] == "write"
    steps = _steps(doc, "apply")
    names = [s.get("name") for s in steps]
    commit = steps[names.index("Commit the change requests")]
    applied = next(i for i, s in enumerate(steps) if "okectl apply" in s.get("run", ""))
    assert names.index("Commit the change requests") > applied
    assert "git add requests/" in commit["run"] and "git push" in commit["run"]
    assert commit["if"] == "always()"
