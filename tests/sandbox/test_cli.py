"""`okectl sandbox serve|seed`, and seeding in sync with a repository."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from okectl.sandbox.store import Store
from tests.support.cli import run_cli
from tests.support.sandbox import SEED
from tests.support.serving import free_port

SEED_TABLES = ("resources", "tenants", "credentials", "suppliers", "releases", "meta")


def test_seed_loads_a_file(tmp_path: Path, seed_file: Path) -> None:
    db = tmp_path / "state.db"
    result = run_cli("sandbox", "seed", "--db", str(db), str(seed_file))
    assert result.exit_code == 0, result.err
    assert result.out.strip() == f"{db}: 5 resources loaded from {seed_file}"
    store = Store(db)
    try:
        assert store.counts() == {"environment": 3, "client": 1, "role": 1}
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


def test_seed_defaults_to_the_repositorys_seed_file(tmp_path: Path, example_repo: Path) -> None:
    result = run_cli("sandbox", "seed", "--db", str(tmp_path / "s.db"), "--repo", str(example_repo))
    assert result.exit_code == 0, result.err
    assert "resources loaded from" in result.out


def test_a_bad_seed_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "suppliers:\n  delta-toets:\n    tenants:\n      21RC:\n"
        "        production: {type: prod, oke_version: '1.0'}\n"
    )
    result = run_cli("sandbox", "seed", "--db", str(tmp_path / "s.db"), str(bad))
    assert result.exit_code == 1
    where = "suppliers.delta-toets.tenants.21RC.production.type"
    assert result.err.startswith(f"{bad}:5:28: {where}: Input should be")
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "suppliers:\n  delta-toets:\n    tenants: [21RC\n",
            ":4:1: malformed YAML: did not find expected ',' or ']'",
        ),
        (
            "suppliers:\n  delta-toets: {}\n  delta-toets: {}\n",
            ":3:3: duplicate key 'delta-toets' (first defined at line 2); keep only one",
        ),
        (
            "suppliers:\n  delta-toets:\n    tenants: 5\n",
            ":3:14: suppliers.delta-toets.tenants: expected a mapping",
        ),
        (
            "suppliers:\n  delta-toets:\n    tenant: {}\n",
            ":3:5: suppliers.delta-toets: unknown key(s) tenant",
        ),
        (
            "suppliers:\n  delta-toets:\n    credentials: 5\n",
            ":3:18: suppliers.delta-toets.credentials: expected a list",
        ),
        (
            "suppliers:\n  delta-toets:\n    releases: {a: 1}\n",
            ":3:15: suppliers.delta-toets.releases: expected a list",
        ),
    ],
)
def test_seed_mistakes_name_their_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = run_cli("sandbox", "seed", "--db", str(tmp_path / "s.db"), str(bad))
    assert result.exit_code == 1
    assert result.err.startswith(f"{bad}{message}"), result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_seed_with_a_mistake_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "suppliers:\n"
        "  delta-toets:\n"
        "    credentials: [{client_id: a, client_secret: b, tenants: [21RC]}]\n"
        "    tenants:\n      21RC:\n        production: {type: production, oke_version: '1.0'}\n"
        "  examengo:\n    tenants:\n      23KM:\n        production: {type: prod, oke_version: '1.0'}\n"
    )
    db = tmp_path / "s.db"
    assert run_cli("sandbox", "seed", "--db", str(db), str(bad)).exit_code == 1
    with sqlite3.connect(db) as con:
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SEED_TABLES]
    assert counts == [0] * len(SEED_TABLES)


def test_in_sync_seeding_makes_the_next_plan_empty(example_repo: Path) -> None:
    db = example_repo / ".okectl" / "sandbox.db"
    result = run_cli("sandbox", "seed", "--db", str(db), "--in-sync", "--repo", str(example_repo))
    assert result.exit_code == 0, result.err
    assert "(repository id example)" in result.out
    plan = run_cli("plan", "--repo", str(example_repo), "--output", "json")
    assert plan.exit_code == 0, plan.err
    # The suppliers the sandbox serves are in sync; what is left is for the support desks.
    changed = {c["address"].split("/")[0] for c in json.loads(plan.out)["changes"]}
    assert changed and not changed & {"delta-toets", "eduplan"}


def test_the_example_seed_gives_a_plan_with_every_kind_of_change(example_repo: Path) -> None:
    plan = run_cli("plan", "--repo", str(example_repo))
    assert plan.exit_code == 0, plan.err
    summary = plan.out.strip().splitlines()[-1]
    found = re.fullmatch(
        r"Plan: (\d+) to create, (\d+) to adopt, (\d+) to update, (\d+) to delete "
        r"\((\d+) by change request\); (\d+) in sync, (\d+) unmanaged left alone\.",
        summary,
    )
    assert found is not None, summary
    assert all(int(n) > 0 for n in found.groups()), summary


def _wait(url: str, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            httpx.get(url + "/_sandbox/faults", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the sandbox did not start")


def test_serve_runs_a_real_server_with_faults_from_the_command_line(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    port = free_port()
    cmd = [
        sys.executable, "-m", "okectl", "sandbox", "serve", "--port", str(port),
        "--db", str(tmp_path / "served.db"), "--seed", str(seed), "--latency-ms", "25", "--fail-rate", "0.1",
        "--control",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc)
        faults = httpx.get(url + "/_sandbox/faults").json()
        assert faults["latency_ms"] == 25 and faults["fail_rate"] == 0.1
        start = time.monotonic()
        token = httpx.post(
            url + "/s/delta-toets/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "okectl-dev",
                "client_secret": "okectl-dev",
            },
        )
        assert time.monotonic() - start >= 0.025
        assert token.status_code in (200, 503)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
