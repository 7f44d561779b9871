"""Peak memory of `okectl verify` against a hostile endpoint: a gzip bomb (about 1 MiB on the
wire, 1 GiB inflated), a 1.5 GiB body and an endless one.

Serves the example repository's desired state from a sandbox in its own process, runs verify
at level 3 on one environment in this process, first against the conformant endpoint (the
baseline), then with each hostile fault injected on that environment, and prints for each
run the peak of Python's allocations during it (tracemalloc) and the process's peak resident
size, next to the baseline's. The bound is verify's answer limit (16 MiB decoded): a run that
inflated the bomb would show a gigabyte.

    python benchmarks/verify_hostile.py [--fault gzip_bomb|huge_body|endless_body]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from served import start_server
from verify import copy_example

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.config.settings import load_settings
from okectl.engine.validate import validate_repository
from okectl.engine.workspace import load_workspace
from okectl.sandbox.seed import seed_in_sync
from okectl.verify.runner import Selection, verify_async
from okectl.views.verify import failures

MiB = 1024 * 1024


def run_once(root: Path, address: str) -> tuple[float, int, list[str]]:
    supplier, school, environment = address.split("/")
    selection = Selection(frozenset({school}), frozenset({supplier}), environment, 3)
    tracemalloc.start()
    started = time.perf_counter()
    report = asyncio.run(verify_async(load_workspace(root), selection))
    took = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return took, peak, failures(report)


def max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fault", choices=("gzip_bomb", "huge_body", "endless_body"), action="append")
    args = parser.parse_args(argv)
    faults = args.fault or ["gzip_bomb", "huge_body", "endless_body"]
    with tempfile.TemporaryDirectory(prefix="okectl-hostile-") as tmp:
        root = Path(tmp) / "example"
        root.mkdir()
        copy_example(root, lifted=True)
        validated = validate_repository(root)
        db = Path(tmp) / "sandbox.db"
        seed_in_sync(db, validated.resources, load_settings(root).repository)
        address = next(
            str(r.address)
            for r in validated.resources
            if r.address.kind == "environment" and r.spec.get("type") != "production"
        )
        proc, url = start_server(db, 0, control=True)
        try:
            os.environ[SANDBOX_URL_ENV] = url
            took, peak, lines = run_once(root, address)
            rss = max_rss()
            print(f"{address}: baseline  {took:6.2f} s  peak allocations {peak / MiB:7.1f} MiB  "
                  f"max RSS {rss / MiB:7.1f} MiB  failures {len(lines)}")  # fmt: skip
            for fault in faults:
                httpx.post(
                    f"{url}/_sandbox/oke/faults", json={"environment": address, fault: True}
                ).raise_for_status()
                took, peak, lines = run_once(root, address)
                httpx.delete(f"{url}/_sandbox/oke/faults").raise_for_status()
                rss = max_rss()
                print(f"{address}: {fault:<9} {took:6.2f} s  peak allocations {peak / MiB:7.1f} MiB  "
                      f"max RSS {rss / MiB:7.1f} MiB  failures {len(lines)}")  # fmt: skip
                for line in lines:
                    print("   ", line[:200])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
