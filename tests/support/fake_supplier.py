"""A tiny real supplier that answers what a test tells it to, for answers the sandbox
never gives (malformed documents, errors that echo the request, 500s)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okectl.providers.http.provider import HttpProvider
from tests.support.sandbox import supplier

Handler = Callable[[Request], Awaitable[Response]]
CLIENT_SECRET = "api+s3cr3t/value&more=x"


async def token_ok(request: Request) -> Response:
    return JSONResponse({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})


@contextmanager
def fake_supplier(api: Handler, token: Handler = token_ok) -> Iterator[str]:
    """Serve `token` at /oauth/token and `api` for every other path; yield the base URL."""
    app = Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/{path:path}", api, methods=["GET", "PUT", "DELETE", "POST"]),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off"))
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the fake supplier did not start"
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def provider(url: str, **options: Any) -> HttpProvider:
    options.setdefault("backoff_seconds", 0.001)
    return HttpProvider(
        supplier(),
        api_url=url,
        token_url=url + "/oauth/token",
        client_id="okectl",
        client_secret=CLIENT_SECRET,
        **options,
    )
