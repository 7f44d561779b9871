"""Whether HTTP/2 would pay: the client's CPU per request over TLS, HTTP/2 against HTTP/1.1.

okectl reaches suppliers over HTTP/1.1 with kept-alive connections (aiohttp). HTTP/2 in
Python means httpx with h2; this serves the sandbox with hypercorn (which offers h2 and
http/1.1 by ALPN) over TLS with a private CA and reads the same resources three ways in the
same run: httpx over HTTP/1.1, httpx over HTTP/2, and aiohttp over HTTP/1.1, the floor.

Needs two packages okectl does not depend on: ``pip install h2 hypercorn``.

    python benchmarks/http2.py [--requests 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
import trustme

from okectl.engine.workspace import load_workspace
from okectl.sandbox.seed import seed_in_sync
from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

# The development tools (tools/) and tests.support sit beside the benchmarks, outside
# the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.fleet import generate_fleet

CONCURRENCY = 8
SERVER = """
import asyncio, sys
from hypercorn.asyncio import serve
from hypercorn.config import Config
from okectl.sandbox.app import create_app
from okectl.sandbox.seed import open_store
config = Config()
config.bind = [f"127.0.0.1:{sys.argv[2]}"]
config.certfile, config.keyfile = sys.argv[3], sys.argv[4]
config.alpn_protocols = ["h2", "http/1.1"]
config.keep_alive_max_requests = 10**9
config.loglevel = "ERROR"
asyncio.run(serve(create_app(open_store(sys.argv[1])), config))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def context(ca: Path) -> ssl.SSLContext:
    # One per client: httpx sets the context's ALPN protocols to what it speaks.
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def with_httpx(urls: list[str], headers: dict[str, str], ca: Path, http2: bool) -> set[str]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(http2=http2, verify=context(ca), limits=limits, headers=headers) as client:
        gate = asyncio.Semaphore(CONCURRENCY)
        spoken: set[str] = set()

        async def one(url: str) -> None:
            async with gate:
                resp = await client.get(url)
                resp.json()
                spoken.add(resp.http_version)

        await asyncio.gather(*(one(u) for u in urls))
        return spoken


async def with_aiohttp(urls: list[str], headers: dict[str, str], ca: Path) -> set[str]:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, ssl=context(ca))
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(url: str) -> None:
            async with gate, session.get(url) as resp:
                json.loads(await resp.read())

        await asyncio.gather(*(one(u) for u in urls))
        return {"HTTP/1.1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    missing = [name for name in ("h2", "hypercorn") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"needs {' and '.join(missing)}: pip install h2 hypercorn", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="okectl-http2-") as name:
        tmp = Path(name)
        root = tmp / "fleet"
        generate_fleet(root, schools=20, suppliers=2)
        ws = load_workspace(root)
        seed_in_sync(tmp / "sandbox.db", ws.resources, ws.repository)
        ca = trustme.CA()
        cert = ca.issue_cert("localhost")
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp / "chain.pem"))
        cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
        ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
        port = free_port()
        server = [sys.executable, "-c", SERVER, str(tmp / "sandbox.db"), str(port)]
        proc = subprocess.Popen([*server, str(tmp / "chain.pem"), str(tmp / "key.pem")], env=os.environ)
        try:
            sid = sorted(ws.state.suppliers)[0]
            api = f"https://localhost:{port}/s/{sid}"
            form = {"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID}
            form["client_secret"] = DEV_CLIENT_SECRET
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = httpx.post(api + "/oauth/token", data=form, verify=context(tmp / "ca.pem"))
                    break
                except httpx.ConnectError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            headers = {"Authorization": "Bearer " + answer.json()["access_token"]}
            known = [r.address for r in ws.resources if r.address.supplier == sid]
            urls = []
            for i in range(args.requests):
                a = known[i % len(known)]
                base = f"{api}/tenants/{a.school}/environments/{a.environment}"
                urls.append(base if a.kind == "environment" else f"{base}/{a.kind}s/{a.name}")
            ca_file = tmp / "ca.pem"
            ways: dict[str, Callable[[], Awaitable[set[str]]]] = {
                "httpx, HTTP/1.1": lambda: with_httpx(urls, headers, ca_file, False),
                "httpx, HTTP/2": lambda: with_httpx(urls, headers, ca_file, True),
                "aiohttp, HTTP/1.1": lambda: with_aiohttp(urls, headers, ca_file),
            }
            figures: dict[str, list[float]] = {way: [] for way in ways}
            spoken: dict[str, set[str]] = {}
            for _ in range(args.runs):
                for way, run in ways.items():
                    cpu = time.process_time()
                    spoken[way] = asyncio.run(run())  # type: ignore[arg-type]
                    figures[way].append((time.process_time() - cpu) / len(urls) * 1000)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    floor = statistics.median(figures["aiohttp, HTTP/1.1"])
    print(f"{args.requests} reads over TLS, concurrency {CONCURRENCY}; median of {args.runs} runs")
    for way, values in figures.items():
        ms = statistics.median(values)
        said = "/".join(sorted(spoken[way]))
        print(f"  {way:18s} ({said}) {ms:.3f} ms client CPU per request, {ms / floor:.2f}x the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
