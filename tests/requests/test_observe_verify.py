"""okectl verify --record as an observation of change requests: a supplier without any
administration API, its environments' OKE endpoints declared at a real sandbox served
over a socket. What GET / says confirms a requested upgrade (the evidence kept with the
request, the record updated) and contradicts a confirmed one (the request reopened)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trustme
import yaml

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.engine.validate import validate_repository
from okectl.sandbox.seed import open_store, seed_in_sync
from tests.support.change_requests import REPO, SECRET
from tests.support.cli import run_cli
from tests.support.repos import write_tree
from tests.support.serving import serve_in_background

pytestmark = pytest.mark.timeout(180)

VERIFY_VAR = "DESK_VERIFY_SECRET"
VERIFY_SECRET = "desk-verify-client-s3cret-991"
CLIENT = "okectl-verify-25lv"
PRODUCTION = "deskonly/25LV/production"
# Where the sandbox serves an environment's OKE endpoint.
ENDPOINT = "ooapi/deskonly/25LV/production"


def files(url: str, *, production: str = "1.0") -> dict[str, str]:
    """The requests repository, with a verification client at the served sandbox and each
    environment's OKE endpoint declared there; production at OKE ``production``."""
    out = dict(REPO)
    out["suppliers/deskonly.yaml"] = REPO["suppliers/deskonly.yaml"].rstrip(" ") + (
        f'        verify: {{token_url: "{url}/ooapi/deskonly/oauth/token", client_id: {CLIENT},\n'
        f"                  client_secret: {{env: {VERIFY_VAR}}}, ca_file: tls/ca.pem}}\n"
    )
    out["schools/25LV.yaml"] = REPO["schools/25LV.yaml"].replace(
        "        roles:\n",
        "            environments:\n"
        f'              production: {{oke_version: "{production}", base_url: "{url}/{ENDPOINT}"}}\n'
        f'              acceptance: {{base_url: "{url}/ooapi/deskonly/25LV/acceptance"}}\n'
        "        roles:\n",
    )
    return out


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The sandbox serving what the configuration asks (production at OKE 1.0.1), as the
    support desk will have made it, over https with a private CA; the repository, its
    supplier confirmed at 1.0 so far."""
    monkeypatch.setenv("DESK_25LV_SECRET", SECRET)
    monkeypatch.setenv(VERIFY_VAR, VERIFY_SECRET)
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    db = tmp_path / "oke.db"
    wanted = write_tree(tmp_path / "wanted", files("https://localhost:1", production="1.0.1"))
    seed_in_sync(db, validate_repository(wanted).resources, "test-repo")
    store = open_store(db)
    store.add_credential("deskonly", CLIENT, VERIFY_SECRET, ["25LV"])
    store.close()
    with serve_in_background(db, control=True, tls=(chain, key)) as url:
        repo = write_tree(tmp_path / "repo", files(url))
        (repo / "tls").mkdir()
        ca.cert_pem.write_to_path(str(repo / "tls" / "ca.pem"))
        yield repo, url


def cli(*args: str) -> Callable[[Path], tuple[int, str, str]]:
    def run(repo: Path) -> tuple[int, str, str]:
        result = run_cli(*args, "--repo", str(repo))
        return result.exit_code, result.out, result.err

    return run


def _only_request(repo: Path) -> str:
    listed = json.loads(run_cli("requests", "list", "--repo", str(repo), "--output", "json").out)
    [open_one] = [r["id"] for r in listed["requests"] if r["status"]["status"] == "open"]
    return str(open_one)


def _upgrade_requested(repo: Path, url: str) -> str:
    """Everything requested and confirmed at OKE 1.0; then production asked to move to 1.0.1."""
    assert run_cli("apply", "--auto-approve", "--repo", str(repo)).exit_code == 0
    first = _only_request(repo)
    assert run_cli("requests", "confirm", first, "--ref", "DESK-1", "--repo", str(repo)).exit_code == 0
    write_tree(repo, {"schools/25LV.yaml": files(url, production="1.0.1")["schools/25LV.yaml"]})
    plan = run_cli("plan", "--repo", str(repo))
    assert f"~ {PRODUCTION}  update, to request" in plan.out, plan.out
    assert "Plan: 0 to create, 1 to update, 0 to delete (1 by change request)" in plan.out
    applied = run_cli("apply", "--auto-approve", "--repo", str(repo))
    assert "Apply: 0 applied, 1 requested, 0 failed" in applied.out, applied.out + applied.err
    return _only_request(repo)


def test_get_slash_naming_the_requested_version_confirms_the_upgrade_with_evidence(
    served: tuple[Path, str],
) -> None:
    repo, url = served
    upgrade = _upgrade_requested(repo, url)
    waiting = run_cli("plan", "--repo", str(repo), "--detailed-exitcode")
    assert waiting.exit_code == 0, waiting.out
    assert f"requested on 2026-11-28 as {upgrade}, awaiting confirmation, age 0 of SLA 5 days" in waiting.out
    verified = run_cli(
        "verify", "--repo", str(repo), "--environment", "production", "--level", "2", "--record"
    )
    assert verified.exit_code == 0, verified.out + verified.err
    assert f"confirms {upgrade}: every change shows in okectl verify" in verified.err
    # The first request (production at 1.0, confirmed) is not held against what its
    # successor asked for.
    assert "reopens" not in verified.err
    assert "recorded: state/deskonly/25LV.yaml" in verified.err
    status = yaml.safe_load((repo / f"requests/deskonly/{upgrade}/status.yaml").read_text())
    assert status["status"] == "confirmed"
    [event] = [e for e in status["history"] if e["event"] == "confirmed"]
    evidence = json.loads((repo / f"requests/deskonly/{upgrade}" / event["evidence"]).read_text())
    assert evidence["kind"] == "verify" and evidence["outcome"] == "confirms"
    assert evidence["endpoints"][PRODUCTION] == {
        "base_url": f"{url}/ooapi/deskonly/25LV/production",
        "oke_version": "1.0.1",
    }
    assert VERIFY_SECRET not in json.dumps(evidence)
    record = (repo / "state/deskonly/25LV.yaml").read_text()
    assert f"request: {upgrade}, observed: requests/deskonly/{upgrade}/evidence/" in record
    after = run_cli("plan", "--repo", str(repo), "--detailed-exitcode")
    assert (after.exit_code, after.out.splitlines()[-1]) == (0, "No changes. 6 resources in sync."), after.out
    again = run_cli("verify", "--repo", str(repo), "--environment", "production", "--level", "2", "--record")
    assert upgrade not in again.err, "the same observation is no news"


def test_a_version_set_back_reopens_the_confirmed_request_and_the_plan_awaits_it_again(
    served: tuple[Path, str],
) -> None:
    repo, url = served
    upgrade = _upgrade_requested(repo, url)
    run_cli("verify", "--repo", str(repo), "--environment", "production", "--level", "2", "--record")
    # The supplier's environment goes back to OKE 1.0 (its GET / says so).
    httpx.post(
        f"{url}/_sandbox/oke/faults",
        json={"environment": PRODUCTION, "claim_version": "1.0"},
        verify=ssl.create_default_context(cafile=str(repo / "tls" / "ca.pem")),
    ).raise_for_status()
    verified = run_cli(
        "verify", "--repo", str(repo), "--environment", "production", "--level", "2", "--record"
    )
    assert verified.exit_code == 4, "the drift is a conformance failure, as for every supplier"
    assert (
        f"reopens {upgrade}: okectl verify contradicts it: {PRODUCTION} oke_version is 1.0, requested 1.0.1"
        in verified.err
    )
    status = yaml.safe_load((repo / f"requests/deskonly/{upgrade}/status.yaml").read_text())
    assert status["status"] == "open"
    assert [e["event"] for e in status["history"]] == ["requested", "confirmed", "reopened"]
    record = yaml.safe_load((repo / "state/deskonly/25LV.yaml").read_text())
    assert record["environments"]["production"]["oke_version"] == "1.0"
    plan = run_cli("plan", "--repo", str(repo), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.out
    assert f"requested on 2026-11-28 as {upgrade}, awaiting confirmation" in plan.out
    assert f"~ {PRODUCTION}  update" in plan.out
    assert "No changes. 5 resources in sync; 1 requested change awaiting confirmation." in plan.out


def test_an_endpoint_that_does_not_answer_says_nothing(served: tuple[Path, str], tmp_path: Path) -> None:
    repo, url = served
    upgrade = _upgrade_requested(repo, url)
    # Declared somewhere nothing listens: an outage is no observation.
    school = (repo / "schools/25LV.yaml").read_text().replace(url, "https://localhost:9")
    write_tree(repo, {"schools/25LV.yaml": school})
    verified = run_cli(
        "verify", "--repo", str(repo), "--environment", "production", "--level", "2", "--record"
    )
    assert verified.exit_code != 0
    assert upgrade not in verified.err
    status = yaml.safe_load((repo / f"requests/deskonly/{upgrade}/status.yaml").read_text())
    assert status["status"] == "open" and len(status["history"]) == 1
