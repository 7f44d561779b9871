"""plan and apply as a person sees them: in a real pseudo-terminal, and through a pipe.

The command runs in a child process whose standard streams are the slave side of a pty,
so it decides for itself that it is on a terminal, exactly as in a user's shell.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.support.repos import EXAMPLE_TODAY, PROJECT

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith(("linux", "darwin")), reason="needs a POSIX pty"),
]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLOUR = re.compile(r"\x1b\[[0-9;]*3[1-7]m")  # a foreground colour


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(PROJECT),
        "OKECTL_TODAY": EXAMPLE_TODAY,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    return {**env, **extra}


def in_terminal(
    args: list[str], *, cwd: Path, env: dict[str, str], answer: tuple[str, str] | None = None
) -> tuple[int, str]:
    """Run okectl in a pseudo-terminal of 140 columns; give ``answer[1]`` when the output
    shows ``answer[0]``. Everything the terminal received, and the exit code."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "okectl", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
            if answer is not None and answer[0].encode() in b"".join(chunks):
                os.write(master, answer[1].encode())
                answer = None
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def through_a_pipe(args: list[str], *, cwd: Path, env: dict[str, str], stdin: str = "") -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "okectl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=90,
    )
    return done.returncode, done.stdout + done.stderr


def test_plan_in_a_terminal_has_colours_and_read_progress(example_repo: Path) -> None:
    code, screen = in_terminal(["plan"], cwd=example_repo / "schools", env=_env({}))
    assert code == 0, screen
    assert COLOUR.search(screen), "the plan is coloured on a terminal"
    assert "\x1b[32m+ eduplan/42DE/production" in screen  # creations in green
    assert "\x1b[31m- delta-toets/23KM/chain-test" in screen  # deletions in red
    # The live read display: a line per supplier, erased once the plan is shown.
    assert "reading delta-toets" in screen and "✓ delta-toets: done" in ANSI.sub("", screen)
    plain = ANSI.sub("", screen)
    assert "okectl plan · repository example" in plain
    assert re.search(r"Plan: \d+ to create, \d+ to adopt, \d+ to update, \d+ to delete", plain)


def test_plan_through_a_pipe_has_neither_colours_nor_progress(example_repo: Path) -> None:
    code, out = through_a_pipe(["plan"], cwd=example_repo, env=_env({}))
    assert code == 0, out
    assert "\x1b[" not in out
    assert "reading delta-toets" not in out and "delta-toets: done" not in out
    assert out.startswith("okectl plan · repository example")


def test_apply_in_a_terminal_asks_and_shows_a_live_bar(
    example_repo: Path, example_secrets: dict[str, str]
) -> None:
    code, screen = in_terminal(
        ["apply"],
        cwd=example_repo,
        env=_env(example_secrets),
        answer=("Only 'yes' is accepted", "yes\n"),
    )
    assert code == 0, screen
    plain = ANSI.sub("", screen)
    counted = r"Plan: (\d+) to create, (\d+) to adopt, (\d+) to update, (\d+) to delete"
    found = re.search(counted + r" \((\d+) by change request\)", plain)
    assert found is not None
    *counts, requested = (int(n) for n in found.groups())
    changes = sum(counts)
    applied = changes - requested
    assert "Apply these changes? Only 'yes' is accepted: yes" in plain
    # The bar, with its counts and times, complete at the end: the suppliers with an API
    # written, the others' changes requested from their support desks.
    done = f"{applied} applied, {requested} requested"
    bar = rf"Applying .*{changes}/{changes} {done} elapsed [\d:]+ left [\d:]+"
    assert re.search(bar, plain), plain[-800:]
    assert COLOUR.search(screen)
    assert "\x1b[?25l" in screen, "the live display hides the cursor while it runs"
    # No line per write on a terminal: the bar stands for them.
    assert "delta-toets/23KM/chain-test: deleted" not in plain
    assert f"Apply: {applied} applied, {requested} requested, 0 failed" in plain


def test_apply_through_a_pipe_prints_a_line_per_write_without_colour(
    example_repo: Path, example_secrets: dict[str, str]
) -> None:
    code, out = through_a_pipe(["apply"], cwd=example_repo, env=_env(example_secrets), stdin="yes\n")
    assert code == 0, out
    assert "\x1b[" not in out and "Applying" not in out
    assert "delta-toets/23KM/chain-test: deleted\n" in out
    assert "eduplan/42DE/production: created\n" in out


def test_declining_in_a_terminal_exits_1(example_repo: Path) -> None:
    code, screen = in_terminal(
        ["apply"], cwd=example_repo, env=_env({}), answer=("Only 'yes' is accepted", "no\n")
    )
    assert code == 1
    assert "Apply cancelled." in ANSI.sub("", screen)
    assert not (example_repo / ".okectl" / "runs").exists()


@pytest.mark.parametrize("args", [["releases"], ["import", "--supplier", "campusnet"]])
def test_long_reads_show_progress_on_a_terminal_only(example_repo: Path, args: list[str]) -> None:
    _, screen = in_terminal(args, cwd=example_repo, env=_env({}))
    supplier = "campusnet" if "import" in args else "delta-toets"
    assert f"✓ {supplier}: done" in ANSI.sub("", screen), screen[:1500]
    _, out = through_a_pipe(args, cwd=example_repo, env=_env({}))
    assert f"{supplier}: done" not in out and "\x1b[" not in out
