"""How much `okectl validate` costs over merely parsing the same YAML with the fastest C loader.

Generates the 100-school, 30-supplier fleet in a temporary folder and measures, in the same
run, a baseline that only parses every file with ``yaml.CSafeLoader`` and a full validation
(load with positions, models, references, profile resolution). Both are timed in-process
(median of several repetitions) and as whole commands in a fresh interpreter, since users
pay for interpreter start and imports too. Peak memory is the child's maximum resident set.

    python benchmarks/validate.py [--repeat N]

Targets: validation at most 3x the bare parse; peak memory at most 250 MB.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from served import okectl_script

from okectl.engine.validate import validate_repository

# The development tools (tools/) sit beside the benchmarks, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.fleet import generate_fleet

RATIO_TARGET = 3.0
MEMORY_TARGET_MB = 250.0

# The baseline command: a fresh interpreter that parses every file and nothing else.
PARSE_SCRIPT = """
import sys, yaml
from pathlib import Path
root = Path(sys.argv[1])
for folder in ("schools", "suppliers", "environments", "policies"):
    for path in sorted((root / folder).glob("*.yaml")):
        with path.open("rb") as fh:
            yaml.load(fh, Loader=yaml.CSafeLoader)
"""


def yaml_files(root: Path) -> list[Path]:
    return sorted(
        p
        for folder in ("schools", "suppliers", "environments", "policies")
        for p in (root / folder).glob("*.yaml")
    )


def bare_parse(files: list[Path]) -> None:
    loader = yaml.CSafeLoader
    for path in files:
        with path.open("rb") as fh:
            yaml.load(fh, Loader=loader)


def median_seconds(func: Callable[[], object], repeat: int) -> float:
    func()  # warm the page cache and imports so both sides are measured alike
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_child(argv: list[str]) -> float:
    """Wall time of one child process."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return elapsed


# Peak memory is read by the child itself from VmHWM: it belongs to the process's own
# address space, whereas ru_maxrss also counts the parent's pages copied by fork before exec.
PEAK_SUFFIX = """
import resource
try:
    with open("/proc/self/status") as fh:
        peak_kib = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except OSError:
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak-kib", peak_kib, file=sys.stderr)
"""
VALIDATE_SCRIPT = """
import sys
from okectl.cli import main
code = main(["validate", "--repo", sys.argv[1]])
assert code == 0, code
"""


def peak_mb(script: str, root: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", script + PEAK_SUFFIX, str(root)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    line = next(ln for ln in done.stderr.splitlines() if ln.startswith("peak-kib"))
    return int(line.split()[1]) / 1024


def median_child(argv: list[str], repeat: int) -> float:
    return statistics.median(run_child(argv) for _ in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--suppliers", type=int, default=30)
    args = parser.parse_args()

    okectl = okectl_script()
    workdir = Path(tempfile.mkdtemp(prefix="okectl-bench-"))
    try:
        root = workdir / "fleet"
        generate_fleet(root, schools=args.schools, suppliers=args.suppliers, seed=1)
        files = yaml_files(root)
        size = sum(p.stat().st_size for p in files)
        result = validate_repository(root)
        print(f"fleet: {len(files)} files, {size / 1024:.0f} KiB; {result.summary()}")

        del result
        # The same collector setting as the okectl command itself (okectl.cli.run).
        gc.set_threshold(100_000, 50, 100)
        parse_s = median_seconds(lambda: bare_parse(files), args.repeat)
        validate_s = median_seconds(lambda: validate_repository(root), args.repeat)
        in_ratio = validate_s / parse_s
        print(f"\nin-process (median of {args.repeat})")
        print(f"  bare parse (yaml.CSafeLoader)   {parse_s * 1000:8.1f} ms")
        print(f"  validate_repository             {validate_s * 1000:8.1f} ms")
        print(f"  ratio                           {in_ratio:8.2f}x  (target <= {RATIO_TARGET:.0f}x)")

        parse_cmd = [sys.executable, "-c", PARSE_SCRIPT, str(root)]
        validate_cmd = (
            [okectl, "validate", "--repo", str(root)]
            if okectl
            else [sys.executable, "-m", "okectl", "validate", "--repo", str(root)]
        )
        empty_s = median_child([sys.executable, "-c", "pass"], args.repeat)
        parse_cmd_s = median_child(parse_cmd, args.repeat)
        validate_cmd_s = median_child(validate_cmd, args.repeat)
        parse_mb = peak_mb(PARSE_SCRIPT, root)
        validate_mb = peak_mb(VALIDATE_SCRIPT, root)
        cmd_ratio = validate_cmd_s / parse_cmd_s
        net_ratio = (validate_cmd_s - empty_s) / (parse_cmd_s - empty_s)
        print(f"\nwhole command, fresh interpreter (median of {args.repeat})")
        print(f"  python -c pass                  {empty_s * 1000:8.1f} ms")
        print(f"  python -c <parse every file>    {parse_cmd_s * 1000:8.1f} ms   peak {parse_mb:6.1f} MB")
        print(
            f"  okectl validate                 {validate_cmd_s * 1000:8.1f} ms   peak {validate_mb:6.1f} MB"
        )
        print(f"  ratio                           {cmd_ratio:8.2f}x")
        print(f"  ratio without interpreter start {net_ratio:8.2f}x")

        ok_ratio = in_ratio <= RATIO_TARGET
        ok_memory = validate_mb <= MEMORY_TARGET_MB
        print(
            f"\ntargets: time {'met' if ok_ratio else 'MISSED'} ({in_ratio:.2f}x <= {RATIO_TARGET:.0f}x), "
            f"memory {'met' if ok_memory else 'MISSED'} ({validate_mb:.0f} MB <= {MEMORY_TARGET_MB:.0f} MB)"
        )
        return 0 if ok_ratio and ok_memory else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
