"""From plan to confirmed: requests are written for the planned changes, wait, are
confirmed, and the next plan is a no-op for them. Through the real CLI where a user acts."""

from __future__ import annotations

import json
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from okectl.config.record import Provenance, RecordedState, write_record
from okectl.model.redaction import Scrubber
from okectl.requests.tracking import apply_request
from okectl.requests.writer import WrittenRequest
from tests.support.change_requests import SECRET, write_requests
from tests.support.cli import run_cli


def test_plan_reads_the_recorded_state_and_proposes_everything_for_a_new_school(desk_repo: Path) -> None:
    result = run_cli("plan", "--repo", str(desk_repo))
    assert result.exit_code == 0, result.err
    assert "+ deskonly/25LV/production  create" in result.out
    assert "Plan: 6 to create, 0 to update, 0 to delete" in result.out


def test_one_request_per_supplier_and_school_with_all_three_files(
    requested: tuple[Path, WrittenRequest],
) -> None:
    repo, written = requested
    folder = repo / written.request.rel
    assert written.id.startswith("deskonly-25lv-")
    assert sorted(p.name for p in folder.iterdir()) == [
        "request.eml",
        "request.json",
        "request.md",
        "status.yaml",
    ]
    doc = json.loads((folder / "request.json").read_text())
    assert [c["address"] for c in doc["changes"]] == [
        "deskonly/25LV/acceptance",
        "deskonly/25LV/acceptance/client/eduplan",
        "deskonly/25LV/acceptance/role/assessor",
        "deskonly/25LV/production",
        "deskonly/25LV/production/client/eduplan",
        "deskonly/25LV/production/role/assessor",
    ]
    md = (folder / "request.md").read_text()
    assert md.startswith(f"# Wijzigingsverzoek {written.id}\n")
    assert "buiten deze e-mail uitgewisseld: by phone with the school's application administrator" in md


def test_request_json_follows_its_published_schema(requested: tuple[Path, WrittenRequest]) -> None:
    repo, written = requested
    schema = json.loads((Path(__file__).parents[2] / "schema" / "request.schema.json").read_text())
    doc = json.loads((repo / written.request.rel / "request.json").read_text())
    assert list(Draft202012Validator(schema).iter_errors(doc)) == []


def test_the_eml_parses_is_addressed_to_the_support_desk_and_carries_the_json(
    requested: tuple[Path, WrittenRequest],
) -> None:
    repo, written = requested
    raw = (repo / written.request.rel / "request.eml").read_bytes()
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg["To"] == "servicedesk@deskonly.example"
    assert msg["From"] == "oke-beheer@langeveld.example"
    assert written.id in msg["Subject"]
    assert msg["Message-ID"] == f"<{written.id}@langeveld.example>"
    assert msg["Date"] is not None
    body = msg.get_body(preferencelist=("plain",))
    # RFC 5322 lines end in CRLF on the wire.
    text = body.get_content().replace("\r\n", "\n") if body is not None else None
    assert text == (repo / written.request.rel / "request.md").read_text()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "request.json"
    assert json.loads(attachment.get_content())["id"] == written.id


def test_no_file_of_a_request_holds_the_secret_in_any_encoding(
    requested: tuple[Path, WrittenRequest],
) -> None:
    repo, written = requested
    scrubber = Scrubber([SECRET])
    for path in (repo / written.request.rel).rglob("*"):
        raw = path.read_bytes()
        # The e-mail's parts are encoded (quoted-printable, base64): decode them too.
        texts = [raw.decode("utf-8", "replace")]
        if path.suffix == ".eml":
            msg = BytesParser(policy=policy.default).parsebytes(raw)
            texts += [str(part.get_content()) for part in msg.walk() if not part.is_multipart()]
        for text in texts:
            assert not scrubber.reveals(text), path.name


def test_the_same_changes_give_the_same_request_and_nothing_is_rewritten(
    requested: tuple[Path, WrittenRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, first = requested
    before = {p.name: p.read_bytes() for p in (repo / first.request.rel).iterdir()}
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-15")
    [again] = write_requests(repo)
    assert (again.id, again.written) == (first.id, False)
    assert {p.name: p.read_bytes() for p in (repo / first.request.rel).iterdir()} == before


def test_list_and_show_give_status_and_age_against_the_sla(
    requested: tuple[Path, WrittenRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, written = requested
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-05")  # requested 2026-11-28, SLA 5 days
    listed = run_cli("requests", "list", "--repo", str(repo))
    assert listed.exit_code == 0, listed.err
    assert f"{written.id}  open    2026-11-28  6        -       7d, OVERDUE: past the SLA of 5d" in listed.out
    shown = run_cli("requests", "show", written.id, "--repo", str(repo))
    assert shown.exit_code == 0, shown.err
    assert "status: open; 7d, OVERDUE: past the SLA of 5d" in shown.out
    assert f"# Wijzigingsverzoek {written.id}" in shown.out


def test_confirm_records_the_values_and_the_next_plan_is_a_no_op(
    requested: tuple[Path, WrittenRequest],
) -> None:
    repo, written = requested
    result = run_cli(
        "requests", "confirm", written.id, "--ref", "DESK-4711", "--by", "Anna", "--repo", str(repo)
    )
    assert result.exit_code == 0, result.err
    assert result.out == (
        f"Confirmed {written.id} (ticket DESK-4711); recorded in state/deskonly/25LV.yaml. "
        "Commit it with the request.\n"
    )
    record = (repo / "state/deskonly/25LV.yaml").read_text()
    assert record.startswith("# yaml-language-server: $schema=../../schema/state.schema.json\n")
    assert f"request: {written.id}, ticket: DESK-4711, by: Anna" in record
    assert not Scrubber([SECRET]).reveals(record)
    plan = run_cli("plan", "--repo", str(repo), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.out + plan.err
    assert "No changes. 6 resources in sync." in plan.out
    listed = run_cli("requests", "list", "--repo", str(repo), "--status", "confirmed")
    assert f"{written.id}  confirmed  2026-11-28  6        DESK-4711" in listed.out
    again = run_cli("requests", "confirm", written.id, "--ref", "DESK-4711", "--repo", str(repo))
    assert (again.exit_code, again.out) == (
        0,
        f"{written.id} was already confirmed with ticket DESK-4711; nothing changed.\n",
    )


def test_a_changed_secret_value_is_planned_again_after_confirmation(
    requested: tuple[Path, WrittenRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, written = requested
    assert run_cli("requests", "confirm", written.id, "--ref", "DESK-1", "--repo", str(repo)).exit_code == 0
    monkeypatch.setenv("DESK_25LV_SECRET", "a-rotated-secret-value")
    plan = run_cli("plan", "--repo", str(repo))
    assert "~ deskonly/25LV/production/client/eduplan  update" in plan.out
    assert "secret: (sensitive) changed" in plan.out
    [rotation] = write_requests(repo)
    doc = json.loads((repo / rotation.request.rel / "request.json").read_text())
    assert [(c["address"], c["secret"], c["fields"]) for c in doc["changes"]] == [
        ("deskonly/25LV/acceptance/client/eduplan", "changed", []),
        ("deskonly/25LV/production/client/eduplan", "changed", []),
    ]


def test_a_confirmation_cut_off_after_the_record_is_completed_by_a_rerun(
    requested: tuple[Path, WrittenRequest],
) -> None:
    repo, written = requested
    # Confirming writes the record first, then the status. A run stopped between the two
    # leaves this: the record holds the request's values, the request is still open.
    source = Provenance(date=date(2026, 11, 28), request=written.id, ticket="DESK-9")
    record = apply_request(
        RecordedState(supplier="deskonly", school="25LV"),
        written.request.document.changes,
        source,
        written.request.status,
    )
    write_record(repo, record)
    cut_off = (repo / "state/deskonly/25LV.yaml").read_bytes()
    status = repo / written.request.rel / "status.yaml"
    assert "status: open" in status.read_text()
    rerun = run_cli("requests", "confirm", written.id, "--ref", "DESK-9", "--repo", str(repo))
    assert rerun.exit_code == 0, rerun.err
    assert "status: confirmed" in status.read_text()
    assert (repo / "state/deskonly/25LV.yaml").read_bytes() == cut_off


def test_a_rejected_request_keeps_its_reason_and_its_changes_are_requested_anew(
    requested: tuple[Path, WrittenRequest],
) -> None:
    repo, written = requested
    result = run_cli(
        "requests", "reject", written.id, "--reason", "test environment not offered", "--repo", str(repo)
    )
    assert result.exit_code == 0, result.err
    shown = run_cli("requests", "show", written.id, "--repo", str(repo))
    assert "rejected - test environment not offered" in shown.out
    plan = run_cli("plan", "--repo", str(repo))
    assert "Plan: 6 to create" in plan.out
    [anew] = write_requests(repo)
    assert anew.id == f"{written.id}-2" and anew.written
    refused = run_cli("requests", "confirm", written.id, "--ref", "X", "--repo", str(repo))
    assert refused.exit_code == 1
    assert refused.err.startswith(f"{written.id} is rejected; only an open request can be confirmed")


def test_cancel_withdraws_an_open_request(requested: tuple[Path, WrittenRequest]) -> None:
    repo, written = requested
    assert run_cli("requests", "cancel", written.id, "--repo", str(repo)).out == f"Cancelled {written.id}.\n"
    listed = run_cli("requests", "list", "--repo", str(repo), "--status", "open")
    assert listed.out == "No change requests.\n"


def test_an_unknown_id_is_one_line_naming_it(requested: tuple[Path, WrittenRequest]) -> None:
    repo, written = requested
    result = run_cli("requests", "show", "deskonly-25lv-0000000000", "--repo", str(repo))
    assert result.exit_code == 1
    assert result.err == (
        f"no change request 'deskonly-25lv-0000000000'; okectl requests list shows them (e.g. {written.id})\n"
    )
