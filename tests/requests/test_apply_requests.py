"""Apply for a supplier changed by its support desk, through the real command line: the
journal says "requested", a saved plan works and is applied once, a run cut off while
writing requests is read back as requested or not, a rejected request's changes are
proposed again, and a requested write is no failed write to the incidents."""

from __future__ import annotations

import json
from pathlib import Path

from okectl.engine.apply import RUNS_DIR
from tests.support.cli import run_cli


def _journal_records(repo: Path) -> list[dict[str, object]]:
    [journal] = sorted((repo / RUNS_DIR).glob("*.jsonl"))
    return [json.loads(line) for line in journal.read_text().splitlines()]


def test_the_journal_records_each_change_as_requested_never_applied(desk_repo: Path) -> None:
    applied = run_cli("apply", "--auto-approve", "--repo", str(desk_repo))
    assert applied.exit_code == 0, applied.err
    assert "Apply: 0 applied, 6 requested, 0 failed, 0 refused, 0 not attempted." in applied.out
    records = _journal_records(desk_repo)
    calls = [r for r in records if r["event"] == "call"]
    assert len(calls) == 6 and {r["outcome"] for r in calls} == {"requested"}
    [rid] = {r["request"] for r in calls}
    assert (desk_repo / "requests" / "deskonly" / str(rid) / "request.eml").is_file()
    # Each intent was journaled before its outcome, as for every write.
    order = [(r["event"], r.get("address")) for r in records if r["event"] in ("intent", "call")]
    for address in {a for _, a in order}:
        assert order.index(("intent", address)) < order.index(("call", address))
    [end] = [r for r in records if r["event"] == "end"]
    assert (end["requested"], end["applied"], end["failed"]) == (6, 0, 0)
    incidents = run_cli("incidents", "--source", "writes", "--repo", str(desk_repo), "--detailed-exitcode")
    assert incidents.exit_code == 0, "a requested change is no failed write: " + incidents.out


def test_a_saved_plan_writes_the_request_and_applying_it_again_changes_nothing(
    desk_repo: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    planned = run_cli("plan", "--out", str(saved), "--repo", str(desk_repo))
    assert planned.exit_code == 0, planned.err
    doc = json.loads(saved.read_text())
    assert doc["summary"]["to_request"] == 6 and doc["awaiting"] == []
    first = run_cli("apply", str(saved), "--repo", str(desk_repo))
    assert first.exit_code == 0, first.err
    assert "6 requested" in first.out
    folders = sorted(p.name for p in (desk_repo / "requests" / "deskonly").iterdir())
    again = run_cli("apply", str(saved), "--repo", str(desk_repo))
    assert (again.exit_code, again.out) == (
        0,
        f"{saved}: the plan was applied already: every change it makes is done\n",
    )
    assert sorted(p.name for p in (desk_repo / "requests" / "deskonly").iterdir()) == folders


def test_a_rejected_request_is_proposed_again_and_asked_anew(desk_repo: Path) -> None:
    assert run_cli("apply", "--auto-approve", "--repo", str(desk_repo)).exit_code == 0
    [rid] = [p.name for p in (desk_repo / "requests" / "deskonly").iterdir()]
    rejected = run_cli("requests", "reject", rid, "--reason", "no acceptance", "--repo", str(desk_repo))
    assert rejected.exit_code == 0, rejected.err
    plan = run_cli("plan", "--repo", str(desk_repo), "--detailed-exitcode")
    assert plan.exit_code == 2, "a rejected request's changes are changes to make again"
    assert "Plan: 6 to create, 0 to update, 0 to delete (6 by change request)" in plan.out
    assert "awaiting confirmation" not in plan.out
    again = run_cli("apply", "--auto-approve", "--repo", str(desk_repo))
    assert f"in change request {rid}-2 " in again.out, again.out


def test_an_open_request_the_configuration_moved_past_is_named(desk_repo: Path) -> None:
    assert run_cli("apply", "--auto-approve", "--repo", str(desk_repo)).exit_code == 0
    [rid] = [p.name for p in (desk_repo / "requests" / "deskonly").iterdir()]
    school = desk_repo / "schools" / "25LV.yaml"
    school.write_text(school.read_text().replace('oke_version: "1.0"', 'oke_version: "1.0.1"'))
    plan = run_cli("plan", "--repo", str(desk_repo))
    # The environments are asked anew (other values); clients and roles still await.
    assert "+ deskonly/25LV/production  create, to request" in plan.out
    assert "+ deskonly/25LV/production/client/eduplan  create\n" in plan.out
    assert (
        f"warning: change request {rid} is open but asks for what the plan no longer proposes "
        f"(deskonly/25LV/acceptance, deskonly/25LV/production): cancel it (okectl requests cancel {rid})"
    ) in plan.out


def test_a_run_cut_off_while_requesting_is_read_back_as_requested_or_not(desk_repo: Path) -> None:
    assert run_cli("apply", "--auto-approve", "--repo", str(desk_repo)).exit_code == 0
    [rid] = [p.name for p in (desk_repo / "requests" / "deskonly").iterdir()]
    runs = desk_repo / RUNS_DIR
    (runs / "20261128T235959Z-cutoff.jsonl").write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"event": "start"},
                {"event": "intent", "address": "deskonly/25LV/production", "action": "create"},
                {"event": "intent", "address": "deskonly/25LV/pilot", "action": "create"},
            ]
        )
    )
    plan = run_cli("plan", "--repo", str(desk_repo))
    assert f"deskonly/25LV/production (create): carried out as change request {rid} (open)" in plan.err
    assert (
        "deskonly/25LV/pilot (create): not carried out: no change request asks for it; "
        "the next apply writes one" in plan.err
    )
    # Never what a read of the record would say: the record is what the desk confirmed.
    assert "it does not exist" not in plan.err
    # Looked into once: the next run says nothing more of it.
    assert "in flight" not in run_cli("plan", "--repo", str(desk_repo)).err


def test_a_cancelled_request_is_proposed_again(desk_repo: Path) -> None:
    assert run_cli("apply", "--auto-approve", "--repo", str(desk_repo)).exit_code == 0
    [rid] = [p.name for p in (desk_repo / "requests" / "deskonly").iterdir()]
    awaiting = run_cli("plan", "--repo", str(desk_repo), "--detailed-exitcode")
    assert awaiting.exit_code == 0 and "6 requested changes awaiting confirmation" in awaiting.out
    assert run_cli("requests", "cancel", rid, "--repo", str(desk_repo)).exit_code == 0
    plan = run_cli("plan", "--repo", str(desk_repo), "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "Plan: 6 to create, 0 to update, 0 to delete (6 by change request)" in plan.out
