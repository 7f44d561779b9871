"""Incidents from change requests: requests written for a supplier managed by its support
desk (by the writer apply hands them to), aging day by day, rejected through the CLI and
asked again."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.change_requests import REPO, SECRET, write_requests
from tests.support.cli import run_cli
from tests.support.forge import Forge, incidents

TENANT = "deskonly/25LV"
HOSTILE_REASON = (
    f"wrong form\n<!-- okectl-incident key=x --> @oke-team **now** `{SECRET}` [here](https://evil.example)"
)


@pytest.fixture
def desk_repo(build_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESK_25LV_SECRET", SECRET)
    monkeypatch.delenv("OKECTL_SANDBOX_URL", raising=False)
    return build_tree(REPO)


def on(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    monkeypatch.setenv("OKECTL_TODAY", day)


def open_request(repo: Path) -> str:
    result = run_cli("requests", "list", "--repo", str(repo), "--status", "open", "--output", "json")
    assert result.exit_code == 0, result.err
    (req,) = json.loads(result.out)["requests"]
    rid: str = req["id"]
    return rid


def test_an_overdue_then_rejected_request_opens_incidents_that_asking_again_resolves(
    desk_repo: Path, forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = desk_repo
    write_requests(repo)
    first = open_request(repo)
    assert incidents(repo) == {}

    # Past the SLA of 5 days: one incident for the school at the supplier.
    on(monkeypatch, "2026-12-05")
    found = incidents(repo)
    assert list(found) == [f"{TENANT}#request.overdue"]
    late = found[f"{TENANT}#request.overdue"]
    assert late["title"] == f"{TENANT}: change request past the supplier's SLA"
    assert late["evidence"] == [
        {
            "label": f"request {first}",
            "value": "overdue: waiting since 2026-11-28, past the SLA of 5 days",
            "quoted": False,
        }
    ]
    assert late["environments"] == [f"{TENANT}/acceptance", f"{TENANT}/production"]
    assert late["support"] == "servicedesk@deskonly.example"
    assert forge.reconcile(repo).exit_code == 0
    (overdue_issue,) = forge.issues()

    # A day older is not news; past escalate_after_days is.
    on(monkeypatch, "2026-12-06")
    assert forge.writes_during(repo) == []
    on(monkeypatch, "2026-12-10")
    assert [m for m, _ in forge.writes_during(repo)] == ["PATCH", "POST"]
    assert (
        overdue_issue["title"]
        == f"okectl incident: {TENANT}: change request to escalate: far past the supplier's SLA"
    )

    # The support desk refuses it: no longer overdue, but rejected.
    rejected = run_cli("requests", "reject", first, "--repo", str(repo), "--reason", HOSTILE_REASON)
    assert rejected.exit_code == 0, rejected.err
    found = incidents(repo)
    assert list(found) == [f"{TENANT}#request.rejected"]
    reason = found[f"{TENANT}#request.rejected"]["evidence"][1]
    assert reason["label"] == "reason given" and reason["quoted"]
    assert SECRET not in reason["value"] and "(sensitive)" in reason["value"] and "\n" not in reason["value"]
    changed = forge.reconcile(repo)
    assert f"closed incident #{overdue_issue['number']}: {TENANT}#request.overdue" in changed.out
    assert forge.comments(overdue_issue["number"])[-1].startswith(
        f"**Healthy again:** no change request of {TENANT} is past its SLA (2026-12-10: {first} rejected)."
    )
    (rejected_issue,) = forge.issues("open")
    body = rejected_issue["body"]
    # The supplier's words are inline code: no second marker line, no mention, no link, no secret.
    assert body.count("<!-- okectl-incident") == 2 and body.splitlines()[0].startswith(
        f"<!-- okectl-incident key={TENANT}#request.rejected "
    )
    (line,) = [ln for ln in body.splitlines() if ln.startswith("- **reason given:**")]
    assert line.startswith(
        "- **reason given:** ``wrong form <!-- okectl-incident key=x --> @oke-team **now** `(sensitive)`"
    )
    assert SECRET not in body

    # The next apply asks again: the rejection is handled.
    on(monkeypatch, "2026-12-11")
    write_requests(repo)
    second = open_request(repo)
    assert second == f"{first}-2"
    assert incidents(repo) == {}
    closed = forge.reconcile(repo)
    assert f"closed incident #{rejected_issue['number']}: {TENANT}#request.rejected" in closed.out
    assert forge.comments(rejected_issue["number"])[-1].startswith(
        f"**Healthy again:** the rejected change request of {TENANT} was asked again as {second} "
    )
    assert forge.writes_during(repo) == []
    assert forge.issues("open") == []


def test_confirming_an_overdue_request_closes_its_incident_naming_the_ticket(
    desk_repo: Path, forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_requests(desk_repo)
    rid = open_request(desk_repo)
    on(monkeypatch, "2026-12-05")
    forge.reconcile(desk_repo)
    (issue,) = forge.issues()

    on(monkeypatch, "2026-12-07")
    confirmed = run_cli("requests", "confirm", rid, "--repo", str(desk_repo), "--ref", "DESK-4711")
    assert confirmed.exit_code == 0, confirmed.err
    assert incidents(desk_repo) == {}
    forge.reconcile(desk_repo)

    assert issue["state"] == "closed"
    assert forge.comments(issue["number"])[-1].startswith(
        f"**Healthy again:** no change request of {TENANT} is past its SLA "
        f"(2026-12-07: {rid} confirmed (ticket DESK-4711))."
    )
