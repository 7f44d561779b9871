"""How close an apply over HTTP comes to what the suppliers' rate limits allow.

Generates the 100-school, 30-supplier fleet (10,340 resources), serves an empty sandbox as
a real server in its own process (as a supplier would be) with 20 ms injected latency per
request and each supplier's rate limit enforced (a request beyond it is answered 429), plans
against it and applies every create through the same code as `okectl apply`. Each run gets
a fresh, empty server.

The floor is the suppliers' rate limits: a supplier accepts at most ``requests_per_second``
writes a second, so the busiest supplier needs ``writes ÷ rate`` at least. Target: the apply's
wall time ≤ 1.5× that floor. The bound with the one-second burst the server allows is printed
too (``(writes - burst) ÷ rate``), and so is the CPU time of client and server: neither
process can finish sooner than its own CPU time, whatever the limits.

    python benchmarks/apply.py [--schools 100] [--suppliers 30] [--latency-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from served import process_cpu, start_server

from okectl.adapters import sandbox as sandbox_adapter
from okectl.engine.apply import Journal, apply_changes
from okectl.engine.planner import make_plan
from okectl.engine.workspace import load_workspace

# The development tools (tools/) and tests.support sit beside the benchmarks, outside
# the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.fleet import generate_fleet

TARGET = 1.5


def one_run(root: Path, tmp: Path, run: int, latency_ms: float, rate: float) -> dict[str, float]:
    db = tmp / f"sandbox-{run}.db"
    proc, url = start_server(db, latency_ms, control=True, rate_limit=rate)
    try:
        os.environ[sandbox_adapter.SANDBOX_URL_ENV] = url
        ws = load_workspace(root)
        changes = make_plan(ws).plan.changes
        creates = Counter(c.address.supplier for c in changes if c.action == "create")
        httpx.delete(f"{url}/_sandbox/stats").raise_for_status()
        journal = Journal(ws, plan_checksum=f"sha256:benchmark{run}")
        server = process_cpu(proc.pid)
        start, cpu = time.perf_counter(), time.process_time()
        result = asyncio.run(apply_changes(ws, changes, journal=journal))
        wall = time.perf_counter() - start
        client = time.process_time() - cpu
        server = process_cpu(proc.pid) - server
        journal.close(result)
        stats = httpx.get(f"{url}/_sandbox/stats").json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    applied = len(result.by_status("applied"))
    if applied != len(changes):
        statuses = Counter(o.status for o in result.outcomes)
        raise SystemExit(f"run {run}: {applied} of {len(changes)} writes applied ({dict(statuses)})")
    limits = {sid: ws.state.suppliers[sid].limits.requests_per_second for sid in creates}
    busiest = max(creates, key=lambda sid: creates[sid] / limits[sid])
    return {
        "writes": len(changes),
        "wall": wall,
        "client": client,
        "server": server,
        "requests": stats["requests"],
        "floor": creates[busiest] / limits[busiest],
        "burst_floor": max(1.0, creates[busiest] - limits[busiest]) / limits[busiest],
        "busiest": creates[busiest],
        "rate": limits[busiest],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--suppliers", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="okectl-apply-") as tmp:
        root = Path(tmp) / "fleet"
        generate_fleet(root, schools=args.schools, suppliers=args.suppliers)
        rates = {s.limits.requests_per_second for s in load_workspace(root).state.suppliers.values()}
        if len(rates) != 1:
            raise SystemExit("the served sandbox enforces one rate for all suppliers; the fleet has several")
        (rate,) = rates
        runs = [one_run(root, Path(tmp), i, args.latency_ms, rate) for i in range(args.runs)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    wall, floor, writes = med("wall"), med("floor"), int(med("writes"))
    client, server, requests = med("client"), med("server"), med("requests")
    ratio = wall / floor
    print(f"fleet: {args.schools} schools, {args.suppliers} suppliers; {writes} creates applied per run")
    print(f"latency injected per request: {args.latency_ms:g} ms; median of {args.runs} runs")
    each = ", ".join(f"{r['wall']:.3f}" for r in runs)
    print(f"  wall time: {wall:.3f} s (runs: {each}); {writes / wall:.0f} writes/s")
    print(
        f"  rate-limit floor: {floor:.3f} s (busiest supplier: {runs[0]['busiest']:.0f} writes at "
        f"{runs[0]['rate']:g} per second)"
    )
    print(f"  ratio wall / rate-limit floor: {ratio:.2f} (target <= {TARGET})")
    burst = med("burst_floor")
    print(f"  with the one-second burst the server allows: {burst:.3f} s, ratio {wall / burst:.2f}")
    print(f"  requests the server saw: {requests:.0f} ({requests - writes:.0f} more than the writes)")
    print(
        f"  CPU: client {client:.3f} s ({client / requests * 1000:.2f} ms per request), "
        f"server {server:.3f} s ({server / requests * 1000:.2f} ms per request)"
    )
    busier = max(client, server)
    print(
        f"  CPU floor: the busier process alone needs {busier:.3f} s, {busier / floor:.2f}x the rate-limit "
        f"floor ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end)"
    )
    return 0 if ratio <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
