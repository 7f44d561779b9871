"""The example repository as suppliers are, through the real command line on a fresh copy:
plan proposes change requests for the suppliers changed by their support desk and writes
for the API ones; apply writes the requests; the next plan awaits them; confirming makes
the plan a no-op for them; an export contradicting a confirmation reopens it; apply --send
hands the requests to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from aiosmtpd.controller import Controller

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.engine.validate import validate_repository
from okectl.model.redaction import Scrubber
from tests.support.cli import run_cli
from tests.support.repos import PROJECT
from tests.support.serving import free_port
from tests.support.smtp import Inbox

pytestmark = pytest.mark.timeout(300)

# The suppliers of the example changed by their support desk, and their addresses.
DESKS = {
    "campusnet": "support@campusnet.example",
    "examengo": "servicedesk@examengo.example",
    "oudtoets": "helpdesk@oudtoets.example",
    "praktijkproef": "support@praktijkproef.example",
    "roosterwijs": "support@roosterwijs.example",
    "toetsvorm": "service@toetsvorm.example",
}
API = ("delta-toets", "eduplan")


@pytest.fixture
def secrets(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A value for every secret reference of the example; the embedded sandbox."""
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)
    values: dict[str, str] = {}
    for res in validate_repository(example_repo).resources:
        ref = res.spec.get("secret") if res.kind == "client" else None
        if isinstance(ref, str) and ref.startswith("env:"):
            values[ref[4:]] = f"Kx7-{ref[4:].lower()}-s3cr3t"
            monkeypatch.setenv(ref[4:], values[ref[4:]])
    return values


def _cli(repo: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(*args, "--repo", str(repo))
    return result.exit_code, result.out, result.err


def _requests(repo: Path) -> list[dict[str, object]]:
    code, out, err = _cli(repo, "requests", "list", "--output", "json")
    assert code == 0, err
    requests: list[dict[str, object]] = json.loads(out)["requests"]
    return requests


def _desk_changes(plan: dict[str, object]) -> list[dict[str, object]]:
    changes = plan["changes"]
    assert isinstance(changes, list)
    return [c for c in changes if c["address"].split("/")[0] in DESKS]


def test_a_fresh_example_plans_requests_for_desks_and_writes_for_apis(example_repo: Path) -> None:
    code, out, err = _cli(example_repo, "plan", "--output", "json")
    assert code == 0, err
    plan = json.loads(out)
    by_desk = _desk_changes(plan)
    assert by_desk, "the records differ from the configuration in a few places"
    assert all([m["kind"] for m in c["marks"]] == ["to-request"] for c in by_desk)
    api = [c for c in plan["changes"] if c["address"].split("/")[0] in API]
    assert api and not any(c.get("marks") for c in api), "an API supplier's changes are written"
    assert plan["summary"]["to_request"] == len(by_desk)
    # The few believable places where a desk's confirmed state is not the configuration:
    addresses = {c["address"]: c for c in by_desk}
    upgrade = addresses["examengo/23KM/production"]
    assert upgrade["diff"] == [{"path": "oke_version", "before": "1.0", "after": "1.0.1"}]
    assert addresses["praktijkproef/44TW/production/role/assessor"]["action"] == "update"
    assert addresses["roosterwijs/27NH/acceptance"]["action"] == "create"
    assert addresses["toetsvorm/31AW/production/client/eduplan"]["diff"][0]["removed"] == [
        "nl-test-admin-flow-6"
    ]
    assert addresses["examengo/31AW/pilot"]["action"] == "delete"
    code, text, _ = _cli(example_repo, "plan")
    assert "examengo  (to request from ExamenGo's support desk (servicedesk@examengo.example)" in text
    assert "~ examengo/23KM/production  update, to request" in text
    assert "+ eduplan/42DE/production  create\n" in text


def test_apply_writes_requests_the_next_plan_awaits_them_and_confirming_settles_them(
    example_repo: Path, secrets: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = _cli(example_repo, "plan", "--output", "json")
    planned = _desk_changes(json.loads(out))
    schools = {tuple(str(c["address"]).split("/")[:2]) for c in planned}
    code, out, err = _cli(example_repo, "apply", "--auto-approve")
    assert code == 0, err
    assert f"{len(planned)} requested" in out
    assert "Not sent: " in out, "without --send nothing leaves the machine"
    requests = _requests(example_repo)
    assert {(r["request"]["supplier"]["id"], r["request"]["school"]["code"]) for r in requests} == schools
    scrubber = Scrubber(list(secrets.values()))
    for req in requests:
        folder = example_repo / str(req["folder"])
        assert sorted(p.name for p in folder.iterdir()) == [
            "request.eml",
            "request.json",
            "request.md",
            "status.yaml",
        ]
        supplier = req["request"]["supplier"]["id"]
        raw = (folder / "request.eml").read_bytes()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        assert msg["To"] == DESKS[supplier]
        parts = [raw.decode("utf-8", "replace")] + [
            str(p.get_content()) for p in msg.walk() if not p.is_multipart()
        ]
        for path in folder.iterdir():
            parts.append(path.read_text(encoding="utf-8"))
        assert not any(scrubber.reveals(text) for text in parts), folder

    # The next plan: every requested change awaits its desk; nothing new is proposed for them.
    code, out, err = _cli(example_repo, "plan", "--output", "json", "--detailed-exitcode")
    plan = json.loads(out)
    assert _desk_changes(plan) == []
    awaiting = plan["awaiting"]
    assert {a["address"] for a in awaiting} == {c["address"] for c in planned}
    assert {a["request"]["id"] for a in awaiting} == {r["id"] for r in requests}
    assert all(a["request"]["standing"] == "awaiting" for a in awaiting)
    assert code == 0, "changes only awaiting a desk are no changes to make: CI stays green"
    code, text, _ = _cli(example_repo, "plan")
    assert f"Requested, awaiting confirmation ({len(planned)} changes in {len(requests)} requests" in text
    assert "awaiting confirmation, age 0 of SLA 10 days" in text

    # The desks answer: confirming each makes the next plan a no-op for those resources.
    for n, req in enumerate(requests):
        code, out, err = _cli(example_repo, "requests", "confirm", str(req["id"]), "--ref", f"T-{n}")
        assert code == 0, err
    code, out, err = _cli(example_repo, "plan", "--output", "json", "--detailed-exitcode")
    plan = json.loads(out)
    assert (code, _desk_changes(plan), plan["awaiting"]) == (0, [], []), out


def test_an_export_contradicting_a_confirmation_reopens_it(
    example_repo: Path, secrets: dict[str, str], tmp_path: Path
) -> None:
    assert _cli(example_repo, "apply", "--auto-approve")[0] == 0
    [asked] = [r for r in _requests(example_repo) if r["request"]["supplier"]["id"] == "roosterwijs"]
    rid = str(asked["id"])
    assert _cli(example_repo, "requests", "confirm", rid, "--ref", "RW-5512")[0] == 0
    # Roosterwijs's next export (every field, in its own words) shows 27NH's new acceptance
    # environment at OKE 0.9.4: the desk set it up from an old template.
    record = yaml.safe_load((example_repo / "state/roosterwijs/27NH.yaml").read_text())
    export = tmp_path / "roosterwijs-export-20261130.csv"
    export.write_text(_export(record, acceptance="0.9.4"), encoding="utf-8")
    code, out, err = _cli(
        example_repo, "import", "--supplier", "roosterwijs", "--from", str(export), "--write"
    )
    assert code == 0, err
    assert (
        f"reopens {rid}: roosterwijs-export-20261130.csv contradicts it: "
        "roosterwijs/27NH/acceptance oke_version is 0.9.4, requested 1.0" in out
    )
    status = yaml.safe_load((example_repo / str(asked["folder"]) / "status.yaml").read_text())
    assert status["status"] == "open"
    code, out, err = _cli(example_repo, "plan", "--output", "json")
    awaiting = {a["address"]: a["request"]["id"] for a in json.loads(out)["awaiting"]}
    assert {a: r for a, r in awaiting.items() if a.startswith("roosterwijs/")} == {
        "roosterwijs/27NH/acceptance": rid
    }


def _export(record: dict[str, Any], *, acceptance: str) -> str:
    """A roosterwijs CSV export of one school's record, its acceptance at OKE ``acceptance``."""
    columns = ["brin", "omgeving", "soort", "naam", "type", "status", "function", "oke_versie",
               "ooapi_version", "flows", "sso_mode", "sso_federation", "sso_schac_home",
               "client_id", "scopes", "role_name", "groups"]  # fmt: skip
    rows = [",".join(columns)]
    code = record["school"]
    for env, v in record["environments"].items():
        sso = v.get("sso") or {}
        version = acceptance if env == "acceptance" else v["oke_version"]
        cells = [code, env, "omgeving", "", v["type"], v["status"], v["function"], version,
                 v["ooapi_version"], "|".join(str(f) for f in v["flows"]), sso.get("mode", ""),
                 sso.get("federation", ""), sso.get("schac_home", ""), "", "", "", ""]  # fmt: skip
        rows.append(",".join(cells))
        for name, c in v.get("clients", {}).items():
            client = [c["client_id"], "|".join(c["scopes"]), "", ""]
            rows.append(",".join([code, env, "client", name, *[""] * 9, *client]))
        for name, r in v.get("roles", {}).items():
            role = [r["name"], "|".join(r["groups"])]
            rows.append(",".join([code, env, "rol", name, *[""] * 11, *role]))
    return "\n".join(rows) + "\n"


@pytest.fixture
def smtp(example_repo: Path) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = example_repo / "okectl.yaml"
    settings.write_text(
        settings.read_text()
        + f"smtp: {{host: 127.0.0.1, port: {port}, security: none, from_address: oke-beheer@npuls.example}}\n"
    )
    try:
        yield inbox
    finally:
        controller.stop()


def test_apply_send_hands_each_request_to_the_smtp_server_once(
    example_repo: Path, secrets: dict[str, str], smtp: Inbox
) -> None:
    code, out, err = _cli(example_repo, "apply", "--auto-approve", "--send")
    assert code == 0, err
    requests = _requests(example_repo)
    assert len(smtp.messages) == len(requests) > 0
    sent = {}
    for sender, recipients, content in smtp.messages:
        msg = BytesParser(policy=policy.default).parsebytes(content)
        sent[msg["X-Okectl-Request"]] = recipients
        assert sender == "oke-beheer@npuls.example"
        assert not Scrubber(list(secrets.values())).reveals(content.decode("utf-8", "replace"))
    # To the support desk; ExamenGo's requests go to the adoption team in copy (api.settings.cc).
    assert sent == {
        r["id"]: [DESKS[r["request"]["supplier"]["id"]]]
        + (["adoptie@npuls.example"] if r["request"]["supplier"]["id"] == "examengo" else [])
        for r in requests
    }
    for r in requests:
        assert f"Sent {r['id']} to {DESKS[r['request']['supplier']['id']]}" in out
        history = yaml.safe_load((example_repo / str(r["folder"]) / "status.yaml").read_text())["history"]
        assert [e["event"] for e in history] == ["requested", "sent"]
    # Nothing new to apply, nothing unsent: nothing is sent twice.
    code, out, err = _cli(example_repo, "apply", "--auto-approve", "--send")
    assert (code, out.splitlines()[-1]) == (0, "Nothing to apply."), err
    assert "Sent " not in out
    assert len(smtp.messages) == len(requests)


def test_apply_send_without_smtp_settings_applies_nothing(
    example_repo: Path, secrets: dict[str, str]
) -> None:
    code, _, err = _cli(example_repo, "apply", "--auto-approve", "--send")
    assert code == 1
    assert err.startswith("--send delivers change requests through the SMTP server okectl.yaml names")
    assert not (example_repo / "requests").exists()
    assert not (example_repo / ".okectl" / "runs").exists()


def test_the_plan_document_with_requested_changes_follows_its_schema_and_markdown_shows_both(
    example_repo: Path, secrets: dict[str, str]
) -> None:
    schema = json.loads((PROJECT / "okectl" / "plans" / "plan.schema.json").read_text())
    code, out, _ = _cli(example_repo, "plan", "--output", "markdown")
    assert code == 0
    assert re.search(r"<b>examengo</b>: 0 create, \d+ update, 2 delete \(by change request\)</summary>", out)
    assert "_to request from ExamenGo's support desk \\(servicedesk@examengo.example\\)" in out
    assert "<b>eduplan</b>: 6 create, 3 update, 1 delete</summary>" in out
    assert _cli(example_repo, "apply", "--auto-approve")[0] == 0
    code, out, _ = _cli(example_repo, "plan", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["awaiting"] and doc["summary"]["awaiting"] == len(doc["awaiting"])
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
    _, out, _ = _cli(example_repo, "plan", "--output", "markdown")
    assert f"<b>Requested, awaiting confirmation</b>: {len(doc['awaiting'])} changes in " in out
    assert "# requested on 2026-11-28 as examengo-23km-" in out


def test_an_overdue_request_warns_and_one_past_escalation_stops_apply_until_waived(
    example_repo: Path, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _cli(example_repo, "apply", "--auto-approve")[0] == 0
    # Praktijkproef: SLA 5 days, escalation after 10 (twice the SLA). A week on: overdue,
    # a warning; CI stays green.
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-05")
    code, out, _ = _cli(example_repo, "plan", "--detailed-exitcode", "--supplier", "praktijkproef")
    assert code == 0, out
    assert "awaiting confirmation, age 7 of SLA 5 days: overdue" in out
    code, out, _ = _cli(example_repo, "policy", "check")
    assert code == 0, out
    assert "[chase-requests] praktijkproef/44TW: change request praktijkproef-44tw-" in out
    # Twelve days on: past the escalation threshold, an error that stops apply.
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-10")
    code, out, _ = _cli(example_repo, "plan", "--detailed-exitcode", "--supplier", "praktijkproef")
    assert code == 3, out
    assert "age 12 of SLA 5 days: escalate, past 10 days" in out
    assert _cli(example_repo, "policy", "check")[0] == 3
    code, _, err = _cli(example_repo, "apply", "--auto-approve")
    assert code == 3 and "refusing to apply" in err
    waivers = example_repo / "policies" / "waivers.yaml"
    waivers.write_text(
        waivers.read_text()
        + "  - policy: chase-requests\n    target: praktijkproef\n"
        + "    reason: Praktijkproef's desk is short-staffed until the new year; escalated by phone.\n"
        + "    owner: adoption team <adoptie@npuls.example>\n    expires: 2027-01-15\n"
    )
    assert _cli(example_repo, "policy", "check")[0] == 0
