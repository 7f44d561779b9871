"""Incidents from the apply journals: journals written by real applies against the sandbox
served over a socket, with faults injected, then okectl incidents and the forge
reconciliation through their command lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.forge import Forge, incidents
from tests.support.sandbox import faults

pytestmark = pytest.mark.timeout(180)

LOST = "eduplan/42DE/production"


@pytest.fixture
def sandbox(example_sandbox: str) -> str:
    return example_sandbox


@pytest.fixture
def secrets(example_secrets: dict[str, str]) -> list[str]:
    return list(example_secrets.values())


def apply(repo: Path) -> None:
    result = run_cli("apply", "--repo", str(repo), "--auto-approve")
    assert result.exit_code in (0, 1), result.err


def test_a_failed_and_an_outcome_unknown_write_open_incidents_that_a_later_apply_and_a_later_plan_resolve(
    example_repo: Path, sandbox: str, secrets: list[str], forge: Forge, tmp_path: Path
) -> None:
    # The create's answers are all lost after the supplier carried it out: outcome unknown.
    faults(sandbox, drop_rate=1.0, match="/s/eduplan/tenants/42DE/environments/production")
    apply(example_repo)
    # Its clients and roles were not attempted; the next apply writes them, and the
    # supplier refuses the first of them.
    faults(sandbox, fail_next=1, fail_status=400, match="/s/eduplan/tenants/42DE/environments/production/")
    apply(example_repo)
    faults(sandbox)

    found = incidents(example_repo)
    assert len(found) == 2
    lost = found[f"{LOST}#write"]
    assert lost["title"] == f"{LOST}: the outcome of the create is unknown"
    assert lost["evidence"][:2] == [
        {"label": "write", "value": "create", "quoted": False},
        {
            "label": "outcome",
            "value": "outcome unknown: okectl gave up, and the supplier may have carried it out",
            "quoted": False,
        },
    ]
    assert "may have been carried out all the same" in lost["evidence"][2]["value"]
    (failed_key,) = set(found) - {f"{LOST}#write"}
    failed = found[failed_key]
    assert failed_key.startswith(f"{LOST}/") and failed["title"].endswith("failed")
    assert {"label": "outcome", "value": "failed", "quoted": False} in failed["evidence"]
    assert "400" in failed["evidence"][2]["value"] and failed["evidence"][2]["quoted"]
    assert failed["environments"] == [LOST]
    # A gate on that environment sees both.
    gate = run_cli("incidents", "--repo", str(example_repo), "--environment", LOST, "--detailed-exitcode")
    assert gate.exit_code == 2

    opened = forge.reconcile(example_repo, "--source", "writes")
    assert opened.exit_code == 0, opened.out + opened.err
    assert sorted(i["body"].split(" ", 2)[2].split(" evidence=")[0] for i in forge.issues()) == sorted(
        f"key={k}" for k in found
    )
    assert forge.writes_during(example_repo, "--source", "writes") == []

    # Faults gone: apply writes the refused one, and nothing for the create that happened.
    apply(example_repo)
    found = incidents(example_repo)
    assert list(found) == [f"{LOST}#write"]
    closed = forge.reconcile(example_repo, "--source", "writes")
    assert f": {failed_key}\n" in closed.out and "closed" in closed.out
    by_key = {i["body"].split("key=", 1)[1].split(" ", 1)[0]: i for i in forge.issues()}
    assert by_key[failed_key]["state"] == "closed" and by_key[f"{LOST}#write"]["state"] == "open"
    healed = forge.comments(by_key[failed_key]["number"])[-1]
    assert healed.startswith(f"**Healthy again:** the create of {failed_key.split('#')[0]} was applied (")

    # A plan made afterwards has nothing left to do there: the create was carried out.
    time.sleep(1.1)  # plans and issues are stamped to the second
    plan_file = tmp_path / "plan.json"
    planned = run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file))
    assert planned.exit_code == 0, planned.err
    assert LOST not in {c["address"] for c in json.loads(plan_file.read_text())["changes"]}
    assert incidents(example_repo, "--plan", str(plan_file)) == {}
    # The nightly run has no journal, only its plan: that is enough to close it.
    runs = example_repo / ".okectl" / "runs"
    for journal in runs.iterdir():
        journal.rename(tmp_path / journal.name)
    settled = forge.reconcile(example_repo, "--plan", str(plan_file))
    assert f"closed incident #{by_key[f'{LOST}#write']['number']}: {LOST}#write" in settled.out
    assert forge.comments(by_key[f"{LOST}#write"]["number"])[-1].startswith(
        f"**Healthy again:** the plan has nothing left to do at {LOST} (plan of "
    )
    assert forge.writes_during(example_repo, "--plan", str(plan_file)) == []

    texts = [i["body"] for i in forge.issues()] + [c for n in forge.state.comments for c in forge.comments(n)]
    assert not [t for t in texts for s in secrets if s in t]


def test_the_nightly_run_without_journals_leaves_write_incidents_open(
    example_repo: Path, sandbox: str, secrets: list[str], forge: Forge
) -> None:
    faults(sandbox, fail_next=1, fail_status=409, match="/s/eduplan/tenants/42DE/environments/production")
    apply(example_repo)
    faults(sandbox)
    assert list(incidents(example_repo)) == [f"{LOST}#write"]
    forge.reconcile(example_repo, "--source", "writes")
    for journal in (example_repo / ".okectl" / "runs").iterdir():
        journal.unlink()

    before = len(forge.state.writes)
    quiet = forge.reconcile(example_repo)
    assert quiet.out.endswith("1 of checks this run did not see left as they are\n")
    assert len(forge.state.writes) == before
    (issue,) = forge.issues()
    assert issue["state"] == "open"
