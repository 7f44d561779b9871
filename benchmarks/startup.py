"""What starting okectl costs over starting Python: `okectl --version` against `python -c pass`.

Both run as fresh processes, alternately, many times; the CPU time (user + system) of each
is taken from the children's resource usage and the medians compared. Target: ratio ≤ 2.

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

from served import okectl_script

TARGET = 2.0
# As on a user's machine, where Python caches compiled modules.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cpu(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr}")
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    okectl = okectl_script()
    commands = {"python -c pass": [sys.executable, "-c", "pass"], "okectl --version": [okectl, "--version"]}
    for command in commands.values():
        cpu(command)  # warm: bytecode, page cache
    figures: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            figures[name].append(cpu(command))
    floor = statistics.median(figures["python -c pass"])
    ours = statistics.median(figures["okectl --version"])
    print(f"CPU time, median of {args.runs} fresh processes each:")
    print(f"  python -c pass      {floor * 1000:6.1f} ms")
    print(f"  okectl --version    {ours * 1000:6.1f} ms")
    print(f"  ratio               {ours / floor:6.2f}  (target <= {TARGET})")
    return 0 if ours / floor <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
