"""How close a fleet refresh over HTTP comes to what the suppliers' limits allow.

Generates the 100-school, 30-supplier fleet, seeds a sandbox so everything is in sync,
serves it as a real server (its own process, as a supplier would be) with 20 ms injected
latency per request, and refreshes every supplier through the HTTP provider, the same code
path as `okectl plan`. Prints the number of requests, the wall time and the ratio to the
lower bound ``requests × latency ÷ allowed concurrency``. Target: ratio ≤ 1.5.

Each supplier's requests can only pass through that supplier's own concurrency, so the bound
is taken per supplier and the slowest supplier's bound is the fleet's; the bound with all
suppliers' concurrency pooled is printed too. Three things no bound of that form sees are
printed next to it: the critical path (a supplier's refresh is dependent steps: token,
tenant list, then the reads in rounds of its concurrency), and the CPU time the client and
the server spend, which is what limits a single Python process at small latencies: neither
can finish sooner than its own CPU time, whatever the latency.

Every read strategy runs in the same session, so their figures compare on a noisy machine:
``auto`` (what okectl does), ``per-tenant`` (every tenant's listing, in parallel) and
``all-tenants`` (one listing across tenants). After each run the very same requests are sent
again with bare httpx (the baseline): the difference is what okectl's own logic costs.

    python benchmarks/refresh.py [--schools 100] [--suppliers 30] [--latency-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from served import process_cpu, start_server

from okectl.adapters import sandbox as sandbox_adapter
from okectl.config.repository import DesiredState
from okectl.engine.refresh import refresh
from okectl.engine.workspace import Workspace, load_workspace
from okectl.providers import registry
from okectl.providers.base import AdapterContext
from okectl.providers.http.provider import ReadStrategy
from okectl.sandbox.seed import seed_in_sync

# The development tools (tools/) sit beside the benchmarks, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.fleet import generate_fleet

TARGET = 1.5
REPO = Path(__file__).resolve().parent.parent
STRATEGIES: tuple[ReadStrategy, ...] = ("auto", "per-tenant", "all-tenants")

Sent = dict[str, list[tuple[str, str]]]  # supplier id -> (method, URL) in the order sent


def phases(requests: list[tuple[str, str]]) -> tuple[list[str], list[list[str]]]:
    """A supplier's reads after its token: the tenant list, which the rest wait for, and
    the listings, each a run of pages that follow one another."""
    first: list[str] = []
    listings: dict[str, list[str]] = {}
    for method, url in requests:
        if method != "GET":
            continue
        path = httpx.URL(url).path
        if path.endswith("/tenants"):
            first.append(url)
        else:
            listings.setdefault(path, []).append(url)
    return first, list(listings.values())


class Noting:
    """A provider's session that notes each request it sends."""

    def __init__(self, session: Any, log: list[tuple[str, str]]) -> None:
        self._session = session
        self._log = log

    def request(self, *args: Any, **kwargs: Any) -> httpx.Request:
        return self._session.request(*args, **kwargs)  # type: ignore[no-any-return]

    async def send(self, request: httpx.Request, *, stream: bool = True) -> httpx.Response:
        self._log.append((request.method, str(request.url)))
        return await self._session.send(request, stream=stream)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self._session.aclose()


def use_strategy(strategy: ReadStrategy, sent: Sent) -> None:
    """Make the sandbox provider read with this strategy and note every request it sends
    (the benchmark's only changes)."""
    from okectl.providers.http.provider import HttpProvider

    def factory(supplier: Any, ctx: AdapterContext) -> Any:
        made = sandbox_adapter.make_provider(supplier, ctx)
        assert isinstance(made, HttpProvider)
        made._read_strategy = strategy
        log = sent.setdefault(supplier.id, [])
        opened = made._open  # the session is made on the first request

        def noting_open() -> Any:
            session, limiter = opened()
            if not isinstance(session, Noting):
                made._session = session = Noting(session, log)  # type: ignore[assignment]
            return session, limiter

        made._open = noting_open  # type: ignore[method-assign]
        return made

    registry.BUILT_IN["sandbox"] = dataclasses.replace(sandbox_adapter.ADAPTER, create=factory)


async def replay(sent: Sent, state: DesiredState) -> None:
    """The baseline: the same requests sent with bare httpx, one client per supplier within
    its concurrency, bodies decoded as JSON and nothing else: what okectl's own logic costs
    on top. Token first, then the tenant list, then the rest at once."""
    from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

    tls = httpx.create_ssl_context()  # once: loading the CA bundle per client costs ~30 ms

    async def supplier(sid: str, requests: list[tuple[str, str]]) -> None:
        limit = state.suppliers[sid].api.limits.concurrency
        limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        async with httpx.AsyncClient(limits=limits, timeout=30, verify=tls) as client:
            gate = asyncio.Semaphore(limit)
            token_url = next(u for m, u in requests if m == "POST")
            form = {"grant_type": "client_credentials", "client_id": DEV_CLIENT_ID}
            resp = await client.post(token_url, data={**form, "client_secret": DEV_CLIENT_SECRET})
            headers = {"Authorization": "Bearer " + resp.json()["access_token"]}

            async def get(url: str) -> None:
                async with gate:
                    (await client.get(url, headers=headers)).json()

            async def listing(urls: list[str]) -> None:
                for url in urls:  # a listing's pages follow one another
                    await get(url)

            first, listings = phases(requests)
            for url in first:
                await get(url)
            await asyncio.gather(*(listing(urls) for urls in listings))

    await asyncio.gather(*(supplier(sid, reqs) for sid, reqs in sent.items()))


@dataclass
class Result:
    strategy: str
    walls: list[float]
    client_cpu: float
    server_cpu: float
    counts: dict[str, int]
    read: int
    bare_walls: list[float]
    bare_cpu: float
    sent: Sent


def measure(ws: Workspace, url: str, pid: int, strategy: ReadStrategy, runs: int) -> Result:
    walls: list[float] = []
    cpus: list[float] = []
    servers: list[float] = []
    bare_walls: list[float] = []
    bare_cpus: list[float] = []
    counts: dict[str, int] = {}
    read = 0
    for _ in range(runs):
        sent: Sent = {}
        use_strategy(strategy, sent)
        httpx.delete(f"{url}/_sandbox/stats").raise_for_status()
        server = process_cpu(pid)
        start, cpu = time.perf_counter(), time.process_time()
        result = asyncio.run(refresh(ws.state, ws.root, settings=ws.settings))
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        servers.append(process_cpu(pid) - server)
        read = len(result.resources)
        counts = httpx.get(f"{url}/_sandbox/stats").json()["by_supplier"]
        # Interleaved with okectl's runs, so both see the same machine.
        start, cpu = time.perf_counter(), time.process_time()
        asyncio.run(replay(sent, ws.state))
        bare_walls.append(time.perf_counter() - start)
        bare_cpus.append(time.process_time() - cpu)
    return Result(
        strategy,
        walls,
        statistics.median(cpus),
        statistics.median(servers),
        counts,
        read,
        bare_walls,
        statistics.median(bare_cpus),
        sent,
    )


def report(r: Result, state: DesiredState, latency: float) -> float:
    wall = statistics.median(r.walls)
    requests = sum(r.counts.values())
    concurrency = {sid: state.suppliers[sid].api.limits.concurrency for sid in r.counts}
    per_supplier = {sid: n * latency / concurrency[sid] for sid, n in r.counts.items()}
    slowest = max(per_supplier, key=lambda sid: per_supplier[sid])
    bound = per_supplier[slowest]
    pooled = requests * latency / sum(concurrency.values())
    # token, then the tenant list (unless the listing goes first), then the listings side
    # by side in rounds of the supplier's concurrency, each listing's pages in a row
    rounds = {}
    for sid, sent in r.sent.items():
        first, listings = phases(sent)
        reads = sum(len(pages) for pages in listings)
        longest = max((len(pages) for pages in listings), default=0)
        rounds[sid] = 1 + len(first) + max(longest, math.ceil(reads / concurrency[sid]))
    critical = max(rounds.values()) * latency
    floor = max(r.client_cpu, r.server_cpu)
    ratio = wall / bound
    print(f"\nread strategy: {r.strategy}{'  (what okectl does)' if r.strategy == 'auto' else ''}")
    print(f"  requests: {requests} ({min(r.counts.values())}-{max(r.counts.values())} per supplier)")
    print(f"  wall time: {wall:.3f} s (runs: {', '.join(f'{w:.3f}' for w in r.walls)})")
    print(
        f"  lower bound: {bound:.3f} s ({r.counts[slowest]} requests x {latency * 1000:g} ms / "
        f"concurrency {concurrency[slowest]}, supplier {slowest})"
    )
    print(f"  ratio to the lower bound: {ratio:.2f} (target <= {TARGET})")
    print(
        f"  pooled bound ({requests} requests / total concurrency {sum(concurrency.values())}): "
        f"{pooled:.3f} s, ratio {wall / pooled:.2f}"
    )
    print(f"  critical path (dependent round trips): {critical:.3f} s, ratio {wall / critical:.2f}")
    print(
        f"  CPU: client {r.client_cpu:.3f} s ({r.client_cpu / requests * 1000:.2f} ms per request), "
        f"server {r.server_cpu:.3f} s ({r.server_cpu / requests * 1000:.2f} ms per request)"
    )
    print(
        f"  CPU floor: the busier process alone needs {floor:.3f} s, "
        f"{floor / bound:.1f}x the lower bound; wall time is {wall / floor:.2f}x that floor"
    )
    bare = statistics.median(r.bare_walls)
    print(
        f"  baseline, the same requests with bare httpx: {bare:.3f} s, ratio {bare / bound:.2f} to the "
        f"lower bound; client CPU {r.bare_cpu / requests * 1000:.2f} ms per request; "
        f"okectl / bare httpx: {wall / bare:.2f} wall, {r.client_cpu / r.bare_cpu:.2f} CPU"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--suppliers", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strategy", choices=STRATEGIES, action="append", help="default: all three")
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000

    with tempfile.TemporaryDirectory(prefix="okectl-refresh-") as tmp:
        root = Path(tmp) / "fleet"
        generate_fleet(root, schools=args.schools, suppliers=args.suppliers)
        ws = load_workspace(root)
        db = Path(tmp) / "sandbox.db"
        seeded = seed_in_sync(db, ws.resources, ws.repository)

        proc, url = start_server(db, args.latency_ms, control=True)
        try:
            os.environ[sandbox_adapter.SANDBOX_URL_ENV] = url
            results = [
                measure(ws, url, proc.pid, s, args.runs) for s in (args.strategy or STRATEGIES)
            ]
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    for r in results:
        if r.read != seeded:
            print(f"{r.strategy}: refresh read {r.read} resources, expected {seeded}", file=sys.stderr)
            return 1
    print(f"fleet: {args.schools} schools, {len(results[0].counts)} suppliers, {seeded} resources read")
    print(f"latency injected per request: {args.latency_ms:g} ms; median of {args.runs} runs")
    ratios = {r.strategy: report(r, ws.state, latency) for r in results}
    first = ratios[results[0].strategy]
    return 0 if first <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
