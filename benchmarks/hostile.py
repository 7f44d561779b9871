"""What a hostile supplier costs a run: peak memory and wall time of `okectl plan` against
the hostile supplier double (tests/support/hostile.py, a real server on loopback) whose
tenant listing is a gzip bomb (10 GiB of zeros), an endless body, a body announced as
1.5 GiB, or a trickle of one byte every 2 s; against the same server answering normally
(the baseline, measured in the same run). Whole commands, as a user runs them.

Target: every hostile run ends with exit 1 and one line; its peak memory is at most the
baseline's plus 1.25 x api.limits.max_answer_bytes (16 MiB by default: what okectl may hold
of one answer) and its wall time within the baseline's plus api.timeout_seconds +
api.limits.max_retry_seconds.

    python benchmarks/hostile.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from served import okectl_script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.hostile import API_SECRET, Hostility, hostile_supplier  # noqa: E402
from tests.support.repos import BASE, delta_with, write_tree  # noqa: E402

MAX_ANSWER = 16 << 20
TIMEOUT, RETRY = 3.0, 6.0
CASES = {
    "baseline": Hostility("echo", at="^never$"),
    "gzip-bomb": Hostility("gzip-bomb", at=r"GET .*/tenants$"),
    "endless": Hostility("endless", at=r"GET .*/tenants$"),
    "huge-length": Hostility("huge-length", at=r"GET .*/tenants$"),
    "slow-loris": Hostility("slow-loris", at=r"GET .*/tenants$"),
}


def run(okectl: str, repo: Path) -> tuple[int, float, int, str]:
    """Exit code, wall time, peak RSS (bytes) and stderr of `okectl plan` on the repo."""
    env = {**os.environ, "DELTA_SECRET": "cl!ent/s3cret+value=ö&x 123", "DELTA_API_SECRET": API_SECRET}
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [okectl, "plan", "--repo", str(repo)], stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.monotonic() - started
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux.
    return os.waitstatus_to_exitcode(status), took, usage.ru_maxrss * 1024, text


def main() -> int:
    okectl = okectl_script()
    results: dict[str, tuple[int, float, int, str]] = {}
    with tempfile.TemporaryDirectory(prefix="okectl-hostile-") as tmp:
        for name, hostility in CASES.items():
            folder = Path(tmp) / name
            with hostile_supplier(folder / "supplier", hostility) as served:
                files = dict(BASE)
                api = served.supplier_api_yaml("delta", "DELTA_API_SECRET")
                files["suppliers/delta.yaml"] = delta_with(api)
                repo = write_tree(folder / "repo", files)
                results[name] = run(okectl, repo)
    base_code, base_time, base_rss, base_err = results["baseline"]
    if base_code not in (0, 2):
        sys.exit(f"the baseline plan failed:\n{base_err}")
    print(f"{'case':<12} {'exit':>4} {'wall s':>8} {'peak MiB':>9} {'over baseline':>14}")
    ok = True
    for name, (code, took, rss, err) in results.items():
        extra = (rss - base_rss) / 2**20
        print(f"{name:<12} {code:>4} {took:>8.1f} {rss / 2**20:>9.1f} {extra:>+13.1f}M")
        if name == "baseline":
            continue
        lines = [x for x in err.splitlines() if x.strip()]
        within = rss <= base_rss + 1.25 * MAX_ANSWER and took <= base_time + TIMEOUT + RETRY + 2
        if code != 1 or len(lines) != 1 or "Traceback" in err or not within:
            ok = False
            print(f"  NOT MET: {err.strip()[:500]}")
        else:
            print(f"  {lines[0][:160]}")
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
