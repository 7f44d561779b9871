"""The GitHub Action's steps (action.yml) run one by one as a runner would run them: bash
with GitHub's options, ``env:`` expressions filled in from inputs and earlier outputs."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.repos import PROJECT

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
    github: dict[str, str] = field(default_factory=dict)

    def value(self, text: str) -> str:
        def resolve(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref.startswith("inputs."):
                return self.inputs[ref.removeprefix("inputs.")]
            if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", ref):
                return self.outputs.get(m.group(1), {}).get(m.group(2), "")
            if ref == "github.action_path":
                return str(PROJECT)
            if ref.startswith("github.") and ref.removeprefix("github.") in self.github:
                return self.github[ref.removeprefix("github.")]
            raise AssertionError(f"the test does not know the expression {ref!r}")

        return EXPRESSION.sub(resolve, text)

    def run(self, step_id: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return self.run_step(STEPS[step_id], step_id, **extra_env)

    def run_step(
        self, step: dict[str, Any], step_id: str, **extra_env: str
    ) -> subprocess.CompletedProcess[str]:
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
        # GitHub's `shell: bash`, or its default for a step that names no shell.
        shell = ["--noprofile", "--norc", "-eo", "pipefail"] if step.get("shell") == "bash" else ["-e"]
        result = subprocess.run(
            ["bash", *shell, str(script)],
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
