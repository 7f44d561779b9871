"""`okectl verify` against a real sandbox server over sockets: passes at every OKE version,
each conformance fault reported precisely, no write ever reaching production."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from okectl.verify.runner import Selection
from okectl.views.verify import failures
from tests.support.cli import CliResult
from tests.support.repos import write_tree
from tests.support.verify import FILES, Served, serve_repository, verify

Cli = Callable[..., CliResult]
PRODUCTION = "toets/10AA/production"  # TA on OKE 1.0.1


def run(cli: Cli, served: Served, *args: str) -> CliResult:
    result = cli("verify", "--repo", str(served.root), *args)
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    return result


def failure_lines(served: Served, **selection: object) -> list[str]:
    report = verify(served.root, Selection(**selection))  # type: ignore[arg-type]
    return failures(report)


# --- passes ------------------------------------------------------------------------------


def test_every_oke_version_in_the_catalogue_passes_levels_0_to_3(served: Served, cli: Cli) -> None:
    result = run(cli, served, "--output", "json")
    assert result.exit_code == 0, result.out
    report = json.loads(result.out)
    assert report["status"] == "pass" and report["counts"]["fail"] == 0
    versions = {e["oke_version"] for e in report["environments"]}
    assert versions == {"0.9.3", "0.9.4", "1.0", "1.0.1", "1.1"}
    roles = {r for e in report["environments"] for r in e["roles"]}
    assert roles == {"ta", "tpl", "sis"}
    for env in report["environments"]:
        levels = {c["level"] for c in env["checks"]}
        assert levels == {0, 1, 2, 3}, env["address"]
    # The loopback exemption is said, not silently taken.
    assert "exempt from https" in json.dumps(report)


@pytest.mark.parametrize("environment", ["acceptance", "test", "pilot"])
def test_level_4_passes_on_non_production_environments(served: Served, environment: str) -> None:
    report = verify(served.root, Selection(environment=environment, level=4))
    assert failures(report) == []
    checks = {c.check for e in report.environments for c in e.checks if c.level == 4}
    assert {"write.put", "write.patch", "write.put-id-mismatch", "write.cleanup"} <= checks
    assert "write.cancelled-association" in checks
    # Synthetic resources were removed again: nothing is left behind in the sandbox.
    for env in report.environments:
        cleanup = [c for c in env.checks if c.check == "write.cleanup"]
        assert [c.status for c in cleanup] == ["pass"], env.address


def test_the_text_output_says_what_was_checked(served: Served, cli: Cli) -> None:
    result = run(cli, served, "--supplier", "leerling", "--environment", "production")
    assert result.exit_code == 0
    assert "leerling/10AA/production  sis  OKE 1.0.1 (OOAPI 5.0)  ok" in result.out
    assert "overlays: declare-flow-scopes, secure-flow-6, group-member-path" in result.out
    assert "verified 1 environment(s) at level 3" in result.out


# --- no write on production --------------------------------------------------------------


def test_no_level_4_request_ever_reaches_a_production_environment(served: Served, cli: Cli) -> None:
    result = run(cli, served, "--level", "4")
    assert result.exit_code == 1
    assert "refused on production environments: leerling/10AA/production, plan/10AA/production" in result.err
    result = run(cli, served, "--level", "4", "--environment", "production", "--supplier", "toets")
    assert result.exit_code == 1
    assert PRODUCTION in result.err
    # Refused before anything was sent to any OKE endpoint.
    assert served.requests() == {}


def test_an_endpoint_that_is_not_https_gets_no_token(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the adapter's own reference supplier is exempt from https: the same loopback
    URL reported for any other supplier fails level 0, and nothing more is sent to it."""
    import dataclasses

    from okectl.adapters import sandbox as sandbox_adapter
    from okectl.providers import registry

    own = sandbox_adapter.ADAPTER
    assert own.oke_access is not None
    make_access = own.oke_access

    def as_a_real_supplier(supplier: object, ctx: object) -> object:
        return dataclasses.replace(make_access(supplier, ctx), local=False)  # type: ignore[arg-type]

    monkeypatch.setitem(registry.BUILT_IN, "sandbox", dataclasses.replace(own, oke_access=as_a_real_supplier))
    report = verify(served.root, Selection(suppliers=frozenset({"toets"}), level=3))
    assert report.environments
    for env in report.environments:
        assert [(c.check, c.status) for c in env.checks] == [("transport.https", "fail")], env.checks
        assert "is not https; nothing more was sent to it" in env.checks[0].message
    assert served.requests() == {}


def test_an_environment_production_at_the_supplier_gets_no_write_either(served: Served) -> None:
    """The repository says acceptance; the supplier says production: production wins."""
    env_url = f"{served.url}/s/toets/tenants/10AA/environments/acceptance"
    token = httpx.post(
        f"{served.url}/s/toets/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEV_CLIENT_ID,
            "client_secret": DEV_CLIENT_SECRET,
        },
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    current = httpx.get(env_url, headers=auth)
    doc = current.json()
    body = {k: doc[k] for k in ("type", "status", "function", "oke_version", "ooapi_version", "flows", "sso")}
    changed = httpx.put(
        env_url, headers={**auth, "If-Match": current.headers["etag"]}, json={**body, "type": "production"}
    )
    assert changed.status_code == 200
    try:
        report = verify(
            served.root, Selection(suppliers=frozenset({"toets"}), environment="acceptance", level=4)
        )
        assert failures(report) == [
            "toets/10AA/acceptance: L4 write.refused: level 4 is refused on production: "
            "the supplier reports it as production"
        ]
        assert "toets/10AA/acceptance" not in served.requests()
    finally:
        restore = httpx.put(env_url, headers={**auth, "If-Match": changed.headers["etag"]}, json=body)
        assert restore.status_code == 200


# --- each conformance fault, reported precisely ------------------------------------------


def test_a_missing_required_field(served: Served, cli: Cli) -> None:
    served.faults(PRODUCTION, missing_field=True)
    result = run(cli, served, "--supplier", "toets", "--environment", "production")
    assert result.exit_code == 4
    lines = failure_lines(served, suppliers=frozenset({"toets"}), environment="production")
    base = f"{served.url}/ooapi/{PRODUCTION}"
    assert (
        f"{PRODUCTION}: L3 read.get: "
        + "; ".join(f"items[{i}]: 'name' is a required property" for i in range(5))
        + f"; request: GET {base}/components?pageSize=10; "
        "requires: GET /components answers 200 valid against OKE 1.0.1 (oke-1.0.1.yaml)"
    ) in lines
    assert any(
        line.startswith(f"{PRODUCTION}: L3 read.get: the body: 'name' is a required property")
        for line in lines
    )
    assert len(lines) == 2, lines


def test_a_wrong_consumer_key_is_okectls_rule(served: Served) -> None:
    served.faults(PRODUCTION, wrong_consumer_key=True)
    lines = failure_lines(served, suppliers=frozenset({"toets"}), environment="production")
    assert lines
    keys = [line for line in lines if " L3 read.consumer-key: " in line]
    assert keys and all("carries consumerKey 'NL-TEST-ADMIN', not 'nl-test-admin'" in line for line in keys)
    assert any("items[0].consumers carries consumerKey 'NL-TEST-ADMIN'" in line for line in keys)
    # Labelled as okectl's own rule: the profile accepts any consumer key.
    assert all(line.endswith("[okectl's rule, not the profile's]") for line in keys), keys


def test_get_root_claiming_another_version_is_version_drift(served: Served, cli: Cli) -> None:
    served.faults(PRODUCTION, claim_version="1.0")
    result = run(cli, served, "--supplier", "toets", "--environment", "production")
    assert result.exit_code == 4
    assert (
        "FAIL metadata.version: version drift: the repository declares OKE 1.0.1, GET / says OKE 1.0"
        in result.out
    )
    assert failure_lines(served, suppliers=frozenset({"toets"}), environment="production") == [
        f"{PRODUCTION}: L2 metadata.version: version drift: the repository declares OKE 1.0.1, GET / says "
        f"OKE 1.0; request: GET {served.url}/ooapi/{PRODUCTION}/; requires: supportedConsumers holds "
        "{consumerKey: nl-test-admin, version: 1.0.1} [okectl's rule, not the profile's]"
    ]


def test_400_for_a_result_on_a_cancelled_association(served: Served) -> None:
    served.faults("plan/10AA/acceptance", reject_cancelled=True)
    lines = failure_lines(served, suppliers=frozenset({"plan"}), environment="acceptance", level=4)
    assert len(lines) == 1
    assert lines[0].startswith(
        "plan/10AA/acceptance: L4 write.cancelled-association: a correct result for a cancelled association: "
        "answered 400, expected 200; request: PATCH "
    )
    assert lines[0].endswith(
        "requires: a receiver must answer 200, not 400, to a correct result for a cancelled association "
        "(flows 3 and 5) [source: OKE specification v1.0 (2024-09-18), chapter 5 'Koppelvlakken' "
        "(referenced from doc/ErrorHandling.md)]"
    )


def test_no_authentication(served: Served) -> None:
    served.faults(PRODUCTION, no_auth=True)
    lines = failure_lines(served, suppliers=frozenset({"toets"}), environment="production")
    assert (
        f"{PRODUCTION}: L1 auth.no-token: GET /components: answered 200 without a token, not 401; "
        f"request: GET {served.url}/ooapi/{PRODUCTION}/components; "
        "requires: GET /components requires a token with scope nl-test-admin-flow-0 "
        "[source: doc/ErrorHandling.md, 'Authentication en beveiliging' and 'scopes']" in lines
    )
    assert any(
        "L1 auth.wrong-scope: GET /components: answered 200 to a token of scope" in line for line in lines
    )
    assert all(" L1 " in line for line in lines), lines


# --- outputs, evidence, record -----------------------------------------------------------


def test_junit_output(served: Served, cli: Cli) -> None:
    served.faults(PRODUCTION, claim_version="1.0")
    junit = run(cli, served, "--supplier", "toets", "--output", "junit")
    assert junit.exit_code == 4
    root = ET.fromstring(junit.out)
    assert root.get("failures") == "1"
    failed = root.findall(".//failure")
    assert len(failed) == 1 and "version drift" in (failed[0].get("message") or "")


def test_html_is_never_dumped_on_the_terminal(served: Served, cli: Cli) -> None:
    result = run(cli, served, "--supplier", "toets", "--output", "html")
    assert result.exit_code != 0 and result.out == ""
    assert "--output html writes index.html over the evidence packs: give --out DIR" in result.err
    assert served.requests() == {}


def test_evidence_pack_and_record(served: Served, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    result = run(cli, served, "--supplier", "toets", "--out", str(out), "--record")
    assert result.exit_code == 0
    packs = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*"))
    assert packs == ["toets/oke-0.9.4", "toets/oke-1.0", "toets/oke-1.0.1", "toets/oke-1.1"]
    pack = out / "toets" / "oke-1.0.1"
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["profile"]["file"] == "oke-1.0.1.yaml" and len(manifest["profile"]["sha256"]) == 64
    assert [o["key"] for o in manifest["overlays"]] == [
        "component-filters",
        "declare-flow-scopes",
        "documents-flow-1-5",
        "group-member-path",
        "secure-flow-6",
    ]
    assert all(o["reason"] for o in manifest["overlays"])
    assert manifest["okectl_version"] and manifest["started"] and manifest["finished"]
    results = (pack / "results.json").read_text()
    assert "toets/10AA/production" in results and '"excerpt"' in results
    assert "Bearer " not in results and DEV_CLIENT_SECRET not in results
    assert (pack / "index.html").read_text().startswith("<!doctype html>")
    record = json.loads((served.root / "verification" / "toets.json").read_text())
    assert record["oke_versions"]["1.0.1"] == {
        "date": "2026-11-28",
        "level": 3,
        "passed_level": 3,
        "status": "pass",
        "okectl_version": manifest["okectl_version"],
        "environments": ["toets/10AA/production"],
        "drift": {},
        "results": {
            "toets/10AA/production": {
                "date": "2026-11-28", "started": manifest["started"], "level": 3, "passed_level": 3,
            },
        },
    }


def test_token_excerpts_are_redacted(served: Served) -> None:
    served.faults(PRODUCTION, no_auth=True)
    report = verify(served.root, Selection(suppliers=frozenset({"toets"}), environment="production", level=1))
    text = json.dumps([c.to_dict() for e in report.environments for c in e.checks])
    # The token answer is kept as the fields RFC 6749 defines, the token itself left out.
    assert '\\"token_type\\": \\"Bearer\\"' in text and "access_token" not in text
    assert DEV_CLIENT_SECRET not in text


@pytest.mark.parametrize(
    "echo",
    [
        "unknown client_secret=hunter2-SECRET",
        '{"client_secret": "hunter2-SECRET"}',
        "client_secret=hunter2%2DSECRET&x=1".replace("%2D", "-"),
        "Bearer tok-abc.def",
        '{"refresh_token": "rt-xyz", "id_token": "it-xyz"}',
    ],
)
def test_evidence_never_keeps_a_secret_a_supplier_echoes(echo: str) -> None:
    from okectl.verify.client import Exchange

    exchange = Exchange("POST", "https://ta.example/oauth/token", 1, 400, content=echo.encode())
    body = exchange.excerpt(["hunter2-SECRET", "tok-abc.def"]).body
    for value in ("hunter2-SECRET", "tok-abc.def", "rt-xyz", "it-xyz"):
        assert value not in body, body


# --- limits ------------------------------------------------------------------------------


def test_requests_stay_within_the_suppliers_concurrency(served: Served, tmp_path: Path) -> None:
    files = {
        **FILES,
        "suppliers/toets.yaml": FILES["suppliers/toets.yaml"].replace("concurrency: 16", "concurrency: 2"),
    }
    root = write_tree(tmp_path / "narrow", files)
    httpx.post(f"{served.url}/_sandbox/faults", json={"latency_ms": 15}).raise_for_status()
    httpx.delete(f"{served.url}/_sandbox/stats").raise_for_status()
    try:
        report = verify(root, Selection(suppliers=frozenset({"toets"}), level=3))
        stats = httpx.get(f"{served.url}/_sandbox/stats").json()
    finally:
        httpx.delete(f"{served.url}/_sandbox/faults").raise_for_status()
    assert report.status == "pass"
    assert stats["max_in_flight"] <= 2


# --- v6 ----------------------------------------------------------------------------------

V6_FILES = {
    **FILES,
    "policies/versions.yaml": FILES["policies/versions.yaml"].replace(
        '"1.1": {ooapi: "5.0", status: concept}', '"1.1": {ooapi: "6.1", status: concept}'
    ),
}


@pytest.fixture
def v6(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    for served in serve_repository(tmp_path, V6_FILES):
        monkeypatch.setenv(SANDBOX_URL_ENV, served.url)
        yield served


def test_v6_environments_negotiate_by_header(v6: Served) -> None:
    report = verify(v6.root, Selection(level=3))
    assert failures(report) == []
    on_v6 = [e for e in report.environments if e.ooapi_version == "6.1"]
    assert {e.address for e in on_v6} == {"toets/10AA/acceptance", "leerling/10AA/pilot"}
    for env in on_v6:
        passed = {c.check for c in env.checks if c.status == "pass"}
        assert {
            "metadata.service",
            "metadata.operations",
            "metadata.negotiation",
            "metadata.version",
        } <= passed
    base = f"{v6.url}/ooapi/toets/10AA/acceptance"
    token = httpx.post(
        base + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEV_CLIENT_ID,
            "client_secret": DEV_CLIENT_SECRET,
            "scope": "nl-test-admin-flow-0",
        },
    ).json()["access_token"]
    resp = httpx.get(
        base + "/",
        headers={"Accept": "application/vnd.oeapi+json; version=6.0", "Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 406
    assert resp.json()["requestedVersion"] == "6.0" and resp.json()["supportedVersions"] == ["6.1"]


def test_an_environment_the_supplier_does_not_have_is_an_error(
    served: Served, cli: Cli, tmp_path: Path
) -> None:
    school = FILES["schools/10AA.yaml"].replace(
        '              pilot: {oke_version: "0.9.4"}\n',
        '              pilot: {oke_version: "0.9.4"}\n              demo: {type: test}\n',
        1,
    )
    root = write_tree(tmp_path / "more", {**FILES, "schools/10AA.yaml": school})
    result = cli("verify", "--repo", str(root), "--supplier", "toets", "--environment", "demo")
    assert result.exit_code == 1
    assert (
        "ERROR locate: supplier toets has no environment toets/10AA/demo; apply the configuration first"
        in (result.out)
    )
    nothing = cli("verify", "--repo", str(root), "--supplier", "nobody", "--school", "99ZZ")
    assert nothing.exit_code == 1
    assert nothing.err == (
        "unknown supplier 'nobody'; unknown school '99ZZ' in --school/--supplier; check the spelling\n"
    )
    none = cli("verify", "--repo", str(root), "--supplier", "toets", "--environment", "staging")
    assert none.exit_code == 1 and none.err == "no environment matches the selection\n"


def test_a_tls_failure_is_a_transport_failure(served: Served) -> None:
    """https to an endpoint that cannot complete a TLS handshake (here: one speaking plain
    http) fails level 0 with the reason, and nothing above it runs on trust."""
    import asyncio

    from okectl.verify.checks import Credentials, EnvironmentCheck, Target
    from okectl.verify.client import SupplierClient
    from okectl.verify.model import EnvironmentResult
    from okectl.verify.profiles import profile

    base_url = served.url.replace("http://", "https://") + f"/ooapi/{PRODUCTION}"
    target = Target(
        "toets",
        "10AA",
        "production",
        "production",
        frozenset({"ta"}),
        frozenset({0, 2, 3, 4}),
        "1.0.1",
        "5.0",
        base_url,
        production=True,
    )
    result = EnvironmentResult(
        PRODUCTION,
        "toets",
        "10AA",
        "production",
        "production",
        ["ta"],
        [0, 2, 3, 4],
        "1.0.1",
        "5.0",
        base_url,
        "oke-1.0.1.yaml",
        [],
    )

    async def scenario() -> None:
        client = SupplierClient(concurrency=4, requests_per_second=100, timeout=5)
        try:
            check = EnvironmentCheck(
                target, profile("1.0.1"), client, Credentials(DEV_CLIENT_ID, DEV_CLIENT_SECRET), 3, result
            )
            await check.run()
        finally:
            await client.aclose()

    asyncio.run(scenario())
    failed = [c for c in result.checks if c.status in ("fail", "error")]
    assert [(c.level, c.check, c.status) for c in failed] == [(0, "transport.certificate", "fail")]
    assert failed[0].message.startswith("TLS failed: ")
    assert failed[0].requires == "https with a valid certificate (OKE: TLS)"


def test_a_version_sent_as_a_number_is_no_version_seen(served: Served, cli: Cli) -> None:
    """An endpoint writing 1.10 unquoted sends the number 1.1: not what it meant, so it is
    observed as no version at all (a change request is neither confirmed nor reopened by
    it), and the answer breaks the contract."""
    served.faults(PRODUCTION, claim_version=1.10)
    result = run(cli, served, "--supplier", "toets", "--environment", "production", "--output", "json")
    assert result.exit_code == 4, result.out
    (env,) = [e for e in json.loads(result.out)["environments"] if e["address"] == PRODUCTION]
    assert env["observed"]["oke_version"] is None
    failed = {c["check"]: c["message"] for c in env["checks"] if c["status"] == "fail"}
    assert failed == {
        "metadata.service": "GET / is not valid: supportedConsumers[0].version: 1.1 is not of type 'string'",
        "metadata.version": "GET / names its version as 1.1, not as text: "
        "no OKE version to compare with 1.0.1",
    }
