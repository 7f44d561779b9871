"""How much telling drift apart costs over the plan it starts from, on a 100-school,
30-supplier fleet under git.

Generates the fleet, commits it, seeds the embedded sandbox as applied from that commit
(every resource labelled with it), changes 1% of the resources at the supplier, then times
in the same run: `okectl plan --detailed-exitcode` (the baseline) and `okectl drift
--detailed-exitcode`, first with the configuration still at the applied commit, then one
commit ahead (a school file changed since), where drift reads the configuration at the
applied commit once more. Whole commands, median of several runs. Targets: drift ≤ 1.2× the
plan at the applied commit; ≤ 1.2× plan + validate one commit ahead.

    python benchmarks/drift.py [--schools 100] [--suppliers 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from plan import CPU, change_one_percent, timed
from served import okectl_script

from okectl.config.settings import load_settings
from okectl.engine.validate import validate_repository
from okectl.sandbox.seed import seed_in_sync
from tools.fleet import generate_fleet


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


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
        (repo / ".gitignore").write_text(".okectl/\n")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(
            repo, "-c", "user.name=Bench", "-c", "user.email=bench@example.org", "commit", "-q", "-m", "fleet"
        )
        applied = git(repo, "rev-parse", "HEAD")
        validated = validate_repository(repo)
        db = repo / ".okectl" / "sandbox.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        n = seed_in_sync(db, validated.resources, load_settings(repo).repository, commit=applied)
        changed = change_one_percent(db)
        print(
            f"fleet: {len(validated.state.schools)} schools, {n} resources applied from {applied[:7]}; "
            f"{changed} changed"
        )

        # Taking turns, so a busy machine weighs on all three alike.
        (t_validate, _), (t_plan, m_plan), (t_drift, m_drift) = timed(
            [okectl, "validate", "--repo", str(repo)],
            [okectl, "plan", "--repo", str(repo), "--detailed-exitcode"],
            [okectl, "drift", "--repo", str(repo), "--detailed-exitcode"],
            runs=args.runs,
        )
        cpu_validate, cpu_plan, cpu_drift = CPU["validate"], CPU["plan"], CPU["drift"]
        report = subprocess.run([okectl, "drift", "--repo", str(repo)], capture_output=True, text=True)
        last = report.stdout.strip().splitlines()[-1] if report.stdout.strip() else report.stderr[-500:]

        school = sorted((repo / "schools").glob("*.yaml"))[0]
        school.write_text(school.read_text() + "# reviewed\n")
        git(repo, "-c", "user.name=Bench", "-c", "user.email=bench@example.org", "commit", "-qam", "ahead")
        [(t_ahead, m_ahead)] = timed(
            [okectl, "drift", "--repo", str(repo), "--detailed-exitcode"], runs=args.runs
        )
        cpu_ahead = CPU["drift"]

    print(f"okectl validate:                 {t_validate * 1000:8.0f} ms")
    print(f"okectl plan, 1% changed:         {t_plan * 1000:8.0f} ms  (peak {m_plan / 2**20:.0f} MB)")
    print(
        f"okectl drift, at the commit:     {t_drift * 1000:8.0f} ms  (peak {m_drift / 2**20:.0f} MB)"
        f"  [{last}]"
    )
    print(f"okectl drift, a commit ahead:    {t_ahead * 1000:8.0f} ms  (peak {m_ahead / 2**20:.0f} MB)")
    print(
        f"ratio drift / plan:              {t_drift / t_plan:.2f} wall, "
        f"{cpu_drift / cpu_plan:.2f} CPU  (target <= 1.2)"
    )
    print(
        f"ratio drift ahead / (plan + validate): {t_ahead / (t_plan + t_validate):.2f} wall, "
        f"{cpu_ahead / (cpu_plan + cpu_validate):.2f} CPU  (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
