"""Logging: silent by default; -v shows retries, throttling, token renewals and each write,
as text or as one JSON object a line; never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.sandbox import faults

pytestmark = pytest.mark.timeout(120)


def test_a_plan_is_silent_without_v(example_repo: Path, example_sandbox: str) -> None:
    faults(example_sandbox, throttle_next=1, retry_after=0, match="/resources")
    result = run_cli("plan", "--repo", str(example_repo))
    assert result.exit_code == 0, result.err
    assert "retrying" not in result.err and "access token" not in result.err


def test_v_shows_throttling_retries_and_tokens(example_repo: Path, example_sandbox: str) -> None:
    faults(example_sandbox, throttle_next=1, fail_next=1, retry_after=0, match="/resources")
    result = run_cli("-v", "plan", "--repo", str(example_repo))
    assert result.exit_code == 0, result.err
    lines = result.err.splitlines()
    assert any("throttled, retrying in" in line for line in lines), result.err
    assert any("answered 503 Service Unavailable; retrying in" in line for line in lines), result.err
    assert any("obtained an access token" in line for line in lines), result.err


def test_v_json_logs_each_write_without_a_secret(
    example_repo: Path, example_sandbox: str, example_secrets: dict[str, str]
) -> None:
    result = run_cli("-v", "--log-format", "json", "apply", "--repo", str(example_repo), "--auto-approve")
    assert result.exit_code == 0, result.err
    records = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    writes = [r for r in records if r.get("logger") == "okectl.engine.apply"]
    assert writes, result.err
    # Written to the suppliers with an API, requested from the others' support desks.
    assert {r["outcome"] for r in writes} == {"applied", "requested"}
    assert {r["action"] for r in writes} == {"create", "update", "delete"}
    assert all(r["message"].startswith(f"{r['action']} {r['address']}: {r['outcome']}") for r in writes)
    assert not any(value in result.err for value in example_secrets.values())
