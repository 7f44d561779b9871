"""A hostile supplier: the sandbox behind a real HTTP server on loopback, answering chosen
requests the way a hostile (or broken) supplier would.

Everything else it answers as the sandbox does (``okectl/sandbox``: the admin API of
``okectl/providers/admin-api.yaml`` under ``/s/<supplier>``, the OKE endpoints under
``/ooapi/...``), so ``okectl plan`` and ``okectl apply`` run against it through the real
command line with ``api.provider: http``, and ``okectl verify`` can probe its OKE endpoints.

Which requests misbehave: ``Hostility.at``, a regular expression searched in
``"METHOD /path"`` (``"GET .*/tenants$"``, ``"PUT "``, ``"POST .*/oauth/token"``,
``"GET /ooapi/"``). How (``Hostility.mode``):

- ``echo``: answers ``status`` (400) with the request (request line, every header, the
  body) echoed in every form of ``tests.support.encodings.ENCODINGS`` at once (or those
  named in ``forms``): in a problem+json ``title`` and ``detail``, in other fields of the
  body, and in ``X-Echo-*`` response headers; base64 forms also of the request behind a
  one- and two-byte prefix, and of each header line and of ``body=<body>`` alone, so a
  secret stands at every byte offset and behind ``Authorization: Bearer``. The body is
  also a listing (``items``) whose one entry is named after the ``Authorization`` line
  (or the body) in the first of ``forms``: with a 2xx ``status``, a successful answer
  that carries a secret.
- ``gzip-bomb``: ``200``, ``Content-Encoding: gzip``, a gzip stream of zeros that
  decompresses to ``bomb_bytes`` (10 GiB; ~10 MiB on the wire), streamed as it is read.
- ``endless``: ``200``, a chunked JSON body that never ends.
- ``huge-length``: ``200`` announcing ``Content-Length: 1.5 GiB``, then sending it.
- ``slow-loris``: ``200`` headers at once, then one byte every ``interval`` seconds.

A hostile answer stops when the client hangs up (or after ``max_seconds``). The server
records the access tokens the sandbox issued (``issued_tokens``) and the requests the
hostile answers went to (``hit``) among all it was sent (``requests``), so a test can look
for every secret of a run.

``HERE`` is the folder of the hostile corpora (``tests/hostile/``: configuration files,
plan files, supplier answers) and the tests that run them.

Usage::

    with hostile_supplier(tmp_path, Hostility("gzip-bomb", at="GET .*/tenants$")) as served:
        served.api("delta")          # the admin API URL of supplier delta
        served.secret                # its API client secret (client_id: served.client_id)
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.encodings import ENCODINGS
from tests.support.repos import PROJECT
from tests.support.serving import serve_in_background

Scope = dict[str, Any]
Message = dict[str, Any]

# The hostile corpora (configuration files, plan files, supplier answers) and the tests
# that run them.
HERE = PROJECT / "tests" / "hostile"

GIB = 1 << 30
# Long and full of what encodings change: '+', '/', '&', '=', ' ', a non-ASCII letter.
API_SECRET = "api+s3cr3t/value&more=x ünïcode-42"
CLIENT_ID = "okectl-hostile"
MODES = ("echo", "gzip-bomb", "endless", "huge-length", "slow-loris")


@dataclass
class Hostility:
    mode: str
    at: str = "."
    status: int = 400
    forms: tuple[str, ...] = tuple(ENCODINGS)
    interval: float = 2.0
    bomb_bytes: int = 10 * GIB
    huge_bytes: int = 3 * GIB // 2
    max_seconds: float = 120.0

    def __post_init__(self) -> None:
        assert self.mode in MODES, self.mode
        unknown = set(self.forms) - set(ENCODINGS)
        assert not unknown, unknown


@dataclass
class Served:
    url: str
    hostility: Hostility
    secret: str = API_SECRET
    client_id: str = CLIENT_ID
    issued_tokens: list[str] = field(default_factory=list)
    hit: list[str] = field(default_factory=list)  # requests answered with hostility
    requests: list[str] = field(default_factory=list)  # every request, "METHOD /path"

    def api(self, supplier: str) -> str:
        return f"{self.url}/s/{supplier}"

    def supplier_api_yaml(self, supplier: str, env_name: str, **limits: float) -> str:
        """The ``api:`` block of a supplier's YAML pointing at this server, with the
        client secret read from the variable ``env_name``: 3 s per request, 6 s of retries
        per call, and ``limits`` besides."""
        api = self.api(supplier)
        chosen = ", ".join(f"{k}: {v}" for k, v in {"max_retry_seconds": 6, **limits}.items())
        return textwrap.dedent(
            f"""\
            api:
              provider: http
              url: {api}
              timeout_seconds: 3
              limits: {{{chosen}}}
              auth:
                token_url: {api}/oauth/token
                client_id: {self.client_id}
                client_secret: {{env: {env_name}}}
            """
        )


def seed(suppliers: tuple[str, ...]) -> str:
    """A sandbox seed giving every supplier one tenant (99ZZ, empty) and the API client."""
    lines = ["suppliers:"]
    for sid in suppliers:
        lines += [
            f"  {sid}:",
            "    credentials:",
            f"      - {{client_id: {CLIENT_ID}, client_secret: {json.dumps(API_SECRET)}, tenants: ['*']}}",
            "    tenants:",
            "      99ZZ: {}",
        ]
    return "\n".join(lines) + "\n"


# --- the hostile answers ---------------------------------------------------------------


def _request_text(scope: Scope, body: bytes) -> tuple[str, list[str]]:
    """The request as text, and the parts a supplier might encode one by one."""
    query = scope.get("query_string", b"").decode("latin-1")
    target = scope["path"] + (f"?{query}" if query else "")
    headers = [f"{k.decode('latin-1').title()}: {v.decode('latin-1')}" for k, v in scope["headers"]]
    text_body = body.decode("utf-8", "replace")
    whole = f"{scope['method']} {target} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n" + text_body
    return whole, [*headers, f"body={text_body}"]


def echoes(scope: Scope, body: bytes, forms: tuple[str, ...]) -> dict[str, str]:
    """Every chosen form of the request, named."""
    whole, parts = _request_text(scope, body)
    out: dict[str, str] = {}
    for name in forms:
        encode = ENCODINGS[name]
        out[name] = encode(whole)
        if name.startswith("base64"):
            # Behind a prefix of one and two bytes, and each part alone: a secret at every
            # byte offset, and behind "Authorization: Bearer " or "body=".
            out[f"{name}+1"] = encode("x" + whole)
            out[f"{name}+2"] = encode("xy" + whole)
            for i, part in enumerate(parts):
                out[f"{name}-part{i}"] = encode(part)
    return out


async def _echo(scope: Scope, receive: Any, send: Any, hostility: Hostility) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    forms = echoes(scope, body, hostility.forms)
    joined = " | ".join(forms.values())
    _, parts = _request_text(scope, body)
    credential = next((p for p in parts if p.lower().startswith("authorization:")), parts[-1])
    leak = ENCODINGS[hostility.forms[0]](credential)
    problem = {
        "type": "about:blank",
        "title": f"Rejected: {joined[:2000]}",
        "status": hostility.status,
        "detail": joined,
        "echo": forms,
        "error_description": joined[-2000:],
        # With a 2xx status, a listing (of tenants or resources) whose one entry carries the
        # credential line (or the body) in its name and labels.
        "items": [
            {
                "school": "99ZZ",
                "kind": "environment",
                "tenant": "99ZZ",
                "name": leak,
                "type": "test",
                "etag": '"1"',
                "labels": {"echo": leak},
            }
        ],
    }
    headers = [(b"content-type", b"application/problem+json")]
    for name, value in forms.items():
        if value.isascii() and value.isprintable() and len(value) < 6000:
            headers.append((f"x-echo-{re.sub('[^a-z0-9]+', '-', name.lower())}".encode(), value.encode()))
    await send({"type": "http.response.start", "status": hostility.status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(problem).encode()})


def _bomb_parts(total: int) -> tuple[bytes, bytes, int, bytes]:
    """A gzip stream of ``total`` zeros without compressing them all: after a full flush
    the compressor starts afresh, so every further MiB compresses to the same bytes.
    Returns (first part, repeated part, repeats, end). The trailer's CRC is not that of
    the data: a client that read to the end would have read 10 GiB first."""
    mib = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)
    end = c.flush()
    return first, again, max(0, total // len(mib) - 1), end


async def _stream(send: Any, done: asyncio.Event, chunks: Iterator[bytes], pause: float = 0.0) -> None:
    for chunk in chunks:
        if done.is_set():
            return
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        # Yield even without a pause, so the client's hang-up is noticed.
        await asyncio.sleep(pause)
    if not done.is_set():
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _chunks(mode: str, hostility: Hostility) -> tuple[list[tuple[bytes, bytes]], Iterator[bytes], float]:
    json_headers = [(b"content-type", b"application/json")]
    if mode == "gzip-bomb":
        first, again, repeats, end = _bomb_parts(hostility.bomb_bytes)
        block = again * 64

        def bomb() -> Iterator[bytes]:
            yield first
            left = repeats
            while left > 0:
                n = min(64, left)
                yield block if n == 64 else again * n
                left -= n
            yield end

        size = len(first) + len(again) * repeats + len(end)
        headers = [*json_headers, (b"content-encoding", b"gzip"), (b"content-length", str(size).encode())]
        return headers, bomb(), 0.0
    if mode == "endless":

        def endless() -> Iterator[bytes]:
            yield b'{"items": ['
            item = b'{"kind": "environment", "tenant": "99ZZ", "name": "x", "etag": "\\"1\\""},' * 200
            while True:
                yield item

        return json_headers, endless(), 0.0
    if mode == "huge-length":

        def huge() -> Iterator[bytes]:
            block = b" " * (1 << 16)
            for _ in range(hostility.huge_bytes // len(block)):
                yield block

        return [*json_headers, (b"content-length", str(hostility.huge_bytes).encode())], huge(), 0.0

    def trickle() -> Iterator[bytes]:
        while True:
            yield b" "

    return json_headers, trickle(), hostility.interval


class HostileApp:
    """ASGI middleware: the hostile answers for requests ``hostility.at`` matches, the
    wrapped app (the sandbox) for the rest."""

    def __init__(self, app: Any, hostility: Hostility, served: Served) -> None:
        self.app = app
        self.hostility = hostility
        self.served = served
        self._at = re.compile(hostility.at)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        line = f"{scope['method']} {scope['path']}"
        self.served.requests.append(line)
        if not self._at.search(line):
            await self.app(scope, receive, self._recording(scope, send))
            return
        self.served.hit.append(line)
        h = self.hostility
        if h.mode == "echo":
            await _echo(scope, receive, send, h)
            return
        headers, chunks, pause = _chunks(h.mode, h)
        done = asyncio.Event()

        async def watch() -> None:
            # The client hanging up ends the answer; so does max_seconds.
            while (await receive())["type"] != "http.disconnect":
                pass
            done.set()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await asyncio.wait_for(_stream(send, done, chunks, pause), h.max_seconds)
        except (TimeoutError, OSError):
            pass
        finally:
            watcher.cancel()

    def _recording(self, scope: Scope, send: Any) -> Any:
        if not scope["path"].endswith("/oauth/token"):
            return send

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                try:
                    token = json.loads(message["body"]).get("access_token")
                except (ValueError, AttributeError):
                    token = None
                if isinstance(token, str):
                    self.served.issued_tokens.append(token)
            await send(message)

        return recording


@contextmanager
def hostile_supplier(
    folder: Path, hostility: Hostility, *, suppliers: tuple[str, ...] = ("delta",)
) -> Iterator[Served]:
    """Serve the sandbox (seeded with ``suppliers``, see ``seed``) behind the hostile
    answers on a free loopback port; yield what a test needs to point okectl at it."""
    folder.mkdir(parents=True, exist_ok=True)
    seed_path = folder / "hostile-seed.yaml"
    seed_path.write_text(seed(suppliers), encoding="utf-8")
    served = Served(url="", hostility=hostility)

    def wrap(app: Any) -> Any:
        return HostileApp(app, hostility, served)

    with serve_in_background(folder / "hostile.db", seed=seed_path, wrap=wrap) as url:
        served.url = url
        yield served
