"""How much a plan costs over validation, on a 100-school, 30-supplier fleet.

Generates the fleet, seeds the embedded sandbox so everything is in sync, then times in the
same run: `okectl validate` (the baseline), a no-op `okectl plan`, and a plan where 1% of
the resources changed at the supplier. Whole commands, as a user runs them, median of
several runs; validate and the no-op plan take turns, so a busy machine weighs on both
alike. Targets: no-op plan ≤ 1.5× validate (CPU); 1% changed ≤ 1.1× the no-op plan; peak
memory ≤ 400 MB.

    python benchmarks/plan.py [--schools 100] [--suppliers 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import okectl_script

from okectl.config.settings import load_settings
from okectl.engine.validate import validate_repository
from okectl.sandbox.seed import seed_in_sync

# The development tools (tools/) sit beside the benchmarks, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.fleet import generate_fleet

CPU: dict[str, float] = {}
# The commands run as on a user's machine, where Python caches compiled modules. Some
# environments switch that off (PYTHONDONTWRITEBYTECODE); every command would then compile
# okectl's modules again, which weighs more on plan (it imports more of them) than on validate.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(*cmds: list[str], runs: int) -> list[tuple[float, int]]:
    """Median wall time and peak RSS (bytes) of each command over `runs` runs, the commands
    taking turns; the median CPU time (user + system) goes into CPU[cmd[1]], steadier on a
    shared machine."""
    times: list[list[float]] = [[] for _ in cmds]
    cpu: list[list[float]] = [[] for _ in cmds]
    peak = [0 for _ in cmds]
    for i, cmd in enumerate(cmds):
        subprocess.run(cmd, capture_output=True, env=ENV)  # warm: bytecode, page cache
        # The children's ru_maxrss is the largest of any child so far: read after each
        # command's first run, with the commands given smallest first, it is that command's.
        peak[i] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
            times[i].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[i].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if proc.returncode not in (0, 2):
                sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    names: list[str] = []
    for i, cmd in enumerate(cmds):
        # By subcommand; a second command of the same name in one call is "NAME-2".
        name = cmd[1] if cmd[1] not in names else f"{cmd[1]}-{names.count(cmd[1]) + 1}"
        names.append(cmd[1])
        CPU[name] = statistics.median(cpu[i])
    return [(statistics.median(t), p * 1024) for t, p in zip(times, peak, strict=True)]


def change_one_percent(db: Path) -> int:
    """Change the OKE version of 1% of the environments directly in the sandbox's store."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        table = "resources" if "resources" in tables else tables[0]
        cols = [r[1] for r in con.execute(f"pragma table_info({table})")]
        rows = con.execute(f"select rowid, * from {table}").fetchall()
        total = len(rows)
        doc_col = next(c for c in ("doc", "body", "data", "json") if c in cols)
        idx = cols.index(doc_col) + 1
        changed = 0
        for row in rows[::100]:
            text = row[idx]
            if '"1.0.1"' in text:
                new = text.replace('"1.0.1"', '"1.0"', 1)
            elif '"1.0"' in text:
                new = text.replace('"1.0"', '"1.0.1"', 1)
            else:
                new = text.replace('"groups": [', '"groups": ["changed", ', 1)
            con.execute(f"update {table} set {doc_col} = ? where rowid = ?", (new, row[0]))
            changed += 1
        con.commit()
        return changed if total else 0
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--suppliers", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    okectl = okectl_script()

    with tempfile.TemporaryDirectory(prefix="okectl-bench-") as tmp:
        repo = Path(tmp) / "fleet"
        generate_fleet(repo, schools=args.schools, suppliers=args.suppliers, seed=1)
        validated = validate_repository(repo)
        db = repo / ".okectl" / "sandbox.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        n = seed_in_sync(db, validated.resources, load_settings(repo).repository)
        print(
            f"fleet: {len(validated.state.schools)} schools, {len(validated.state.suppliers)} suppliers, "
            f"{n} resources in sync at the embedded sandbox"
        )

        check = subprocess.run(
            [okectl, "plan", "--repo", str(repo), "--detailed-exitcode"], capture_output=True, text=True
        )
        if check.returncode != 0:
            sys.exit(f"the in-sync plan is not empty:\n{check.stdout[-2000:]}")
        # A copy of the fleet whose sandbox has 1% changed, so the three commands take turns.
        changed_repo = Path(tmp) / "changed"
        shutil.copytree(repo, changed_repo)
        changed = change_one_percent(changed_repo / ".okectl" / "sandbox.db")
        (t_validate, m_validate), (t_noop, m_noop), (t_changed, m_changed) = timed(
            [okectl, "validate", "--repo", str(repo)],
            [okectl, "plan", "--repo", str(repo), "--detailed-exitcode"],
            [okectl, "plan", "--repo", str(changed_repo), "--detailed-exitcode"],
            runs=args.runs,
        )
        cpu_noop, cpu_changed = CPU["plan"], CPU["plan-2"]
        summary = subprocess.run(
            [okectl, "plan", "--repo", str(changed_repo)], capture_output=True, text=True
        )
        last = summary.stdout.strip().splitlines()[-1] if summary.stdout.strip() else "?"

    print(f"okectl validate:          {t_validate * 1000:8.0f} ms  (peak {m_validate / 2**20:.0f} MB)")
    print(f"okectl plan, no-op:       {t_noop * 1000:8.0f} ms  (peak {m_noop / 2**20:.0f} MB)")
    print(
        f"okectl plan, 1% changed:  {t_changed * 1000:8.0f} ms  (peak {m_changed / 2**20:.0f} MB)"
        f"  [{changed} resources changed; {last}]"
    )
    print(
        f"ratio no-op plan / validate:    {t_noop / t_validate:.2f} wall, "
        f"{cpu_noop / CPU['validate']:.2f} CPU  (target <= 1.5 CPU)"
    )
    print(
        f"ratio 1% changed / no-op plan:  {t_changed / t_noop:.2f} wall, "
        f"{cpu_changed / cpu_noop:.2f} CPU  (target <= 1.1)"
    )
    print(f"peak memory of plan:            {max(m_noop, m_changed) / 2**20:.0f} MB  (target <= 400)")


if __name__ == "__main__":
    main()
