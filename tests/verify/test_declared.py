"""Verify on endpoints the repository declares, with no administration API at all: https
with a private CA, against a real server started here; and the declared URL winning over
the one an administration API reports."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.engine.validate import validate_repository
from okectl.sandbox.seed import open_store, seed_in_sync
from okectl.verify.runner import Selection
from okectl.views.verify import failures
from tests.support.cli import CliResult
from tests.support.encodings import readable
from tests.support.repos import write_tree
from tests.support.serving import serve_in_background
from tests.support.verify import FILES, Served, verify

Cli = Callable[..., CliResult]
SECRET_VAR = "OKECTL_TEST_VERIFY_SECRET"
# Full of what encodings change: "/", "+", "=", a space.
SECRET = "vEr1fy/s3cret+of the=adoption-team"
CLIENT = "adoption-team"


def school_file(url: str) -> str:
    """10AA's connections, each environment's OKE base URL declared at ``url``."""
    return f"""
        code: 10AA
        name: ROC Proef
        federation: surfconext
        schac_home: proef.example
        systems: {{sis: leerling}}
        connections:
          toets:
            profile: otap
            oke_version: "1.0.1"
            flows: [0, 2, 3, 4]
            environments:
              production: {{base_url: "{url}/ooapi/toets/10AA/production"}}
              acceptance: {{oke_version: "1.1", base_url: "{url}/ooapi/toets/10AA/acceptance"}}
              test: {{oke_version: "1.0", base_url: "{url}/ooapi/toets/10AA/test"}}
              pilot: {{oke_version: "0.9.4", base_url: "{url}/ooapi/toets/10AA/pilot"}}
          leerling:
            profile: otap
            oke_version: "1.0.1"
            flows: [1, 5, 6]
            environments:
              production: {{base_url: "{url}/ooapi/leerling/10AA/production"}}
              acceptance: {{base_url: "{url}/ooapi/leerling/10AA/acceptance"}}
              test: {{oke_version: "1.0", base_url: "{url}/ooapi/leerling/10AA/test"}}
              pilot: {{oke_version: "1.1", base_url: "{url}/ooapi/leerling/10AA/pilot"}}
        """


def supplier_file(sid: str, role: str, flows: str, url: str, ca: str | None) -> str:
    ca_line = f", ca_file: {ca}" if ca else ""
    return f"""
        id: {sid}
        name: {sid.title()}
        roles: [{role}]
        flows: {flows}
        verify: {{token_url: "{url}/ooapi/{sid}/oauth/token", client_id: {CLIENT},
                  client_secret: {{env: {SECRET_VAR}}}{ca_line}, timeout_seconds: 10}}
        """


def declared_files(url: str, *, ca: str | None = "tls/ca.pem") -> dict[str, str]:
    files = {k: v for k, v in FILES.items() if not k.startswith(("suppliers/", "schools/"))}
    files["suppliers/toets.yaml"] = supplier_file("toets", "ta", "[0, 2, 3, 4]", url, ca)
    files["suppliers/leerling.yaml"] = supplier_file("leerling", "sis", "[1, 5, 6]", url, ca)
    files["schools/10AA.yaml"] = school_file(url)
    return files


@dataclass
class Declared:
    root: Path
    url: str
    ca_pem: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, Path, Path]:
    """A private CA and a server certificate it issued for localhost."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_pem, chain, key = folder / "ca.pem", folder / "chain.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    return ca, ca_pem, chain, key


@pytest.fixture(scope="module")
def declared_server(
    tmp_path_factory: pytest.TempPathFactory, tls: tuple[trustme.CA, Path, Path, Path]
) -> Iterator[Declared]:
    """A repository of suppliers with no administration API, and a real OKE server over
    https (the sandbox's OKE endpoints, nothing else used) where it declares them."""
    _, ca_pem, chain, key = tls
    tmp = tmp_path_factory.mktemp("declared")
    db = tmp / "oke.db"
    # Where the endpoints are is no part of the environments' configuration: the server is
    # seeded from the repository before its port, and so its URL, is known.
    seeded = write_tree(tmp / "seed", declared_files("https://localhost:1"))
    seed_in_sync(db, validate_repository(seeded).resources, "verify-test")
    store = open_store(db)
    for sid in ("toets", "leerling"):
        store.add_credential(sid, CLIENT, SECRET, ["10AA"])
    store.close()
    with serve_in_background(db, control=True, tls=(chain, key)) as url:
        root = write_tree(tmp / "repo", declared_files(url))
        (root / "tls").mkdir()
        (root / "tls" / "ca.pem").write_bytes(ca_pem.read_bytes())
        yield Declared(root, url, ca_pem)


@pytest.fixture
def declared(declared_server: Declared, monkeypatch: pytest.MonkeyPatch) -> Declared:
    monkeypatch.setenv(SECRET_VAR, SECRET)
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    return declared_server


def test_a_repository_without_administration_api_is_verified_at_levels_0_to_3(
    declared: Declared, cli: Cli
) -> None:
    result = cli("verify", "--repo", str(declared.root), "--output", "json")
    assert result.exit_code == 0, result.out
    report = json.loads(result.out)
    assert report["status"] == "pass"
    assert len(report["environments"]) == 8
    for env in report["environments"]:
        assert env["located_by"] == "declared" and env["base_url"].startswith("https://localhost:")
        https = [c for c in env["checks"] if c["check"] == "transport.https"]
        # Not the loopback exemption: a real certificate check, through the private CA.
        assert [c["status"] for c in https] == ["pass"], env["address"]
        assert {c["level"] for c in env["checks"]} == {0, 1, 2, 3}
    text = json.dumps(report)
    assert SECRET not in text and "Bearer " not in text


def test_level_4_over_https_on_declared_endpoints(declared: Declared) -> None:
    for environment in ("acceptance", "test", "pilot"):
        report = verify(declared.root, Selection(environment=environment, level=4))
        assert failures(report) == [], environment
        checks = {c.check for e in report.environments for c in e.checks if c.status == "pass"}
        assert {"transport.https", "write.put", "write.cleanup"} <= checks


def test_the_report_says_what_was_observed(declared: Declared) -> None:
    report = verify(declared.root, Selection(suppliers=frozenset({"toets"}), environment="acceptance"))
    (env,) = report.environments
    observed = env.to_dict()["observed"]
    assert observed == {
        "answered": True,
        "oke_version": "1.1",
        "consumers": [{"consumerKey": "nl-test-admin", "version": "1.1"}],
        "scopes_granted": ["nl-test-admin-flow-0", "nl-test-admin-flow-2-3-4"],
        "scopes_refused": [],
    }


def test_the_standard_ssl_cert_file_trusts_a_private_ca_too(
    declared: Declared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree(tmp_path / "repo", declared_files(declared.url, ca=None))
    report = verify(root, Selection(suppliers=frozenset({"toets"}), environment="test", level=1))
    (env,) = report.environments
    failed = [(c.check, c.status) for c in env.checks if c.status != "pass"]
    # Without the CA, certificates are still checked, and fail: never switched off.
    assert failed == [("transport.certificate", "fail")], env.checks
    assert "certificate verify failed" in env.checks[-1].message
    monkeypatch.setenv("SSL_CERT_FILE", str(declared.ca_pem))
    report = verify(root, Selection(suppliers=frozenset({"toets"}), environment="test", level=1))
    assert failures(report) == []


def test_a_supplier_without_base_url_or_client_says_what_to_declare(
    declared: Declared, tmp_path: Path, cli: Cli
) -> None:
    files = declared_files(declared.url)
    files["schools/10AA.yaml"] = files["schools/10AA.yaml"].replace(
        f'test: {{oke_version: "1.0", base_url: "{declared.url}/ooapi/toets/10AA/test"}}',
        'test: {oke_version: "1.0"}',
    )
    files["suppliers/leerling.yaml"] = "\n".join(
        line
        for line in files["suppliers/leerling.yaml"].splitlines()
        if "verify" not in line and "client_secret" not in line
    )
    root = write_tree(tmp_path / "repo", files)
    result = cli("verify", "--repo", str(root), "--environment", "test")
    assert result.exit_code == 1
    assert (
        "ERROR locate: no base_url for toets/10AA/test: declare it in schools/10AA.yaml at "
        "connections.toets.environments.test.base_url"
    ) in result.out
    assert (
        "ERROR locate: supplier leerling has neither verify: nor api:; declare verify: "
        "{token_url, client_id, client_secret} in suppliers/leerling.yaml"
    ) in result.out


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "token_url",
            '"http://toets.example/token"',
            "token_url must be https: the client secret is sent to it",
        ),
        (
            "token_url",
            '"not a url"',
            "verify.token_url: 'not a url' is not an http(s) URL okectl accepts: write https://host/path",
        ),
    ],
)
def test_the_verify_block_is_validated_with_located_errors(
    tmp_path: Path, cli: Cli, field: str, value: str, message: str
) -> None:
    files = declared_files("https://toets.example")
    files["suppliers/toets.yaml"] = files["suppliers/toets.yaml"].replace(
        'token_url: "https://toets.example/ooapi/toets/oauth/token"', f"{field}: {value}"
    )
    root = write_tree(tmp_path / "repo", files)
    result = cli("validate", "--repo", str(root))
    assert result.exit_code != 0
    assert "suppliers/toets.yaml:" in result.err + result.out
    assert message in result.err + result.out


def test_a_declared_base_url_is_validated_with_its_position(tmp_path: Path, cli: Cli) -> None:
    files = declared_files("https://toets.example")
    files["schools/10AA.yaml"] = files["schools/10AA.yaml"].replace(
        'base_url: "https://toets.example/ooapi/toets/10AA/pilot"', 'base_url: "ftp://toets.example/x"'
    )
    root = write_tree(tmp_path / "repo", files)
    result = cli("validate", "--repo", str(root))
    assert result.exit_code != 0
    out = result.err + result.out
    assert (
        "schools/10AA.yaml:15:47: connections.toets.environments.pilot.base_url: 'ftp://toets.example/x' "
        "is not an http(s) URL okectl accepts: write https://host/path"
    ) in out, out


# --- the declared URL wins over the administration API's ----------------------------------


def test_the_declared_base_url_wins_and_the_disagreement_is_reported(
    served: Served, declared: Declared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The administration API (the http sandbox) reports toets/10AA/test at its own URL;
    the school file declares the https server's. Verify goes where the file says."""
    declared_url = f"{declared.url}/ooapi/toets/10AA/test"
    school = FILES["schools/10AA.yaml"].replace(
        'test: {oke_version: "1.0"}', f'test: {{oke_version: "1.0", base_url: "{declared_url}"}}'
    )
    assert school != FILES["schools/10AA.yaml"]
    root = write_tree(tmp_path / "repo", {**FILES, "schools/10AA.yaml": school})
    monkeypatch.setenv("SSL_CERT_FILE", str(declared.ca_pem))
    monkeypatch.setenv(SANDBOX_URL_ENV, served.url)
    httpx_log = f"{declared.url}/_sandbox/oke/requests"

    trust = ssl.create_default_context(cafile=str(declared.ca_pem))
    httpx.delete(httpx_log, verify=trust).raise_for_status()
    report = verify(root, Selection(suppliers=frozenset({"toets"}), environment="test"))
    (env,) = report.environments
    assert failures(report) == [], [c.excerpt for c in env.checks if c.status == "fail"]
    assert (env.base_url, env.located_by) == (declared_url, "declared")
    reported = f"{served.url}/ooapi/toets/10AA/test"
    assert env.notes == [
        f"the declared base_url {declared_url} wins over {reported}, which the administration API reports"
    ]
    # Every OKE request went to the declared endpoint, none to the reported one.
    assert "toets/10AA/test" not in served.requests()
    at_declared = httpx.get(httpx_log, verify=trust).json()
    assert at_declared.get("toets/10AA/test")


# --- evidence keeps no secret ------------------------------------------------------------


def test_nothing_kept_holds_a_secret_an_endpoint_echoes(declared: Declared, cli: Cli, tmp_path: Path) -> None:
    """The endpoint echoes the client secret (token endpoint) and each token (text fields,
    Content-Type, another header) in every form at once (okectl.sandbox.oke.faults.echoed):
    not one can be read back, by decoders that owe nothing to okectl's scrubber, out of any
    output, evidence pack, index, the record or the logs (-vv, text and JSON)."""
    trust = ssl.create_default_context(cafile=str(declared.ca_pem))
    faults = f"{declared.url}/_sandbox/oke/faults"
    httpx.post(
        faults, json={"environment": "toets/10AA/test", "echo_secrets": True}, verify=trust
    ).raise_for_status()
    repo = ("--repo", str(declared.root), "--supplier", "toets", "--environment", "test")
    try:
        out = tmp_path / "evidence"
        kept: dict[str, str] = {}
        for output in ("json", "junit", "html", "text"):
            result = cli("verify", *repo, "--output", output, "--out", str(out / output), "--record")
            kept |= {f"{output} stdout": result.out, f"{output} stderr": result.err}
        for log in (("-vv",), ("-vv", "--log-format", "json")):
            result = cli(*log, "verify", *repo, "--output", "json")
            kept |= {f"{log} stdout": result.out, f"{log} stderr": result.err}
        report = json.loads(result.out)
        tokens = httpx.get(f"{declared.url}/_sandbox/oke/tokens", verify=trust).json()
    finally:
        httpx.delete(faults, verify=trust).raise_for_status()
    kept |= {str(p): p.read_text() for p in out.rglob("*") if p.is_file()}
    kept["record"] = (declared.root / "verification" / "toets.json").read_text()
    # The echo did reach verify: the evidence shows where it was removed.
    assert "(sensitive)" in "".join(kept.values())
    assert any(
        "echo=(sensitive)" in (c["excerpt"] or {}).get("content_type", "") or ""
        for e in report["environments"]
        for c in e["checks"]
    )
    assert any(p.endswith(".html") for p in kept) and any("evidence" in p for p in kept)
    assert tokens
    for secret in [SECRET, *tokens]:
        revealed = [name for name, text in kept.items() if readable(secret, text)]
        assert revealed == [], (secret, revealed)
