"""What `okectl policy check` costs next to `okectl validate`, on a generated fleet.

Both commands run as a user runs them (a fresh process each time), interleaved so that
machine noise hits both alike; the figure is the median of several runs. The fleet gets
the example repository's rules (policies/rules.yaml), as the adoption team would apply
them; the example's waivers name example suppliers and are left out.

    python benchmarks/policy.py [--schools 100] [--suppliers 30] [--repeat 9] [--max-ratio 1.5]

Exits 1 when the ratio exceeds --max-ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-28"


def timed(args: list[str], expect: set[int]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "okectl", *args], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in expect:
        raise SystemExit(f"okectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return elapsed


def in_process(repo: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of the core work alone (no interpreter start-up): validate, and
    validate plus policy evaluation."""
    import gc
    from datetime import date

    # As the command line does, so both figures see the same garbage collection.
    gc.set_threshold(100_000, 50, 100)

    from okectl.engine.validate import validate_repository
    from okectl.policy.engine import evaluate

    validate_times, check_times = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        validate_repository(repo)
        validate_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = validate_repository(repo)
        evaluate(result.state, today=date.fromisoformat(TODAY), resources=result.resources)
        check_times.append(time.perf_counter() - start)
    return statistics.median(validate_times), statistics.median(check_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--suppliers", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--max-ratio", type=float, default=1.5)
    opts = parser.parse_args()

    sys.path.insert(0, str(PROJECT))  # the development tools (tools/), outside the installed package
    from tools.fleet import generate_fleet

    with tempfile.TemporaryDirectory(prefix="okectl-bench-") as tmp:
        repo = Path(tmp) / "fleet"
        generate_fleet(repo, schools=opts.schools, suppliers=opts.suppliers)
        shutil.copy(PROJECT / "policies" / "rules.yaml", repo / "policies" / "rules.yaml")
        validate = ["validate", "--repo", str(repo)]
        check = ["policy", "check", "--repo", str(repo), "--today", TODAY]
        # Warm the file cache and the bytecode cache before measuring.
        timed(validate, {0})
        timed(check, {0, 3})
        v_times, c_times = [], []
        for _ in range(opts.repeat):
            v_times.append(timed(validate, {0}))
            c_times.append(timed(check, {0, 3}))
        v, c = statistics.median(v_times), statistics.median(c_times)
        core_v, core_c = in_process(repo, opts.repeat)
        summary = (
            subprocess.run(
                [sys.executable, "-m", "okectl", *check], capture_output=True, text=True, check=False
            )
            .stdout.strip()
            .splitlines()[-1]
        )

    ratio = c / v
    print(f"fleet: {opts.schools} schools, {opts.suppliers} suppliers; median of {opts.repeat} runs")
    print(f"policy check: {summary}")
    print(f"okectl validate      {v * 1000:8.1f} ms")
    print(f"okectl policy check  {c * 1000:8.1f} ms")
    print(f"ratio                {ratio:8.2f}x  (limit {opts.max_ratio:.2f}x)")
    print(
        f"in-process: validate {core_v * 1000:.1f} ms, validate + policy {core_c * 1000:.1f} ms "
        f"({core_c / core_v:.2f}x)"
    )
    return 0 if ratio <= opts.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
