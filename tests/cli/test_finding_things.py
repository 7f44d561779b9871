"""Finding things: the repository from a subfolder, the sandbox's database and URL, commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_cli
from tests.support.repos import PROJECT


def test_commands_find_the_repository_in_a_parent_folder(
    example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example_repo / "schools")
    result = run_cli("validate")
    assert result.exit_code == 0, result.err
    assert result.out.startswith("valid: 12 schools")
    # An explicit --repo is taken as given.
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    result = run_cli("validate", "--repo", str(elsewhere))
    assert result.exit_code == 1 and str(elsewhere) in result.err


def test_without_okectl_yaml_upward_the_current_folder_is_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate")
    assert result.exit_code == 1
    assert result.err.startswith(f"{tmp_path}: no schools/")


def test_an_unknown_command_gets_a_suggestion() -> None:
    result = run_cli("plna")
    assert result.exit_code == 1
    assert "No such command 'plna'. Did you mean 'plan'?" in result.err
    assert "Did you mean" not in run_cli("frobnicate").err


def test_sandbox_seed_defaults_to_the_repositorys_database(example_repo: Path) -> None:
    result = run_cli("sandbox", "seed", "--in-sync", "--repo", str(example_repo))
    assert result.exit_code == 0, result.err
    db = example_repo / ".okectl" / "sandbox.db"
    assert result.out.startswith(f"{db}: ") and db.is_file()
    # The embedded sandbox, which plan uses, reads the same database: its suppliers are in
    # sync; what is left is for the suppliers changed by their support desk.
    plan = json.loads(run_cli("plan", "--repo", str(example_repo), "--output", "json").out)
    assert plan["changes"] and all(c["marks"][0]["kind"] == "to-request" for c in plan["changes"])


def test_serve_prints_its_url_and_the_line_to_use_it(example_repo: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.pop("OKECTL_SANDBOX_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "okectl", "sandbox", "serve", "--port", "0"],
        cwd=example_repo / "suppliers",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        db = example_repo / ".okectl" / "sandbox.db"
        assert lines[0].startswith("Sandbox supplier at http://127.0.0.1:"), lines
        assert f"(database {db})" in lines[0]
        assert lines[2].startswith("  export OKECTL_SANDBOX_URL=http://127.0.0.1:")
        url = lines[2].split("=", 1)[1].strip()
        deadline = time.monotonic() + 15
        while True:
            try:
                # The admin API answers there: without a token, 401.
                assert httpx.get(url + "/s/delta-toets/tenants", timeout=1).status_code == 401
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
