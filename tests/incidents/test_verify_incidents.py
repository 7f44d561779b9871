"""Incidents from okectl verify's record: a real verify against the sandbox served over a
socket, with conformance faults, recorded with --record, then okectl incidents and the
forge reconciliation through their command lines."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from tests.support.cli import run_cli
from tests.support.forge import RUN_URL, Forge, incidents
from tests.support.verify import FILES, Served, serve_repository

pytestmark = pytest.mark.timeout(120)

PRODUCTION = "toets/10AA/production"
STATUS_PAGE = "https://status.toets.example/oke"


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    files = dict(FILES)
    files["suppliers/toets.yaml"] = (
        FILES["suppliers/toets.yaml"].rstrip()
        + f'\n        support: {{email: support@toets.example, url: "{STATUS_PAGE}"}}\n'
    )
    yield from serve_repository(tmp_path_factory.mktemp("incidents"), files)


@pytest.fixture
def served(module_server: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The module's sandbox without faults, okectl pointed at it, and no record yet."""
    module_server.reset()
    shutil.rmtree(module_server.root / "verification", ignore_errors=True)
    monkeypatch.setenv(SANDBOX_URL_ENV, module_server.url)
    yield module_server
    module_server.reset()


def verify(repo: Path, *args: str, level: str = "2") -> int:
    result = run_cli(
        "verify", "--repo", str(repo), "--supplier", "toets", "--level", level, "--record", *args
    )
    assert result.exit_code in (0, 4), result.err
    return result.exit_code


def test_a_verify_failure_recorded_twice_opens_one_incident_updated_on_new_evidence_closed_when_it_passes(
    served: Served, forge: Forge
) -> None:
    repo = served.root
    served.faults(PRODUCTION, claim_version="1.0")
    assert verify(repo, "--environment", "production") == 4

    found = incidents(repo)
    assert list(found) == [f"{PRODUCTION}#verify.version"]
    incident = found[f"{PRODUCTION}#verify.version"]
    assert incident["evidence"] == [
        {"label": "declared", "value": "OKE 1.0.1", "quoted": False},
        {"label": "its GET / names", "value": "1.0", "quoted": True},
    ]
    assert incident["status_page"] == STATUS_PAGE and incident["support"] == "support@toets.example"

    opened = forge.reconcile(repo)
    assert opened.exit_code == 0, opened.out
    (issue,) = forge.issues()
    assert opened.out.startswith(f"okectl: opened incident #{issue['number']}: {PRODUCTION}#verify.version\n")
    assert issue["title"] == f"okectl incident: {PRODUCTION} serves another OKE version than declared"
    assert [label["name"] for label in issue["labels"]] == ["okectl-incident"]
    assert issue["body"].startswith(f"<!-- okectl-incident key={PRODUCTION}#verify.version evidence=")
    assert "- **its GET / names:** `1.0`" in issue["body"]
    assert (
        "- **the supplier's own channels** (context; okectl reads none of them): "
        f"status page <{STATUS_PAGE}>; support `support@toets.example`\n"
    ) in issue["body"]

    # The same failure, verified and recorded again: still one incident, and no noise.
    assert verify(repo, "--environment", "production") == 4
    assert forge.writes_during(repo) == []
    assert len(forge.issues()) == 1

    # Other evidence: the same issue, its text replaced and a comment saying what changed.
    served.faults(PRODUCTION, claim_version="1.1")
    assert verify(repo, "--environment", "production") == 4
    number = issue["number"]
    assert forge.writes_during(repo) == [
        ("PATCH", f"/repos/school/config/issues/{number}"),
        ("POST", f"/repos/school/config/issues/{number}/comments"),
    ]
    assert len(forge.issues()) == 1 and "- **its GET / names:** `1.1`" in issue["body"]
    (changed,) = forge.comments(number)
    assert changed.startswith(f"**The evidence changed** ([run]({RUN_URL})):")
    assert "`1.1`" in changed

    # It passes: closed, with what passed and when.
    served.reset()
    assert verify(repo, "--environment", "production") == 0
    assert incidents(repo) == {}
    closed = forge.reconcile(repo)
    assert f"okectl: closed incident #{number}: {PRODUCTION}#verify.version" in closed.out
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert forge.comments(number)[-1] == (
        f"**Healthy again:** GET / of {PRODUCTION} names OKE 1.0.1, as declared "
        f"(2026-11-28 (okectl verify --level 2)). Closing ([run]({RUN_URL}))."
    )
    # Idempotent: nothing left to do.
    assert forge.writes_during(repo) == []


def test_a_failing_level_is_one_supplier_wide_incident_per_oke_version_that_a_gate_sees_per_environment(
    served: Served, forge: Forge
) -> None:
    repo = served.root
    served.faults(PRODUCTION, missing_field=True)
    assert verify(repo, level="3") == 4

    found = incidents(repo)
    assert list(found) == ["toets#verify.level@1.0.1"]
    incident = found["toets#verify.level@1.0.1"]
    assert incident["title"] == "toets: okectl verify fails for OKE 1.0.1"
    assert incident["environments"] == [PRODUCTION]
    assert {f["label"]: f["value"] for f in incident["evidence"]} == {
        "OKE version": "1.0.1",
        "level asked": "3",
        "passed up to level": "2",
        "status": "fail",
        "environments": PRODUCTION,
    }
    # A gate asks about one environment: production is concerned, acceptance (OKE 1.1) is not.
    gate = run_cli("incidents", "--repo", str(repo), "--environment", PRODUCTION, "--detailed-exitcode")
    assert gate.exit_code == 2 and "toets#verify.level@1.0.1" in gate.out
    other = run_cli(
        "incidents", "--repo", str(repo), "--environment", "toets/10AA/acceptance", "--detailed-exitcode"
    )
    assert other.exit_code == 0 and other.out.startswith("No open incidents")

    served.reset()
    assert verify(repo, level="3") == 0
    assert incidents(repo) == {}
