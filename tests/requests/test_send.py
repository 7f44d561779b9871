"""okectl requests send: a request's e-mail handed to a real SMTP server (aiosmtpd) on
loopback, over STARTTLS with a private CA and a login, or plain to localhost."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from okectl.model.redaction import Scrubber
from okectl.requests.writer import WrittenRequest
from tests.support.change_requests import SECRET
from tests.support.cli import run_cli
from tests.support.serving import free_port
from tests.support.smtp import SMTP_PASSWORD, Inbox


def _private_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl, real keys)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=folder)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=okectl test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    ca, cert, key = _private_ca(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=inbox.authenticate, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        yield inbox, port, ca
    finally:
        controller.stop()


def _smtp_settings(repo: Path, text: str) -> None:
    path = repo / "okectl.yaml"
    path.write_text(path.read_text() + text)


def test_send_over_starttls_with_a_private_ca_and_a_login(
    requested: tuple[Path, WrittenRequest],
    tls_server: tuple[Inbox, int, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, written = requested
    inbox, port, ca = tls_server
    monkeypatch.setenv("SMTP_SECRET", SMTP_PASSWORD)
    _smtp_settings(
        repo,
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  security: starttls\n  username: okectl\n"
        f"  password: {{env: SMTP_SECRET}}\n  from_address: oke-beheer@langeveld.example\n  ca_file: {ca}\n",
    )
    result = run_cli("requests", "send", written.id, "--repo", str(repo))
    assert result.exit_code == 0, result.err
    assert result.out == f"sent {written.id} to servicedesk@deskonly.example\n"
    assert inbox.logins == [("okectl", SMTP_PASSWORD)]
    [(sender, recipients, content)] = inbox.messages
    assert (sender, recipients) == ("oke-beheer@langeveld.example", ["servicedesk@deskonly.example"])
    msg = BytesParser(policy=policy.default).parsebytes(content)
    assert msg["X-Okectl-Request"] == written.id
    texts = [content.decode("utf-8", "replace")] + [
        str(p.get_content()) for p in msg.walk() if not p.is_multipart()
    ]
    scrubber = Scrubber([SECRET, SMTP_PASSWORD])
    assert not any(scrubber.reveals(text) for text in texts)
    shown = run_cli("requests", "show", written.id, "--repo", str(repo))
    assert "2026-11-28 sent - to servicedesk@deskonly.example" in shown.out


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(
    requested: tuple[Path, WrittenRequest],
    tls_server: tuple[Inbox, int, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, written = requested
    inbox, port, _ = tls_server
    monkeypatch.setenv("SMTP_SECRET", SMTP_PASSWORD)
    _smtp_settings(
        repo,
        f"smtp:\n  host: 127.0.0.1\n  port: {port}\n  username: okectl\n  password: {{env: SMTP_SECRET}}\n"
        "  from_address: oke-beheer@langeveld.example\n",
    )
    result = run_cli("requests", "send", written.id, "--repo", str(repo))
    assert result.exit_code == 1
    assert result.err.startswith(f"smtp 127.0.0.1:{port}: SSLCertVerificationError")
    assert SMTP_PASSWORD not in result.err
    assert (inbox.messages, inbox.logins) == ([], [])
    assert "event: sent" not in (repo / written.request.rel / "status.yaml").read_text()


def test_plain_smtp_only_to_this_machine(requested: tuple[Path, WrittenRequest]) -> None:
    repo, _ = requested
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _smtp_settings(
            repo,
            f"smtp: {{host: 127.0.0.1, port: {port}, security: none, from_address: oke@langeveld.example}}\n",
        )
        result = run_cli("requests", "send", "--all-open", "--repo", str(repo))
    finally:
        controller.stop()
    assert result.exit_code == 0, result.err
    assert [m[1] for m in inbox.messages] == [["servicedesk@deskonly.example"]]


def test_plain_smtp_to_another_host_is_refused_by_validate(desk_repo: Path) -> None:
    _smtp_settings(
        desk_repo, "smtp: {host: mail.example.nl, security: none, from_address: oke@langeveld.example}\n"
    )
    result = run_cli("validate", "--repo", str(desk_repo))
    assert result.exit_code == 1
    assert result.err.startswith("okectl.yaml:2:7: smtp: security none sends mail unencrypted")


def test_without_smtp_settings_nothing_leaves_the_machine(requested: tuple[Path, WrittenRequest]) -> None:
    repo, written = requested
    result = run_cli("requests", "send", written.id, "--repo", str(repo))
    assert result.exit_code == 1
    assert result.err == "okectl.yaml has no smtp: settings; nothing was sent (see docs/requests.md)\n"
