"""How close a fleet refresh over HTTP comes to what the suppliers' limits allow.

Generates the 100-school, 30-supplier fleet, seeds a sandbox so everything is in sync,
serves it as a real server (its own process, as a supplier would be) with 20 ms injected
latency per request, and refreshes every supplier through the HTTP provider, the same code
path as `okectl plan`. Prints the number of requests, the wall time and the ratio to the
lower bound ``requests × latency ÷ allowed concurrency``. Target: ratio ≤ 1.5.

Each supplier's requests can only pass through that supplier's own concurrency, so the bound
is taken per supplier and the slowest supplier's bound is the fleet's; the bound with all
suppliers' concurrency pooled is printed too. Two things no bound of that form sees are
printed next to it: the critical path (a supplier's refresh is three dependent steps: token,
tenant list, then the tenant reads in rounds of its concurrency) and the CPU time the client
spends per request, which is what limits a single Python process at small latencies.

    python benchmarks/refresh.py [--schools 100] [--suppliers 30] [--latency-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from okectl.config.validate import validate_repository
from okectl.fleet import generate_fleet
from okectl.providers.registry import SANDBOX_URL_ENV
from okectl.refresh import refresh
from okectl.sandbox.seed import seed_in_sync
from okectl.sandbox.server import free_port
from okectl.settings import load_settings

TARGET = 1.5
REPO = Path(__file__).resolve().parent.parent


def start_server(db: Path, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable, "-m", "okectl", "sandbox", "serve", "--port", str(port), "--db", str(db),
        "--latency-ms", str(latency_ms),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the sandbox server stopped: {detail}")
        try:
            httpx.get(f"{url}/_sandbox/stats", timeout=1).raise_for_status()
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the sandbox server did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--suppliers", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000

    with tempfile.TemporaryDirectory(prefix="okectl-refresh-") as tmp:
        root = Path(tmp) / "fleet"
        generate_fleet(root, schools=args.schools, suppliers=args.suppliers)
        validated = validate_repository(root)
        state = validated.state
        db = Path(tmp) / "sandbox.db"
        seeded = seed_in_sync(db, validated.resources, load_settings(root).repository)

        proc, url = start_server(db, args.latency_ms)
        try:
            os.environ[SANDBOX_URL_ENV] = url
            walls: list[float] = []
            cpus: list[float] = []
            counts: dict[str, int] = {}
            read = 0
            for _ in range(args.runs):
                httpx.delete(f"{url}/_sandbox/stats").raise_for_status()
                start, cpu = time.perf_counter(), time.process_time()
                result = asyncio.run(refresh(state, root))
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                read = len(result.resources)
                counts = httpx.get(f"{url}/_sandbox/stats").json()["by_supplier"]
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    if read != seeded:
        print(f"refresh read {read} resources, expected {seeded}", file=sys.stderr)
        return 1
    wall = statistics.median(walls)
    cpu = statistics.median(cpus)
    requests = sum(counts.values())
    concurrency = {sid: state.suppliers[sid].api.limits.concurrency for sid in counts}
    per_supplier = {sid: n * latency / concurrency[sid] for sid, n in counts.items()}
    slowest = max(per_supplier, key=lambda sid: per_supplier[sid])
    bound = per_supplier[slowest]
    pooled = requests * latency / sum(concurrency.values())
    critical = max((2 + math.ceil((n - 2) / concurrency[sid])) * latency for sid, n in counts.items())
    ratio = wall / bound

    print(f"fleet: {args.schools} schools, {len(counts)} suppliers, {read} resources read")
    print(f"latency injected per request: {args.latency_ms:g} ms; median of {args.runs} runs")
    print(f"requests: {requests} ({min(counts.values())}-{max(counts.values())} per supplier)")
    print(f"wall time: {wall:.3f} s (runs: {', '.join(f'{w:.3f}' for w in walls)})")
    print(
        f"lower bound: {bound:.3f} s ({counts[slowest]} requests x {args.latency_ms:g} ms / "
        f"concurrency {concurrency[slowest]}, supplier {slowest})"
    )
    print(f"ratio to the lower bound: {ratio:.2f} (target <= {TARGET})")
    print(
        f"pooled bound ({requests} requests / total concurrency {sum(concurrency.values())}): "
        f"{pooled:.3f} s, ratio {wall / pooled:.2f}"
    )
    print(
        f"critical path (token, tenant list, reads in rounds): {critical:.3f} s, "
        f"ratio {wall / critical:.2f}"
    )
    print(f"client CPU: {cpu:.3f} s, {cpu / requests * 1000:.2f} ms per request")
    return 0 if ratio <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
