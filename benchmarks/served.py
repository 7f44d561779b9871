"""The sandbox served as a real server in its own process, as a supplier would be, for the
benchmarks that measure okectl over sockets."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def okectl_script() -> str:
    """The okectl console script of this Python (not a version manager's shim in front of
    it), or the one on PATH; exits when there is none."""
    import shutil

    script = Path(sys.executable).with_name("okectl")
    if script.exists():
        return str(script)
    return shutil.which("okectl") or sys.exit("okectl is not installed: pip install -e .")


def start_server(
    db: Path, latency_ms: float, *, control: bool = False, rate_limit: float = 0
) -> tuple[subprocess.Popen[str], str]:
    """``okectl sandbox serve`` on a free port; returns the process and the URL it printed.
    ``rate_limit``: requests per second per supplier before the server answers 429."""
    # This checkout first, whatever else the caller put on the path.
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    cmd = [
        sys.executable, "-m", "okectl", "sandbox", "serve", "--port", "0", "--db", str(db),
        "--latency-ms", str(latency_ms), "--rate-limit", str(rate_limit), *(["--control"] if control else []),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        found = re.search(r"Sandbox supplier at (\S+)", line)
        if found:
            return proc, found.group(1)
        if not line and proc.poll() is not None:
            detail = proc.stderr.read() if proc.stderr else ""
            raise SystemExit(f"the sandbox server stopped: {detail}")
    proc.kill()
    raise SystemExit("the sandbox server did not start")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used; Linux's /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
