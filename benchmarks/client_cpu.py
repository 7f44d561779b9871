"""The client's CPU time per request to a supplier, against the HTTP stack's own floor.

Serves a seeded sandbox as a real server in its own process (no injected latency: the
client's CPU is what is measured) and reads the same resources, one request each, within the
supplier's concurrency, three ways in the same run:

- okectl: ``HttpProvider.read``, the whole path of every request okectl sends a supplier
  (token, rate limit, retry policy, bounded read, the scrubber's check of the answer, the
  codec's contract checks);
- the floor: the same requests with bare aiohttp (the stack okectl sends through), the
  bodies parsed as JSON and nothing else;
- for reference, the same with a bare ``httpx.AsyncClient``.

The fleet's suppliers allow 200 requests per second: okectl keeps to that, one request every
5 ms once the burst is spent, while a bare client sends as fast as the server answers, handling
several answers per wake of the event loop. So okectl and the floor are compared twice, both
unpaced (the supplier's limit raised to the most the configuration allows, 10,000 per second,
which 3000 requests never reach: the rate limiter is still asked each time) and both at the
fleet's 200 per second (the floor paced by okectl's own RateLimiter).

Prints the client CPU per request of each and okectl's ratio to the floor. Target: okectl,
unpaced, ≤ 0.5 ms per request.

    python benchmarks/client_cpu.py [--requests 3000] [--runs 5]

``--profile N``: instead, okectl's reads once under cProfile, the N costliest functions by
their own time (where the CPU per request goes).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
from served import start_server

from okectl.adapters import sandbox as sandbox_adapter
from okectl.config.models import Supplier
from okectl.engine.workspace import Workspace, load_workspace
from okectl.model.resources import Address
from okectl.providers.http.transport import RateLimiter
from okectl.sandbox.seed import seed_in_sync
from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

# The development tools (tools/) and tests.support sit beside the benchmarks, outside
# the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.fleet import generate_fleet

TARGET_MS = 0.5
CONCURRENCY = 8
# The most requests per second a supplier's configuration allows.
UNPACED = 10_000.0


def path(addr: Address) -> str:
    base = f"/tenants/{addr.school}/environments/{addr.environment}"
    return base if addr.kind == "environment" else f"{base}/{addr.kind}s/{addr.name}"


def with_rate(supplier: Supplier, requests_per_second: float) -> Supplier:
    assert supplier.api is not None
    limits = supplier.api.limits.model_copy(update={"requests_per_second": requests_per_second})
    return supplier.model_copy(update={"api": supplier.api.model_copy(update={"limits": limits})})


async def with_okectl(ws: Workspace, addrs: list[Address], *, paced: bool = False) -> None:
    supplier = ws.state.suppliers[addrs[0].supplier]
    if not paced:
        supplier = with_rate(supplier, UNPACED)
    provider = sandbox_adapter.make_provider(supplier, None)  # type: ignore[arg-type]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(addr: Address) -> None:
        async with gate:
            assert await provider.read(addr) is not None

    try:
        await asyncio.gather(*(one(a) for a in addrs))
    finally:
        await provider.aclose()


def _token(api: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID}
    form["client_secret"] = DEV_CLIENT_SECRET
    return str(httpx.post(api + "/oauth/token", data=form).json()["access_token"])


async def with_aiohttp(api: str, addrs: list[Address], *, rate: float = 0) -> None:
    headers = {"Authorization": "Bearer " + _token(api), "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    # Paced as okectl paces a supplier's requests (its burst: a second's worth).
    limiter = RateLimiter(rate, max(CONCURRENCY, int(rate)))
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(addr: Address) -> None:
            async with gate:
                await limiter.acquire()
                async with session.get(api + path(addr)) as resp:
                    json.loads(await resp.read())

        await asyncio.gather(*(one(a) for a in addrs))


async def with_httpx(api: str, addrs: list[Address]) -> None:
    headers = {"Authorization": "Bearer " + _token(api), "Accept": "application/json"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, headers=headers) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(addr: Address) -> None:
            async with gate:
                (await client.get(api + path(addr))).json()

        await asyncio.gather(*(one(a) for a in addrs))


def cpu_per_request(run: Callable[[], Awaitable[None]], n: int) -> float:
    cpu = time.process_time()
    asyncio.run(run())  # type: ignore[arg-type]
    return (time.process_time() - cpu) / n * 1000


def profile(run: Callable[[], Awaitable[None]], top: int) -> int:
    asyncio.run(run())  # type: ignore[arg-type]  # warm: imports, the token, connections
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run())  # type: ignore[arg-type]
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="okectl-client-cpu-") as tmp:
        root = Path(tmp) / "fleet"
        generate_fleet(root, schools=20, suppliers=2)
        ws = load_workspace(root)
        db = Path(tmp) / "sandbox.db"
        seed_in_sync(db, ws.resources, ws.repository)
        proc, url = start_server(db, 0)
        try:
            os.environ[sandbox_adapter.SANDBOX_URL_ENV] = url
            sid = sorted(ws.state.suppliers)[0]
            known = [r.address for r in ws.resources if r.address.supplier == sid]
            addrs = [known[i % len(known)] for i in range(args.requests)]
            api = f"{url}/s/{sid}"
            rate = ws.state.suppliers[sid].limits.requests_per_second
            ways: dict[str, Callable[[], Awaitable[None]]] = {
                "okectl (HttpProvider.read)": lambda: with_okectl(ws, addrs),
                "floor (bare aiohttp)": lambda: with_aiohttp(api, addrs),
                "bare httpx": lambda: with_httpx(api, addrs),
                f"okectl at {rate:g}/s": lambda: with_okectl(ws, addrs, paced=True),
                f"floor at {rate:g}/s": lambda: with_aiohttp(api, addrs, rate=rate),
            }
            if args.profile:
                return profile(ways["okectl (HttpProvider.read)"], args.profile)
            figures: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(args.runs):  # interleaved, so each sees the same machine
                for name, way in ways.items():
                    figures[name].append(cpu_per_request(way, len(addrs)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    ms = {name: statistics.median(values) for name, values in figures.items()}
    okectl, floor = ms["okectl (HttpProvider.read)"], ms["floor (bare aiohttp)"]
    print(f"{args.requests} reads of single resources, concurrency {CONCURRENCY}; median of {args.runs} runs")
    for name, value in ms.items():
        runs = ", ".join(f"{v:.3f}" for v in figures[name])
        print(f"  {name:28s} {value:.3f} ms client CPU per request (runs: {runs})")
    paced = [value for name, value in ms.items() if " at " in name]
    print(
        f"  ratio okectl / floor: {okectl / floor:.2f} unpaced, {paced[0] / paced[1]:.2f} at the fleet's "
        f"rate; okectl {okectl:.3f} ms unpaced (target <= {TARGET_MS} ms)"
    )
    return 0 if okectl <= TARGET_MS else 2


if __name__ == "__main__":
    sys.exit(main())
