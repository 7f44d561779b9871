"""How close `okectl verify --level 3` over the example fleet comes to its critical path.

Copies the example repository, seeds a sandbox with its desired state (so every environment
exists, as after an apply), serves it as a real server in its own process with 20 ms injected
latency per request, and verifies every environment at level 3 through the same code as
`okectl verify`. Prints the wall time and its ratio to the critical path: the longest chain
of dependent round trips × the latency. Target: ratio ≤ 1.5.

The chain is the administration API's (token, tenant list, environment listing: how verify
finds each environment's base URL) followed by the longest chain of OKE requests verify
measured itself (token, then a listing, then the items it names, …).

Verifying is many small requests (about 14 per environment at level 3), so in one Python
process the client's CPU time per request, not the latency, sets the floor: the figures
print it next to the ratio.

Two runs: the suppliers' limits as the example configures them (20 requests per second each:
verify stays within them, so the rate bound ``requests ÷ rate`` dominates), and with limits
lifted (concurrency 16, no rate limit), which measures verify's own cost. For each, the
bounds no critical path sees are printed next to it: the rate and concurrency bounds, and the
CPU time of client and server.

    python benchmarks/verify.py [--latency-ms 20] [--runs 3] [--only configured|lifted]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from served import process_cpu, start_server

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.config.settings import load_settings
from okectl.engine.validate import validate_repository
from okectl.engine.workspace import load_workspace
from okectl.sandbox.seed import seed_in_sync
from okectl.verify.runner import Selection, verify_async

TARGET = 1.5
REPO = Path(__file__).resolve().parent.parent
PARTS = ("schools", "suppliers", "environments", "policies")
ADMIN_ROUND_TRIPS = 3  # token, tenant list, one listing page


def copy_example(dest: Path, *, lifted: bool) -> None:
    for part in PARTS:
        shutil.copytree(REPO / part, dest / part)
    shutil.copy(REPO / "okectl.yaml", dest / "okectl.yaml")
    # One sandbox serves the whole fleet here: the suppliers changed by their support desk
    # are verified at its endpoints too, as if it were theirs, with the same limits.
    sandbox_api = "api:\n  provider: sandbox\n  limits: {concurrency: 8, requests_per_second: 20}\n"
    for path in (dest / "suppliers").glob("*.yaml"):
        text = re.sub(r"^api:\n(?:  .*\n)+", sandbox_api, path.read_text(), flags=re.M)
        path.write_text(re.sub(r"^verify:.*\n(?:  .*\n)*", "", text, flags=re.M))
    for path in (dest / "schools").glob("*.yaml"):
        declared = r"^    environments: +# where its OKE endpoints are.*\n(?:      .*base_url.*\n)+"
        path.write_text(re.sub(declared, "", path.read_text(), flags=re.M))
    if lifted:
        for path in (dest / "suppliers").glob("*.yaml"):
            lifted_limits = "limits: {concurrency: 16, requests_per_second: 10000}"
            text = re.sub(r"limits: \{[^}]*\}", lifted_limits, path.read_text())
            path.write_text(text)


def measure(root: Path, url: str, pid: int, runs: int, latency: float, label: str) -> float:
    limits = {}
    state = validate_repository(root).state
    for sid, supplier in state.suppliers.items():
        limits[sid] = (supplier.api.limits.concurrency, supplier.api.limits.requests_per_second)
    walls: list[float] = []
    cpus: list[float] = []
    servers: list[float] = []
    depth = envs = requests = admin = 0
    sent: dict[str, int] = {}
    status = ""
    for _ in range(runs):
        httpx.delete(f"{url}/_sandbox/stats").raise_for_status()
        server = process_cpu(pid)
        start, cpu = time.perf_counter(), time.process_time()
        report = asyncio.run(verify_async(load_workspace(root), Selection(level=3)))
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
        servers.append(process_cpu(pid) - server)
        depth, envs, status = report.round_trips, len(report.environments), report.status
        sent = report.requests
        stats = httpx.get(f"{url}/_sandbox/stats").json()
        requests = stats["requests"]
        admin = requests - stats["by_supplier"].get("-", 0)
    wall = statistics.median(walls)
    chain = ADMIN_ROUND_TRIPS + depth
    critical = chain * latency
    oke = sum(sent.values())
    # Each supplier's OKE requests pass through its own limits: beyond a burst of one
    # second's worth, at its rate; and at most its concurrency at a time.
    rate_bound = max((max(0.0, n - limits[sid][1]) / limits[sid][1] for sid, n in sent.items()), default=0.0)
    conc_bound = max((n * latency / limits[sid][0] for sid, n in sent.items()), default=0.0)
    bound = max(critical, rate_bound, conc_bound)
    ratio = wall / critical
    print(f"\nlimits {label}: {envs} environments verified at level 3, status {status}")
    print(f"  requests: {requests} ({oke} to OKE endpoints, {admin} to administration APIs)")
    print(f"  wall time: {wall:.3f} s (runs: {', '.join(f'{w:.3f}' for w in walls)})")
    print(
        f"  critical path: {chain} dependent round trips ({ADMIN_ROUND_TRIPS} administration + {depth} OKE) "
        f"x {latency * 1000:g} ms = {critical:.3f} s"
    )
    print(f"  ratio wall / critical path: {ratio:.2f} (target <= {TARGET})")
    print(f"  rate bound (busiest supplier: requests beyond a one-second burst / rate): {rate_bound:.3f} s")
    print(f"  concurrency bound (busiest supplier, requests x latency / concurrency): {conc_bound:.3f} s")
    print(f"  ratio wall / the largest of these bounds: {wall / bound:.2f}")
    client, server = statistics.median(cpus), statistics.median(servers)
    print(
        f"  CPU: client {client:.3f} s ({client / requests * 1000:.2f} ms per request), "
        f"server {server:.3f} s ({server / requests * 1000:.2f} ms per request)"
    )
    floor = max(client, server)
    print(
        f"  CPU floor: the busier process alone needs {floor:.3f} s, {floor / critical:.1f}x the critical "
        f"path; wall time is {wall / floor:.2f}x that floor ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end)"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("configured", "lifted"))
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000
    ratios: dict[str, float] = {}
    for label in ("configured", "lifted"):
        if args.only and args.only != label:
            continue
        with tempfile.TemporaryDirectory(prefix="okectl-verify-") as tmp:
            root = Path(tmp) / "example"
            root.mkdir()
            copy_example(root, lifted=label == "lifted")
            validated = validate_repository(root)
            db = Path(tmp) / "sandbox.db"
            seed_in_sync(db, validated.resources, load_settings(root).repository)
            proc, url = start_server(db, args.latency_ms, control=True)
            try:
                os.environ[SANDBOX_URL_ENV] = url
                ratios[label] = measure(root, url, proc.pid, args.runs, latency, label)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"\nlatency injected per request: {args.latency_ms:g} ms; median of {args.runs} runs")
    return 0 if min(ratios.values()) <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
