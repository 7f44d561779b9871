"""Running the sandbox as a real HTTP server: in the foreground, or in a background thread
on a free loopback port for tests and benchmarks."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.requests import ClientDisconnect

from okectl.errors import OkectlError
from okectl.sandbox.app import TOKEN_TTL_SECONDS, create_app
from okectl.sandbox.faults import DroppedConnection, Faults
from okectl.sandbox.seed import open_store


def serve(
    *,
    host: str,
    port: int,
    db_path: Path,
    seed: Path | None = None,
    faults: Faults | None = None,
    log_level: str = "info",
    control: bool = False,
) -> None:
    """Serve until interrupted; ``control`` adds the ``/_sandbox/*`` endpoints."""
    sock = listen(host, port)
    try:
        store = open_store(db_path, seed)
        try:
            config = uvicorn.Config(
                create_app(store, faults=faults, control=control),
                host=host,
                port=port,
                log_level=log_level,
                access_log=False,
            )
            server = uvicorn.Server(config)
            quiet_disconnects()
            server.run(sockets=[sock])
            if not server.started:
                raise OkectlError(f"the sandbox server on {host}:{port} did not start")
        finally:
            store.close()
    finally:
        sock.close()


class _OneLine(logging.Filter):
    """A connection that ends early is the client's doing, or injected on purpose: one line
    for it, never a traceback. Anything else is logged as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, DroppedConnection):
            record.msg, record.args = "dropped a connection mid-answer (fault injection): %s", (exc,)
        elif isinstance(exc, ClientDisconnect):
            record.msg, record.args = "the client disconnected before its request was read", ()
        else:
            return True
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


_ONE_LINE = _OneLine()


def quiet_disconnects() -> None:
    """Log client disconnects and injected drops as one line each (see _OneLine)."""
    logger = logging.getLogger("uvicorn.error")
    if _ONE_LINE not in logger.filters:
        logger.addFilter(_ONE_LINE)


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, or one clear line saying why it cannot be."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OkectlError(f"cannot listen on {where}: {reason.lower() or 'unknown host'}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OkectlError(f"cannot listen on {where}: {(exc.strerror or str(exc)).lower()}") from None
    return sock


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
) -> Iterator[str]:
    """Start a real uvicorn server on a free loopback port in a thread; yield its URL
    (``http://127.0.0.1:PORT``) and stop it on exit.

    With ``control``, faults can be changed while it runs with ``POST {url}/_sandbox/faults``.
    """
    store = open_store(db_path, seed)
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
    # protocol says TCP, and without it every keep-alive request waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(store, faults=faults, token_ttl=token_ttl, control=control),
        log_level="critical",
        access_log=False,
        lifespan="off",
        # Keep-alive long enough that a paused test does not see its pooled connection closed.
        timeout_keep_alive=30,
        # A test that left a deliberately slow response behind should not wait for it.
        timeout_graceful_shutdown=1,
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
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        store.close()
