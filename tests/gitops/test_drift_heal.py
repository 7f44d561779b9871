"""okectl drift --heal: the configuration applied again where heal-mode suppliers drifted,
through apply and every guard it keeps, and only there. The supplier is the sandbox on a
real socket; the hand edits go through its administration API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from okectl.commands.drift import drift
from okectl.engine.planner import make_plan
from okectl.engine.workspace import load_workspace
from okectl.gitops.drift.detect import find_drift
from tests.support.cli import run_cli
from tests.support.drift_fleet import Fleet, dedent, school

pytestmark = pytest.mark.timeout(120)


def _hand_edits(fleet: Fleet) -> None:
    for code in ("11AA", "22BB", "33CC"):
        fleet.desk.edit(f"{code}/acceptance", oke_version="1.1")
    fleet.desk.edit("22BB/production/client/planwijs", scopes=["nl-test-admin-flow-0"])
    for gone in ("44DD/acceptance/client/planwijs", "44DD/acceptance/role/assessor", "44DD/acceptance"):
        fleet.desk.delete(gone)


def test_healing_converges_the_next_run_finds_no_drift_and_the_plan_is_empty(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("heal")
    _hand_edits(fleet)

    run = drift(load_workspace(fleet.root), heal=True)

    assert [run.outcome(f).status for f in run.report.findings] == ["healed", "healed", "healed"]
    assert run.healed is not None and run.healed.applied is not None
    written = run.healed.applied.result
    assert written is not None and written.counts()["applied"] == 7
    after = load_workspace(fleet.root)
    assert find_drift(after).findings == []
    assert make_plan(after).plan.changes == []
    # Written as apply writes: a journal of the run, with the plan's checksum.
    # The fleet's first apply wrote the first journal.
    _first_apply, heal = sorted((fleet.root / ".okectl/runs").iterdir())
    first = json.loads(heal.read_text().splitlines()[0])
    assert first["event"] == "start" and first["plan_checksum"].startswith("sha256:")


def test_healing_leaves_the_configurations_own_changes_to_apply(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("heal")
    fleet.repo.commit(
        "33CC fewer flows", {"schools/33CC.yaml": school("33CC").replace("[0, 2, 3, 4]", "[0, 2, 3]")}
    )
    _hand_edits(fleet)

    run = drift(load_workspace(fleet.root), heal=True)

    moved = next(f for f in run.report.findings if f.moved and f.moved[0].path == "oke_version")
    outcome = run.outcome(moved)
    assert outcome.status == "not healed"
    assert outcome.detail == (
        "delta/33CC/acceptance: its change also holds what the configuration changed and is not "
        "applied yet: okectl apply carries out both",
    )
    after = load_workspace(fleet.root)
    # 11AA and 22BB healed; 33CC waits for apply, with the configuration's own change.
    (left,) = find_drift(after).findings
    assert [str(p.address) for p in left.places] == ["delta/33CC/acceptance"]
    assert {str(c.address) for c in make_plan(after).plan.changes} == {
        "delta/33CC/acceptance",
        "delta/33CC/production",
    }


def test_only_heal_mode_kinds_are_healed(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("{environment: heal, client: detect}")
    _hand_edits(fleet)

    run = drift(load_workspace(fleet.root), heal=True)

    statuses = {(f.kind, f.action): run.outcome(f).status for f in run.report.findings}
    assert statuses == {
        ("environment", "create"): "healed",
        ("environment", "update"): "healed",
        ("client", "update"): "reported",
    }
    (left,) = find_drift(load_workspace(fleet.root)).findings
    assert left.kind == "client"


def test_a_detect_mode_supplier_is_never_written_to(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("detect")
    _hand_edits(fleet)

    journals = sorted((fleet.root / ".okectl/runs").iterdir())

    result = run_cli("drift", "--heal", "--repo", str(fleet.root), "--detailed-exitcode")

    assert result.exit_code == 2, result.err
    assert "[detect: reported]" in result.out and result.err == ""
    assert sorted((fleet.root / ".okectl/runs").iterdir()) == journals
    assert len(find_drift(load_workspace(fleet.root)).findings) == 3


def test_heal_is_refused_while_a_policy_error_stands_where_it_would_write(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("heal")
    # The configuration now puts 11AA's production on a concept version: a policy error.
    concept = dedent(school("11AA")).replace(
        "    clients:", '    environments:\n      production: {oke_version: "1.1"}\n    clients:'
    )
    fleet.repo.commit("11AA production on 1.1", {"schools/11AA.yaml": concept})
    fleet.desk.edit("11AA/acceptance", oke_version="1.0.1")

    result = run_cli("drift", "--heal", "--repo", str(fleet.root))

    assert result.exit_code == 3, (result.out, result.err)
    assert "[heal: not healed]" in result.out
    assert "not healed: refusing to apply: 1 policy error(s) stand; fix them or add a waiver" in result.out
    assert "[production-final] delta/11AA/production" in result.out
    doc, _ = fleet.desk.get("11AA/acceptance")
    assert doc["oke_version"] == "1.0.1"


def test_heal_never_passes_the_mass_deletion_limit(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("heal")
    labels = fleet.desk.get("11AA/acceptance")[0]["labels"]
    # Three environments appear at the supplier with this repository's labels copied along:
    # healing means deleting them, 3 of 11 owned environments, over the 25% limit.
    for code in ("11AA", "22BB", "33CC"):
        fleet.desk.create(f"{code}/test", type="test", oke_version="1.0", flows=[0], labels=labels)

    run = drift(load_workspace(fleet.root), heal=True)

    (finding,) = run.report.findings
    assert (finding.action, finding.what) == ("delete", "appeared at the supplier")
    outcome = run.outcome(finding)
    assert outcome.status == "not healed"
    assert outcome.detail == (
        "delta: the plan deletes 3 of its 11 owned environments (27%, over the limit of 25%); check the "
        "change, then run with --force (or raise safety.max_delete_fraction in suppliers/delta.yaml)",
    )
    assert fleet.desk.get("22BB/test")[0]["type"] == "test"


def test_heal_waits_for_no_apply_and_takes_the_lock(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("heal")
    _hand_edits(fleet)
    lock = fleet.root / ".okectl/apply.lock"
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2026-11-28T03:00:00+00:00"}
    lock.write_text(json.dumps(holder))

    run = drift(load_workspace(fleet.root), heal=True)

    assert run.healed is not None and run.healed.refused
    assert run.healed.refused[0].startswith("another apply of this repository is running")
    assert len(find_drift(load_workspace(fleet.root)).findings) == 3


def test_the_command_heals_tells_each_write_on_stderr_and_the_next_run_is_clean(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("heal")
    _hand_edits(fleet)
    repo = str(fleet.root)

    healed = run_cli("drift", "--heal", "--repo", repo, "--detailed-exitcode")
    again = run_cli("drift", "--repo", repo, "--detailed-exitcode")

    assert healed.exit_code == 0, healed.err
    assert healed.out.count("[heal: healed]") == 3
    assert "delta/44DD/acceptance: created\n" in healed.err
    assert "delta/11AA/acceptance: updated\n" in healed.err
    assert (again.exit_code, again.out) == (0, "No drift at the suppliers.\n")


def test_sigterm_stops_healing_as_it_stops_apply(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("heal")
    _hand_edits(fleet)
    fleet.desk.slow(300)
    runs = fleet.root / ".okectl/runs"
    before = set(runs.iterdir())
    env = {**os.environ, "OKECTL_SANDBOX_URL": fleet.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "okectl", "drift", "--heal", "--repo", str(fleet.root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def writing() -> bool:
        # The first write under way (the environment; its clients wait for it): stopped
        # now, the environment is written and its clients are not.
        journals = set(runs.iterdir()) - before
        return any('"event": "intent"' in j.read_text() for j in journals)

    deadline = time.monotonic() + 60
    while not writing() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    fleet.desk.slow(0)

    assert proc.returncode == 143, err
    assert "stopped by SIGTERM: the writes under way finished, no others started" in err
    assert "[heal: not healed]" in out and "not-attempted: the run was stopped (SIGTERM)" in out
    # What was not written is drift still; the next heal finishes it.
    assert run_cli("drift", "--heal", "--repo", str(fleet.root)).exit_code == 0
    assert find_drift(load_workspace(fleet.root)).findings == []
