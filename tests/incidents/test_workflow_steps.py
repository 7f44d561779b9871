"""The workflows' incidents steps, run as a runner runs them: their bash script with the
step's env, against the stand-in for GitHub's API on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.forge import PROD, SECRET, Forge, record
from tests.support.git import BASE_FILES
from tests.support.github_api import TOKEN
from tests.support.repos import PROJECT


def _step(workflow: str, job: str) -> dict[str, Any]:
    doc = yaml.safe_load((PROJECT / ".github" / "workflows" / workflow).read_text(encoding="utf-8"))
    (step,) = [s for s in doc["jobs"][job]["steps"] if "okectl.cli.action incidents" in s.get("run", "")]
    return dict(step)


def run_step(step: dict[str, Any], repo: Path, tmp: Path, **outputs: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    python = bin_dir / "python"
    python.write_text(f'#!/usr/bin/env bash\nPYTHONPATH="{PROJECT}" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    values = {"github.token": TOKEN, **outputs}
    env = {
        k: v for k, v in os.environ.items() if k.startswith(("GITHUB_", "OKECTL_", "DELTA_")) or k == "HOME"
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    for name, value in step.get("env", {}).items():
        env[name] = values.get(value.removeprefix("${{ ").removesuffix(" }}"), "")
    script = tmp / "step.sh"
    script.write_text(step["run"])
    return subprocess.run(
        ["bash", "-e", str(script)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_nightly_step_opens_then_leaves_then_closes_the_incident(
    build_tree: Callable[[dict[str, str]], Path],
    forge: Forge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DELTA_11AA", SECRET)
    repo = build_tree(BASE_FILES)
    step = _step("drift.yml", "drift")
    assert step["if"] == "always()"
    record(repo, {PROD: "1.0.1"})

    first = run_step(step, repo, tmp_path, **{"steps.plan.outputs.plan-file": ""})
    second = run_step(step, repo, tmp_path, **{"steps.plan.outputs.plan-file": ""})
    record(repo)
    third = run_step(step, repo, tmp_path, **{"steps.plan.outputs.plan-file": ""})

    assert first.returncode == 0, first.stdout + first.stderr
    (issue,) = forge.issues()
    assert first.stdout.startswith(f"okectl: opened incident #{issue['number']}: {PROD}#verify.version\n")
    assert "0 issue(s) changed, 1 unchanged" in second.stdout
    assert f"okectl: closed incident #{issue['number']}" in third.stdout and issue["state"] == "closed"


def test_the_apply_step_reconciles_only_the_writes(
    build_tree: Callable[[dict[str, str]], Path],
    forge: Forge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DELTA_11AA", SECRET)
    repo = build_tree(BASE_FILES)
    record(repo, {PROD: "1.0.1"})

    done = run_step(_step("apply.yml", "apply"), repo, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (
        "okectl: 0 open incident(s) from writes; 0 issue(s) changed, 0 unchanged, "
        "0 of checks this run did not see left as they are\n"
    )
    assert forge.issues() == []
