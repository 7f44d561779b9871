"""Running the sandbox as a real HTTP server (``okectl sandbox serve``)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.requests import ClientDisconnect

from okectl.errors import OkectlError
from okectl.sandbox.app import create_app
from okectl.sandbox.faults import DroppedConnection, Faults
from okectl.sandbox.seed import RESET, open_store


def serve(
    *,
    host: str,
    port: int,
    db_path: Path,
    seed: Path | None = None,
    faults: Faults | None = None,
    log_level: str = "info",
    on_listening: Callable[[str], None] | None = None,
    control: bool = False,
    insist_on_seed: bool = False,
    reset: str = RESET,
) -> None:
    """Serve until interrupted. ``on_listening`` gets the URL once the port is bound and the
    database is open; ``control`` adds the ``/_sandbox/*`` endpoints. The database is opened
    as open_store does (``insist_on_seed``: the seed was asked for by name; ``reset``: the
    command that resets the database, for the message when it holds something else)."""
    sock = listen(host, port)
    try:
        store = open_store(db_path, seed, insist=insist_on_seed, reset=reset)
        if on_listening is not None:
            on_listening(local_url(host, int(sock.getsockname()[1])))
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


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server listening on host:port."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


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
