"""okectl's command line (and the action's, and a development tool's) run in-process, as a
user runs it, and what it said."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from okectl.cli import main

# The line `okectl validate` prints for a valid repository, its counts in groups.
SUMMARY = re.compile(
    r"valid: (\d+) schools, (\d+) suppliers, (\d+) profiles; (\d+) resources "
    r"\((\d+) environments, (\d+) clients, (\d+) roles\)"
)


@dataclass
class CliResult:
    exit_code: int
    out: str
    err: str


def run_main(entry: Callable[[list[str]], int], *args: str) -> CliResult:
    """Run a command line's entry point in-process with ``args``: what it printed and its exit
    code (okectl's, the action's, a development tool's)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = entry(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli(*args: str) -> CliResult:
    """Run okectl in-process, as a user would on the command line."""
    return run_main(main, *args)


def clean_failure(result: CliResult) -> list[str]:
    """The error lines of a command that failed as it should: exit 1, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.out, result.err)
    assert "Traceback" not in result.err
    return result.err.strip().splitlines()


# The problem lines of `okectl validate` on a repository that must fail cleanly (the
# `validate` and `problems` fixtures).
Validate = Callable[[Path], list[str]]
Problems = Validate
