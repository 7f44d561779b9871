"""plan and apply against the sandbox supplier running as a real HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from okectl.config.repository import load_state
from okectl.config.settings import load_settings
from okectl.engine.validate import validate_repository
from okectl.model.resources import Address, fingerprint
from okectl.plans.document import checksum
from okectl.providers.registry import make_provider
from tests.support.cli import run_cli
from tests.support.sandbox import faults

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def sandbox(example_sandbox: str) -> str:
    """The example's sandbox, served; every sandbox supplier of the example talks to it."""
    return example_sandbox


@pytest.fixture
def secrets(example_secrets: dict[str, str]) -> dict[str, str]:
    """A known, unique value for every secret reference in the example repository, set."""
    return example_secrets


# The example's suppliers with an API, served by the sandbox.
SANDBOX = ("delta-toets", "eduplan")


def plan_json(repo: Path, *extra: str) -> dict[str, object]:
    result = run_cli("plan", "--repo", str(repo), "--output", "json", *extra)
    assert result.exit_code == 0, result.err
    doc: dict[str, object] = json.loads(result.out)
    return doc


def count_at_sandbox(repo: Path) -> int:
    """The resources the sandbox holds, over every supplier with an API (the others are
    changed by their support desk: okectl never writes to them)."""
    state = load_state(repo)

    async def count() -> int:
        total = 0
        for supplier in state.suppliers.values():
            if supplier.api is None or supplier.api.provider != "sandbox":
                continue
            provider = make_provider(supplier, repo_root=repo, settings=load_settings(repo))
            try:
                total += len(await provider.read_tenants(await provider.list_tenants()))
            finally:
                await provider.aclose()
        return total

    return asyncio.run(count())


def test_plan_apply_plan_converges_to_no_changes(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    first = run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode")
    assert first.exit_code == 2, first.err
    applied = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert applied.exit_code == 0, applied.err
    again = run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode")
    assert again.exit_code == 0, again.out
    assert "No changes." in again.out


def test_unmanaged_resources_are_listed_and_survive_apply(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    unmanaged = {u["address"] for u in plan_json(example_repo)["unmanaged"]}  # type: ignore[index]
    assert unmanaged, "the seed has resources made by hand"
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    after = {u["address"] for u in plan_json(example_repo)["unmanaged"]}  # type: ignore[index]
    assert unmanaged <= after


def _change_at_the_supplier(repo: Path, address: Address) -> None:
    state = load_state(repo)

    async def change_directly() -> None:
        provider = make_provider(
            state.suppliers[address.supplier], repo_root=repo, settings=load_settings(repo)
        )
        try:
            [current] = [a for a in await provider.read_tenants([address.school]) if a.address == address]
            body = {**current.spec, "status": "retiring"}
            await provider.update(address, body, current.labels, current.etag)
        finally:
            await provider.aclose()

    asyncio.run(change_directly())


def _saved_plan_made_stale(example_repo: Path, tmp_path: Path) -> tuple[Path, dict[str, Any], Address]:
    """A saved plan, and one environment it updates changed at the supplier since."""
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    doc = json.loads(plan_file.read_text())
    target = next(c for c in doc["changes"] if c["action"] == "update" and c["kind"] == "environment")
    address = Address.parse(target["address"])
    _change_at_the_supplier(example_repo, address)
    return plan_file, doc, address


def test_a_saved_plan_with_a_stale_change_is_refused_whole_before_any_write(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file, doc, address = _saved_plan_made_stale(example_repo, tmp_path)
    before = plan_json(example_repo)["changes"]
    httpx.delete(f"{sandbox}/_sandbox/stats").raise_for_status()
    result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert result.exit_code == 1
    lines = result.err.splitlines()
    assert lines[0].startswith(
        f"{plan_file}: {address} (update): stale: changed at the supplier since the plan was made (ETag "
    )
    assert lines[-1] == (
        f"{plan_file}: 1 of its {len(doc['changes'])} changes are stale; nothing was applied "
        "(run okectl plan again, or apply with --allow-partial to apply the rest)"
    )
    # Nothing was written: the supplier was only read, and the plan is what it was.
    stats = httpx.get(f"{sandbox}/_sandbox/stats").json()
    assert stats["requests"], "the touched tenants were read again"
    assert plan_json(example_repo)["changes"] == before
    assert not (example_repo / ".okectl" / "runs").exists()


def test_allow_partial_applies_the_current_changes_and_refuses_the_stale_one(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file, _, address = _saved_plan_made_stale(example_repo, tmp_path)
    result = run_cli("apply", "--repo", str(example_repo), "--allow-partial", str(plan_file))
    assert result.exit_code == 1
    assert (
        f"refused: {address} (update): changed at the supplier since the plan was made (ETag " in result.err
    )
    assert "0 failed, 1 refused, 0 not attempted" in result.out
    # Everything else was applied, and the hand change was not overwritten.
    remaining = plan_json(example_repo)
    assert [c["address"] for c in remaining["changes"]] == [str(address)]  # type: ignore[index]


def test_a_saved_plan_is_refused_for_a_change_in_the_configuration(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    school = example_repo / "schools" / "25LV.yaml"
    school.write_text(school.read_text().replace('oke_version: "1.0.1"', 'oke_version: "1.0"', 1))
    result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert result.exit_code == 1
    assert (
        ": not what this repository plans (other target values; if the configuration changed since the "
        "plan was made, run okectl plan again)" in result.err
    )
    assert not (example_repo / ".okectl" / "runs").exists()


def test_a_tampered_plan_file_is_refused(example_repo: Path, sandbox: str, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    plan_file.write_text(plan_file.read_text().replace('"delete"', '"create"', 1))
    result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert result.exit_code == 1
    assert result.err.strip() == f"{plan_file}: the plan file's checksum does not match its content; re-plan"


def test_apply_under_503s_and_429s_converges_on_rerun_without_duplicates(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    faults(sandbox, fail_rate=0.15, throttle_rate=0.1, retry_after=0, seed=7)
    runs = []
    for _ in range(8):
        runs.append(run_cli("apply", "--repo", str(example_repo), "--auto-approve"))
        if runs[-1].exit_code == 0:
            break
    faults(sandbox)
    assert runs[-1].exit_code == 0, runs[-1].err
    assert len(runs) > 1 or "gave up" not in runs[0].err
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0
    desired = [r for r in validate_repository(example_repo).resources if r.address.supplier in SANDBOX]
    unmanaged = len(plan_json(example_repo)["unmanaged"])  # type: ignore[arg-type]
    assert count_at_sandbox(example_repo) == len(desired) + unmanaged


def _start_apply(repo: Path, sandbox: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OKECTL_SANDBOX_URL": sandbox}
    return subprocess.Popen(
        [sys.executable, "-m", "okectl", "apply", "--repo", str(repo), "--auto-approve", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _journal_records(repo: Path) -> list[dict[str, object]]:
    journals = sorted((repo / ".okectl" / "runs").glob("*.jsonl")) if (repo / ".okectl").is_dir() else []
    if not journals:
        return []
    out = []
    for line in journals[0].read_text().splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def _wait_for(predicate: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def _in_flight(records: list[dict[str, object]]) -> list[tuple[object, object]]:
    intents = [(r["address"], r["action"]) for r in records if r.get("event") == "intent"]
    done = {(r["address"], r["action"]) for r in records if r.get("event") == "call"}
    return [i for i in intents if i not in done]


@pytest.mark.parametrize("next_command", [("plan",), ("apply", "--auto-approve")])
def test_apply_killed_midway_says_what_was_in_flight_and_converges_on_the_next_run(
    example_repo: Path, sandbox: str, secrets: dict[str, str], next_command: tuple[str, ...]
) -> None:
    faults(sandbox, latency_ms=300)
    proc = _start_apply(example_repo, sandbox)
    # Killed while writes are under way: intents journaled, outcomes not.
    _wait_for(lambda: len([r for r in _journal_records(example_repo) if r.get("event") == "call"]) >= 3)
    _wait_for(lambda: _in_flight(_journal_records(example_repo)))
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    faults(sandbox)
    records = _journal_records(example_repo)
    assert records[0]["event"] == "start" and records[-1]["event"] != "end", "the run was killed midway"
    pending = _in_flight(records)
    assert pending
    # The next run, a plan or an apply (which first takes over the dead run's lock), says so.
    first = run_cli(*next_command, "--repo", str(example_repo))
    lines = first.err.splitlines()
    start = next(i for i, line in enumerate(lines) if "of an interrupted apply were in flight" in line)
    assert lines[start].startswith(f"note: {len(pending)} write(s) of an interrupted apply were in flight (")
    told = lines[start + 1 : start + 1 + len(pending)]
    reported = {tuple(line.strip().split(": ")[0].rsplit(" ", 1)) for line in told}
    assert reported == {(str(a), f"({b})") for a, b in pending}
    assert all(": carried out" in line or ": not carried out" in line for line in told), lines
    # Reported once: the journal records that it was looked into.
    assert any(r["event"] == "recovered" for r in _journal_records(example_repo))
    assert "in flight" not in run_cli("plan", "--repo", str(example_repo)).err
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_stops_starting_writes_records_the_end_and_exits(
    example_repo: Path, sandbox: str, secrets: dict[str, str], signum: signal.Signals, code: int
) -> None:
    faults(sandbox, latency_ms=200)
    proc = _start_apply(example_repo, sandbox)
    _wait_for(lambda: any(r.get("event") == "call" for r in _journal_records(example_repo)))
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    faults(sandbox)
    assert proc.returncode == code, err
    assert f"stopped by {signum.name}: the writes under way finished, no others started" in err
    assert "not attempted" in out and f"the run was stopped ({signum.name})" in err
    records = _journal_records(example_repo)
    # Every write that started has its outcome; the end says why it came early.
    assert _in_flight(records) == []
    assert records[-1]["event"] == "end" and records[-1]["interrupted"] is True
    assert records[-1]["signal"] == signum.name and records[-1]["not-attempted"]
    assert not (example_repo / ".okectl" / "apply.lock").exists()
    assert "in flight" not in run_cli("plan", "--repo", str(example_repo)).err
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0


def test_a_second_sigterm_stops_at_once_and_the_next_run_reads_back_what_was_in_flight(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    faults(sandbox, latency_ms=1000)
    proc = _start_apply(example_repo, sandbox)
    _wait_for(lambda: any(r.get("event") == "call" for r in _journal_records(example_repo)))
    # Right after a write starts, with a second of latency ahead of it.
    seen = len(_journal_records(example_repo))
    _wait_for(lambda: any(r.get("event") == "intent" for r in _journal_records(example_repo)[seen:]))
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    faults(sandbox)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    records = _journal_records(example_repo)
    assert records[-1]["event"] == "end" and records[-1]["interrupted"] is True
    pending = _in_flight(records)
    assert pending, "the writes under way were cut off"
    assert not (example_repo / ".okectl" / "apply.lock").exists()
    planned = run_cli("plan", "--repo", str(example_repo))
    assert planned.err.startswith(f"note: {len(pending)} write(s) of an interrupted apply were in flight (")


def test_a_second_apply_is_refused_while_one_runs(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    faults(sandbox, latency_ms=200)
    proc = _start_apply(example_repo, sandbox)
    lock = example_repo / ".okectl" / "apply.lock"
    _wait_for(lambda: any(r.get("event") == "intent" for r in _journal_records(example_repo)))
    holder = json.loads(lock.read_text())
    assert holder["pid"] == proc.pid and holder["host"] == socket.gethostname()
    second = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    faults(sandbox)
    assert second.exit_code == 1
    assert second.err.splitlines() == [
        f"another apply of this repository is running (pid {proc.pid} on {socket.gethostname()}, "
        f"started {holder['started']}); wait for it to finish"
    ]
    assert len(list((example_repo / ".okectl" / "runs").glob("*.jsonl"))) == 1, "the second wrote nothing"


def test_a_stale_apply_lock_is_taken_over_and_one_from_another_host_is_not(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    lock = example_repo / ".okectl" / "apply.lock"
    lock.parent.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.write_text(
        json.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00"})
    )
    applied = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert applied.exit_code == 0, applied.err
    assert (
        f"note: took over a stale apply lock left by pid {gone.pid} on {socket.gethostname()}, started "
        "2026-01-01T00:00:00; that run ended without releasing it" in applied.err
    )
    assert not lock.exists(), "released after the run"
    lock.write_text(json.dumps({"pid": 1, "host": "ci-runner-7", "started": "2026-01-01T00:00:00"}))
    refused = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    assert refused.exit_code == 1
    assert refused.err.splitlines() == [
        "another apply of this repository is running (pid 1 on ci-runner-7, started 2026-01-01T00:00:00); "
        f"wait for it to finish; if it is no longer running, remove {lock}"
    ]
    assert lock.exists(), "another's lock is left alone"


def test_known_secret_values_appear_in_no_output_plan_file_or_journal(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    outputs = [
        run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)),
        run_cli("plan", "--repo", str(example_repo), "--output", "json"),
        run_cli("plan", "--repo", str(example_repo), "--output", "markdown"),
        run_cli("apply", "--repo", str(example_repo), str(plan_file)),
    ]
    # Rotate one secret: the next plan must show it, still without the value.
    name = sorted(secrets)[0]
    os.environ[name] = "ROTATED-" + secrets[name]
    rotated = run_cli("plan", "--repo", str(example_repo))
    outputs.append(rotated)
    assert "secret: (sensitive) changed" in rotated.out
    texts = [r.out + r.err for r in outputs] + [plan_file.read_text()]
    texts += [p.read_text() for p in (example_repo / ".okectl" / "runs").glob("*.jsonl")]
    for value in [*secrets.values(), os.environ[name]]:
        assert not any(value in text for text in texts), value


def test_the_mass_deletion_guard_trips_and_force_passes_it(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    # Every school moves delta-toets from its profile to a single acceptance-free setup.
    for path in (example_repo / "schools").glob("*.yaml"):
        text = path.read_text()
        if "  delta-toets:\n    profile: standard" in text:
            path.write_text(
                text.replace("  delta-toets:\n    profile: standard", "  delta-toets:\n    profile: minimal")
            )
    result = run_cli("plan", "--repo", str(example_repo))
    assert result.exit_code == 1
    [line] = [ln for ln in result.err.splitlines() if ln.startswith("delta-toets:")]
    assert "owned environments" in line and "run with --force" in line
    # Scoped to just the schools that changed, the guard still weighs the whole supplier.
    touched = [a for c in ("21RC", "23KM", "27NH", "30GZ", "44TW", "50UT", "61BR") for a in ("--school", c)]
    scoped = run_cli("plan", "--repo", str(example_repo), *touched)
    assert scoped.exit_code == 1 and line in scoped.err.splitlines()
    assert run_cli("plan", "--repo", str(example_repo), "--force").exit_code == 0
    # A plan saved with --force is applied with --force again: apply does not take the
    # file's word for it.
    plan_file = example_repo.parent / "forced.json"
    assert run_cli("plan", "--repo", str(example_repo), "--force", "--out", str(plan_file)).exit_code == 0
    unforced = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    [again] = unforced.err.splitlines()
    assert unforced.exit_code == 1 and again.startswith("delta-toets: the plan deletes 5 of its ")
    assert "run with --force" in again
    assert run_cli("apply", "--repo", str(example_repo), "--force", str(plan_file)).exit_code == 0


def test_a_saved_plan_applies_whole_and_converges(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    planned = json.loads(plan_file.read_text())["changes"]
    assert any(c["adopt"] for c in planned), "the example adopts resources made by hand"
    # The suppliers changed by their support desk get change requests instead of writes.
    asked = sum(1 for c in planned if c.get("marks"))
    result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert result.exit_code == 0, result.err
    assert (
        f"Apply: {len(planned) - asked} applied, {asked} requested, 0 failed, 0 refused, 0 not attempted."
        in result.out
    )
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0


def _etags(repo: Path) -> dict[str, str]:
    """The ETag of every resource at every supplier: any write changes one."""
    state = load_state(repo)

    async def read() -> dict[str, str]:
        out: dict[str, str] = {}
        for supplier in state.suppliers.values():
            provider = make_provider(supplier, repo_root=repo, settings=load_settings(repo))
            try:
                for a in await provider.read_tenants(await provider.list_tenants()):
                    out[str(a.address)] = a.etag
            finally:
                await provider.aclose()
        return out

    return asyncio.run(read())


def test_applying_an_applied_plan_again_says_so_in_one_line_and_writes_nothing(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    assert run_cli("apply", "--repo", str(example_repo), str(plan_file)).exit_code == 0
    journals = sorted((example_repo / ".okectl" / "runs").iterdir())
    before = _etags(example_repo)

    again = run_cli("apply", "--repo", str(example_repo), str(plan_file))

    assert again.exit_code == 0, again.err
    assert again.out == f"{plan_file}: the plan was applied already: every change it makes is done\n"
    assert again.err == ""
    assert _etags(example_repo) == before
    assert sorted((example_repo / ".okectl" / "runs").iterdir()) == journals


def test_a_half_applied_plan_is_still_refused_as_stale(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    """Only a plan whose every change is done counts as applied: with one change left, the
    stale ones are named and --allow-partial applies the rest, as before."""
    plan_file, _, address = _saved_plan_made_stale(example_repo, tmp_path)
    assert run_cli("apply", "--repo", str(example_repo), "--allow-partial", str(plan_file)).exit_code == 1
    again = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert again.exit_code == 1
    assert f"{plan_file}: {address} (update): stale: changed at the supplier" in again.err
    assert "already" not in again.out + again.err


def test_deleting_a_production_environment_needs_protect_false(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    school = example_repo / "schools" / "42DE.yaml"
    text = school.read_text()
    start = text.index("  delta-toets:")
    end = text.index("roles:")
    school.write_text(text[:start] + text[end:])
    result = run_cli("plan", "--repo", str(example_repo), "--force")
    assert result.exit_code == 1
    assert "delta-toets/42DE/production: refusing to delete a production environment" in result.err


def test_a_profiles_protect_true_stops_the_delete_a_school_asks_for_with_absent(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    profile = example_repo / "environments" / "extended.yaml"
    profile.write_text(
        profile.read_text().replace(
            "acceptance: {type: acceptance, sso: required}",
            "acceptance: {type: acceptance, sso: required, protect: true}",
        )
    )
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(
        school.read_text().replace(
            '      acceptance: {oke_version: "1.1"}', "      acceptance: {absent: true}"
        )
    )
    for command in (("plan",), ("apply", "--auto-approve")):
        result = run_cli(*command, "--repo", str(example_repo))
        assert result.exit_code == 1
        assert (
            "delta-toets/21RC/acceptance: refusing to delete it: environments.acceptance of profile "
            "extended says protect: true" in result.err.splitlines()
        )
    # Still there: nothing was deleted.
    state = load_state(example_repo)

    async def read() -> set[Address]:
        provider = make_provider(
            state.suppliers["delta-toets"], repo_root=example_repo, settings=load_settings(example_repo)
        )
        try:
            return {a.address for a in await provider.read_tenants(["21RC"])}
        finally:
            await provider.aclose()

    assert Address("delta-toets", "21RC", "acceptance") in asyncio.run(read())


def test_a_write_whose_answers_are_lost_is_reported_as_outcome_unknown_and_converges(
    example_repo: Path, sandbox: str, secrets: dict[str, str]
) -> None:
    changes = plan_json(example_repo)["changes"]
    assert isinstance(changes, list)
    created = next(c["address"] for c in changes if c["action"] == "create" and c["kind"] == "environment")
    supplier, school, env = created.split("/")
    # The server creates it, but every answer about it is cut off halfway.
    faults(sandbox, drop_rate=1.0, match=f"/s/{supplier}/tenants/{school}/environments/{env}")
    result = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
    faults(sandbox)
    assert result.exit_code == 1
    assert f"unknown: {created} (create): " in result.err
    assert "may have been carried out all the same: run okectl plan to see" in result.err
    assert " 1 outcome unknown, " in result.out
    [journal] = (example_repo / ".okectl" / "runs").glob("*.jsonl")
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    # Written ahead: the intent before the write, its outcome after.
    assert [(r["event"], r.get("outcome")) for r in lines if r.get("address") == created] == [
        ("intent", None),
        ("call", "unknown"),
    ]
    assert lines[-1]["event"] == "end" and lines[-1]["unknown"] == 1
    # It was carried out: the next plan does not create it again, and apply converges.
    assert created not in [c["address"] for c in plan_json(example_repo)["changes"]]  # type: ignore[union-attr]
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0


def test_a_saved_plan_is_refused_for_a_secret_whose_value_changed_or_was_unset(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    text = plan_file.read_text()
    for value in secrets.values():
        assert value not in text
        assert fingerprint(value) not in text  # not even the suppliers' quick digest
    desired = {str(r.address): r for r in validate_repository(example_repo).resources}
    clients = [
        c
        for c in json.loads(text)["changes"]
        if c["kind"] == "client"
        and c["action"] != "delete"
        and str(desired[c["address"]].spec.get("secret"))[4:] in secrets
    ]
    assert clients and all(c["secret_digest"].startswith("pbkdf2-sha256:") for c in clients)
    # Clients sharing a secret do not show it: each digest is the client's own.
    assert len({c["secret_digest"] for c in clients}) == len(clients)
    # A printed plan carries no digests at all.
    printed = plan_json(example_repo)
    assert "secret_salt" not in printed
    assert not any("secret_digest" in c for c in printed["changes"])  # type: ignore[union-attr]
    rotated, unset = sorted({desired[c["address"]].spec["secret"][4:] for c in clients})[:2]
    monkeypatch.setenv(rotated, "a-new-value")
    monkeypatch.delenv(unset)
    moved = (f"env:{rotated}", f"env:{unset}")
    affected = {c["address"] for c in clients if desired[c["address"]].spec["secret"] in moved}

    why = "the value behind its secret reference changed since the plan was made; run okectl plan again"
    whole = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert whole.exit_code == 1
    stale = {line.split(" ")[1] for line in whole.err.splitlines() if line.endswith(f"stale: {why}")}
    assert stale == affected
    result = run_cli("apply", "--repo", str(example_repo), "--allow-partial", str(plan_file))
    assert result.exit_code == 1
    refused = {
        line.split(" ")[1]
        for line in result.err.splitlines()
        if line.startswith("refused: ") and line.endswith(why)
    }
    assert affected and refused == affected
    # Everything else was applied; with the secrets as they are now, plan and apply converge.
    monkeypatch.setenv(unset, "set-again")
    assert run_cli("apply", "--repo", str(example_repo), "--auto-approve").exit_code == 0
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0


def test_a_plan_file_with_a_broken_secret_salt_is_one_clear_error(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    doc = json.loads(plan_file.read_text())
    doc.pop("checksum")
    doc["secret_salt"] = "not hex"
    doc["checksum"] = checksum(doc)
    plan_file.write_text(json.dumps(doc))
    result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert result.exit_code == 1
    assert result.err.strip() == (
        f"{plan_file}: not a valid plan file: secret_salt is not hexadecimal; re-plan"
    )


def test_a_plan_file_without_secret_digests_is_refused(
    example_repo: Path, sandbox: str, secrets: dict[str, str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run_cli("plan", "--repo", str(example_repo), "--out", str(plan_file)).exit_code == 0
    doc = json.loads(plan_file.read_text())
    for key in ("checksum", "secret_salt"):
        doc.pop(key)
    for change in doc["changes"]:
        change.pop("secret_digest", None)
    doc["checksum"] = checksum(doc)
    plan_file.write_text(json.dumps(doc))
    before = count_at_sandbox(example_repo)
    result = run_cli("apply", "--repo", str(example_repo), str(plan_file))
    assert result.exit_code == 1, result.err
    assert "records no digest of the secret it writes; make the plan again" in result.err
    assert "Apply:" not in result.out
    assert count_at_sandbox(example_repo) == before
