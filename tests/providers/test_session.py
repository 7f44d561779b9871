"""The connections to a supplier (transport.Session over aiohttp) against real servers on
loopback: what never reached the supplier is a plain failure, what may have is an unknown
outcome, an answer that is not HTTP is said in okectl's words, nothing is sent twice behind
the retry policy's back, and the environment's proxy settings are followed as before."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from okectl.model.resources import Address
from okectl.providers.base import OutcomeUnknown, ProviderError
from tests.support.fake_supplier import provider
from tests.support.sandbox import run

ADDR = Address("delta-toets", "21RC", "production")
_TOKEN_BODY = b'{"access_token": "t0k3n-value", "token_type": "Bearer"}'
TOKEN = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
    % len(_TOKEN_BODY)
    + _TOKEN_BODY
)


@contextmanager
def raw_server(answer: Callable[[bytes], bytes | None]) -> Iterator[tuple[str, list[bytes]]]:
    """A server on loopback that reads one request's head per connection and sends back
    whatever ``answer`` makes of it (None: close without a word; an answer should say
    Connection: close); yields its URL and the heads."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    heads: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0]
                heads.append(head)
                reply = answer(head)
                if reply is not None:
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", heads
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _token_or(reply: bytes | None) -> Callable[[bytes], bytes | None]:
    return lambda head: TOKEN if b"/oauth/token" in head.split(b"\r\n", 1)[0] else reply


def _create(url: str, **env: str) -> str:
    async def scenario() -> str:
        async with provider(url, max_attempts=2, backoff_seconds=0.01) as p:
            with pytest.raises(ProviderError) as info:
                await p.create(ADDR, {"type": "production", "oke_version": "1.0"}, {"a": "b"})
            return f"{type(info.value).__name__}: {info.value}"

    return run(scenario())


@pytest.mark.timeout(30)
def test_a_write_to_a_port_nobody_listens_on_is_a_plain_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = _create(f"http://127.0.0.1:{port}")
    # Never connected, so never carried out: not an unknown outcome.
    assert message.startswith("ProviderError: "), message
    assert "token request failed: connection failed (ConnectError: " in message


@pytest.mark.timeout(30)
def test_an_answer_that_is_not_http_is_said_in_okectls_words_and_the_write_may_have_happened() -> None:
    garbage = b"\x00\x01 not an HTTP answer \x1b[31m\r\n\r\n"
    with raw_server(_token_or(garbage)) as (url, heads):
        message = _create(url)
    assert message.startswith(f"{OutcomeUnknown.__name__}: "), message
    assert "connection failed (RemoteProtocolError: the answer is not valid HTTP)" in message
    assert "\x1b" not in message and "not an HTTP answer" not in message
    # Two attempts of the write, as the retry policy allows, and no more.
    assert sum(h.startswith(b"PUT ") for h in heads) == 2


@pytest.mark.timeout(30)
def test_a_connection_closed_without_an_answer_is_not_sent_again_behind_the_retry_policy() -> None:
    with raw_server(_token_or(None)) as (url, heads):
        message = _create(url)
    assert message.startswith(f"{OutcomeUnknown.__name__}: "), message
    assert "the server closed the connection, no answer" in message
    assert sum(h.startswith(b"PUT ") for h in heads) == 2


@pytest.mark.timeout(30)
def test_the_proxy_the_environment_names_is_used_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    with raw_server(lambda head: refused) as (proxy, heads):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        _create("http://supplier.example.invalid")
        assert heads and heads[0].startswith(b"POST http://supplier.example.invalid/oauth/token HTTP/1.1")
        monkeypatch.setenv("NO_PROXY", "supplier.example.invalid")
        seen = len(heads)
        message = _create("http://supplier.example.invalid")
        assert len(heads) == seen, "NO_PROXY names the host: the proxy is not asked"
        assert "connection failed (ConnectError: " in message


# Paths a supplier's requests are made of, and paths that are not plain (dot segments,
# escapes, spaces, non-ASCII, a query): each must become the request httpx itself builds.
PATHS = [
    "/tenants",
    "/tenants/25LV/environments/production/clients/eduplan",
    "/tenants/a-1/environments/b.c/roles/d_e~f",
    "/tenants/../admin",
    "/tenants/./x",
    "/tenants/%2e%2e/x",
    "/tenants/a b",
    "/tenants/é",
    "/tenants?page=2",
    "https://other.example/tenants",
]


@pytest.mark.parametrize("base", ["https://api.example.nl/s/delta", "https://api.example.nl:8443/oke/"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_a_sessions_request_is_the_one_httpx_builds(base: str, path: str, method: str) -> None:
    """The session parses its base URL once and builds a bodiless request's headers once
    per token: what goes out must be byte for byte what httpx makes of the same call."""
    import httpx

    from okectl.providers.http.transport import Session

    headers = {"Accept": "application/json", "User-Agent": "okectl"}
    session = Session(connections=1, timeout=5, headers=headers, base_url=base, transport=httpx.MockTransport(
        lambda request: httpx.Response(200)
    ))  # fmt: skip
    body = b'{"a": 1}' if method == "PUT" else None
    extra = {"Authorization": "Bearer t0ken", **({"Content-Type": "application/json"} if body else {})}
    for token in ("t0ken", "t0ken", "other"):  # the cached headers follow a new token
        extra["Authorization"] = f"Bearer {token}"
        ours = session.request(method, path, headers=extra, content=body)
        whole = path if path.startswith("https://") else base.rstrip("/") + path
        theirs = httpx.Request(method, whole, headers={**headers, **extra}, content=body)
        assert ours.url == theirs.url, (str(ours.url), str(theirs.url))
        assert ours.headers.raw == theirs.headers.raw
        assert ours.read() == theirs.read()
