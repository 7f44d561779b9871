"""The CI workflows and the pre-commit hook, checked against their schemas offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))


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


def test_pull_requests_upload_sarif_plan_the_change_and_keep_one_comment() -> None:
    doc = _load(PROJECT / ".github/workflows/pull-request.yml")
    steps = _steps(doc, "check")
    runs = "\n".join(s.get("run", "") for s in steps)
    uses = [s.get("uses", "") for s in steps]

    assert "okectl validate" in runs
    assert "okectl policy check --output sarif" in runs
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert "--changed-since \"origin/${{ github.base_ref }}\"" in runs
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script@"))
    script = comment["with"]["script"]
    assert "<!-- okectl-plan -->" in script and "updateComment" in script
    assert doc["permissions"]["security-events"] == "write"
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0


def test_apply_runs_one_at_a_time_through_a_protected_environment() -> None:
    doc = _load(PROJECT / ".github/workflows/apply.yml")

    assert doc[True]["push"]["branches"] == ["main"]  # PyYAML reads the key `on` as true
    assert doc["concurrency"] == {"group": "okectl-apply", "cancel-in-progress": False}
    assert doc["jobs"]["apply"]["environment"]["name"] == "production"
    runs = "\n".join(s.get("run", "") for s in _steps(doc, "apply"))
    assert "pip install -e ." in runs
    assert "okectl apply okectl-plan.json --auto-approve" in runs


def test_the_nightly_drift_run_keeps_a_single_labelled_issue() -> None:
    doc = _load(PROJECT / ".github/workflows/drift.yml")

    assert doc[True]["schedule"]
    runs = "\n".join(s.get("run", "") for s in _steps(doc, "drift"))
    assert "okectl plan --detailed-exitcode" in runs
    script = next(s for s in _steps(doc, "drift") if "uses" in s and "github-script" in s["uses"])
    body = script["with"]["script"]
    assert "okectl-drift" in body and "state: 'closed'" in body and "issues.create(" in body
    assert doc["permissions"]["issues"] == "write"


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
