"""The sandbox is a strict reference supplier: names are whole strings, a malformed query
is a 400 problem, never a 500, a dropped connection is one log line, and its control
endpoints exist only when asked for. Through the real server."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.sandbox import SEED, Sandbox
from tests.support.serving import free_port, serve_in_background

PROBLEM = "application/problem+json"


def _token(n: str) -> str:
    return base64.urlsafe_b64encode(n.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/tenants/21RC/environments/production%0A",
        "/tenants/21RC%0A/environments/production",
        "/tenants/21RC/environments/production/clients/eduplan%0A",
        "/tenants/21RC/environments/production/roles/assessor%0A",
        "/tenants/21RC/environments/%2E%2E",
        "/tenants/21RC/environments/a%2Fb",
    ],
)
def test_a_name_with_a_trailing_newline_or_worse_is_not_a_name(sandbox: Sandbox, path: str) -> None:
    token = sandbox.token()
    headers = {"Authorization": f"Bearer {token}", "If-None-Match": "*"}
    resp = httpx.put(sandbox.api() + path, json={"type": "test", "oke_version": "1.0"}, headers=headers)
    assert resp.status_code in (400, 404), resp.text
    assert resp.headers["content-type"] == PROBLEM
    assert sandbox.get(path, token).status_code in (400, 404)


@pytest.mark.parametrize(
    ("field", "value"),
    [("oke_version", "1.0\n"), ("labels", {"managed-by\n": "okectl"})],
)
def test_a_body_field_with_a_trailing_newline_is_refused(sandbox: Sandbox, field: str, value: Any) -> None:
    token = sandbox.token()
    body = {"type": "test", "oke_version": "1.0", field: value}
    resp = httpx.put(
        sandbox.api() + "/tenants/21RC/environments/extra",
        json=body,
        headers={"Authorization": f"Bearer {token}", "If-None-Match": "*"},
    )
    assert resp.status_code == 422, resp.text


def test_a_scope_with_a_trailing_newline_is_refused(sandbox: Sandbox) -> None:
    token = sandbox.token()
    resp = httpx.put(
        sandbox.api() + "/tenants/21RC/environments/production/clients/other",
        json={"client_id": "c", "scopes": ["nl-test-admin-flow-0\n"], "secret": "s"},
        headers={"Authorization": f"Bearer {token}", "If-None-Match": "*"},
    )
    assert resp.status_code == 422, resp.text


BAD_QUERIES = [
    {"page_size": v}
    for v in ("0", "-1", "abc", "1.5", "+5", " 5", "1_0", "9" * 30, "9" * 5000, "²", "１０", "", "1001")
] + [
    {"page_token": v}
    for v in (
        "!!!", "", "é", "====", _token("-1"), _token("9" * 30), _token(str(2**63)), _token("1_0"),
        _token(" 5"), _token("9" * 5000), "\x00", "A" * 10_000,
    )
] + [{"environment": v} for v in ("production\n", "", "../x", "PRODUCTION")]


@pytest.mark.parametrize("path", ["/resources", "/tenants/21RC/resources", "/tenants/21RC/environments"])
def test_every_malformed_query_parameter_is_a_400_problem(sandbox: Sandbox, path: str) -> None:
    token = sandbox.token()
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        for params in BAD_QUERIES:
            resp = client.get(sandbox.api() + path, params=params)
            assert resp.status_code == 400, (params, resp.status_code, resp.text[:200])
            assert resp.headers["content-type"] == PROBLEM
            assert resp.json()["status"] == 400


def test_a_page_token_at_the_largest_row_id_is_an_empty_page(sandbox: Sandbox) -> None:
    resp = sandbox.get("/resources", sandbox.token(), params={"page_token": _token(str(2**63 - 1))})
    assert resp.status_code == 200 and resp.json()["items"] == []


def test_the_control_endpoints_exist_only_when_asked_for(tmp_path: Path, seed_file: Path) -> None:
    for control, status in ((False, 404), (True, 200)):
        with serve_in_background(tmp_path / f"s-{control}.db", seed=seed_file, control=control) as url:
            for method, path in (("GET", "/_sandbox/faults"), ("GET", "/_sandbox/stats")):
                assert httpx.request(method, url + path).status_code == status
            fault = httpx.post(url + "/_sandbox/faults", json={"fail_rate": 1})
            assert fault.status_code == (404 if not control else 200)
            revoke = httpx.delete(url + "/_sandbox/tokens")
            assert revoke.status_code == (404 if not control else 200)


def _serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    port = free_port()
    cmd = [
        sys.executable, "-m", "okectl", "sandbox", "serve", "--port", str(port),
        "--db", str(tmp_path / "served.db"), "--seed", str(seed), *extra,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            # Any answer will do; the control prefix is never faulted.
            httpx.get(url + "/_sandbox/faults", timeout=0.5)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the sandbox did not start")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err
    return err


@pytest.mark.timeout(60)
def test_an_injected_drop_is_one_log_line(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path, "--drop-rate", "1")
    try:
        with pytest.raises(httpx.TransportError):
            httpx.post(
                url + "/s/delta-toets/oauth/token",
                data={"grant_type": "client_credentials", "client_id": "okectl-dev", "client_secret": "x"},
            )
        # Without --control there is no way to change the faults from outside.
        assert httpx.post(url + "/_sandbox/faults", json={"drop_rate": 0}).status_code == 404
    finally:
        err = _stop(proc)
    drops = [ln for ln in err.splitlines() if "dropped a connection mid-answer (fault injection)" in ln]
    assert drops == [
        "INFO:     dropped a connection mid-answer (fault injection): POST /s/delta-toets/oauth/token"
    ]


@pytest.mark.timeout(60)
def test_a_client_that_disconnects_is_one_log_line(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path)
    try:
        # A client that promises a body and leaves halfway.
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /s/delta-toets/oauth/token HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant"
            )
            time.sleep(0.3)
        time.sleep(0.5)
    finally:
        err = _stop(proc)
    lines = [ln for ln in err.splitlines() if "disconnected" in ln]
    assert lines == ["INFO:     the client disconnected before its request was read"], err
