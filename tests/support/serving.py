"""The sandbox as a real HTTP server in a background thread, on a free loopback port: how
tests reach a supplier over sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from okectl.sandbox.app import TOKEN_TTL_SECONDS, create_app
from okectl.sandbox.faults import Faults
from okectl.sandbox.seed import open_store


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_background(
    db_path: Path | str,
    *,
    seed: Path | None = None,
    faults: Faults | None = None,
    token_ttl: float = TOKEN_TTL_SECONDS,
    host: str = "127.0.0.1",
    control: bool = False,
    wrap: Callable[[Any], Any] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """Start a real uvicorn server on a free loopback port in a thread; yield its URL
    (``http://127.0.0.1:PORT``) and stop it on exit.

    With ``control``, faults can be changed while it runs with ``POST {url}/_sandbox/faults``.
    ``wrap``, when given, wraps the sandbox's ASGI app (``tests.support.hostile``).
    With ``tls`` (certificate chain and key files), it speaks https and its URL names
    ``localhost``, the name such a test certificate is issued for.
    """
    store = open_store(db_path, seed)
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # protocol says TCP, and without it every keep-alive request waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = int(sock.getsockname()[1])
    app = create_app(store, faults=faults, token_ttl=token_ttl, control=control)
    config = uvicorn.Config(
        wrap(app) if wrap is not None else app,
        log_level="critical",
        access_log=False,
        lifespan="off",
        # Keep-alive long enough that a paused test does not see its pooled connection closed.
        timeout_keep_alive=30,
        # A test that left a deliberately slow response behind should not wait for it.
        timeout_graceful_shutdown=1,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    # Dropped connections are raised on purpose by fault injection; not worth a log line.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name=f"okectl-sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.005)
    try:
        yield f"https://localhost:{port}" if tls else f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        store.close()
