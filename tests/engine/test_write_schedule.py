"""How apply schedules writes: each supplier's writes go as their own dependencies allow,
never held back by another supplier's. Against the sandbox as a real HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from okectl.engine.validate import validate_repository
from okectl.model.resources import Address
from tests.support.cli import run_cli
from tests.support.serving import serve_in_background

pytestmark = pytest.mark.timeout(120)

SLOW = "delta-toets"  # an environment update and environment deletes (after their children's)
QUICK = "eduplan"  # an environment create, then its client's and roles' creates


@pytest.fixture
def sandbox(example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    seed = example_repo / "sandbox" / "seed.yaml"
    with serve_in_background(tmp_path / "sandbox.db", seed=seed, control=True) as url:
        monkeypatch.setenv("OKECTL_SANDBOX_URL", url)
        yield url


@pytest.fixture
def secrets(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for res in validate_repository(example_repo).resources:
        ref = res.spec.get("secret") if res.kind == "client" else None
        if ref and ref.startswith("env:"):
            monkeypatch.setenv(ref[4:], f"S3CRET-{ref[4:]}-VALUE")


def _calls(repo: Path) -> list[dict[str, Any]]:
    (journal,) = (repo / ".okectl" / "runs").glob("*.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    return [r for r in records if r.get("event") == "call"]


def test_one_suppliers_slow_writes_do_not_hold_back_another_suppliers_clients_and_roles(
    example_repo: Path, sandbox: str, secrets: None
) -> None:
    planned = run_cli("plan", "--repo", str(example_repo))
    assert f"~ {SLOW}/44TW/production " in planned.out and f"+ {QUICK}/42DE/production/role/" in planned.out
    # Every answer of the slow supplier takes a second and a half to arrive (after the plan's reads).
    faults = {"slow_rate": 1.0, "slow_ms": 1500, "match": f"/s/{SLOW}/"}
    httpx.post(f"{sandbox}/_sandbox/faults", json=faults).raise_for_status()
    applied = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert applied.exit_code == 0, applied.err

    # The suppliers changed by their support desk end requested; these two have an API.
    calls = [c for c in _calls(example_repo) if c["address"].startswith((f"{SLOW}/", f"{QUICK}/"))]
    assert {c["outcome"] for c in calls} == {"applied"}
    order = {(c["address"], c["action"]): i for i, c in enumerate(calls)}
    addresses = [Address.parse(c["address"]) for c in calls]
    slow_environments = [
        i
        for i, (a, c) in enumerate(zip(addresses, calls, strict=True))
        if a.supplier == SLOW and a.kind == "environment" and c["action"] != "delete"
    ]
    quick_children = [i for i, a in enumerate(addresses) if a.supplier == QUICK and a.kind != "environment"]
    assert slow_environments and quick_children
    # The quick supplier's clients and roles were all written while the slow supplier's
    # environment update was still under way (fleet-wide phases would have held them back
    # until every supplier's environments were written).
    assert max(quick_children) < max(slow_environments)
    # Within a supplier, an environment's own create or update still comes before its
    # clients' and roles' writes, and its delete after theirs.
    for i, addr in enumerate(addresses):
        for action in ("create", "update"):
            if addr.parent is not None and (str(addr.parent), action) in order:
                assert order[(str(addr.parent), action)] < i, addr
        if addr.parent is not None and (str(addr.parent), "delete") in order:
            assert order[(str(addr.parent), "delete")] > i, addr
