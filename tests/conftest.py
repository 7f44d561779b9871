"""Fixtures shared by every test area."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from okectl.cli import main

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE_PARTS = ("schools", "suppliers", "environments", "policies", "sandbox", "state", "requests")


# The day the example repository describes: its waivers hold and OKE 1.0 is supported.
# Policies depend on the date, and no test should start failing when the calendar moves on.
EXAMPLE_TODAY = "2026-11-28"


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKECTL_TODAY", EXAMPLE_TODAY)


# Tests that render in a real browser need Debian's chromium. Without it they are skipped, so the
# README's test command passes on a fresh machine; CI installs it and sets this variable, which
# turns the skip into a failure.
REQUIRE_BROWSER = "OKECTL_REQUIRE_BROWSER"
BROWSER_NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The chromium executable on PATH, or None."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of chromium; skips the test without it, or fails it when OKECTL_REQUIRE_BROWSER=1."""
    found = find_chromium()
    if found is not None:
        return found
    reason = (
        f"no browser: none of {', '.join(BROWSER_NAMES)} is on PATH "
        "(install Debian's chromium: apt-get install chromium)"
    )
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason}; {REQUIRE_BROWSER}=1 requires it", pytrace=False)
    pytest.skip(f"{reason}; {REQUIRE_BROWSER}=1 makes this a failure")


@dataclass
class CliResult:
    exit_code: int
    out: str
    err: str


def run_cli(*args: str) -> CliResult:
    """Run okectl in-process, as a user would on the command line."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} under root; text is dedented so tests can inline YAML."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def build_tree(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    def build(files: dict[str, str]) -> Path:
        return write_tree(tmp_path / "repo", files)

    return build


@pytest.fixture
def example_repo(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the example repository (state under .okectl/ starts empty)."""
    dest = tmp_path / "example"
    dest.mkdir()
    for part in EXAMPLE_PARTS:
        src = PROJECT / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
    shutil.copy(PROJECT / "okectl.yaml", dest / "okectl.yaml")
    yield dest
