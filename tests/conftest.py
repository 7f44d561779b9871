"""Fixtures shared by every test area."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from okectl.cli import main

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE_PARTS = ("schools", "suppliers", "environments", "policies", "sandbox")


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


def renew_waivers(repo: Path, *, days: int = 365) -> None:
    """Move every waiver's expiry to `days` from today, as the adoption team would renew
    them: the tests then behave the same on any day, not only until the example's waivers
    run out."""
    path = repo / "policies" / "waivers.yaml"
    later = (date.today() + timedelta(days=days)).isoformat()
    text, n = re.subn(r"(?m)^(\s+expires:\s*)\d{4}-\d{2}-\d{2}", rf"\g<1>{later}", path.read_text())
    assert n, f"{path} has no waiver expiry to renew"
    path.write_text(text)


@pytest.fixture
def example_repo(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the example repository (state under .okectl/ starts empty), its
    waivers renewed so that no test depends on the calendar."""
    dest = tmp_path / "example"
    dest.mkdir()
    for part in EXAMPLE_PARTS:
        src = PROJECT / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
    shutil.copy(PROJECT / "okectl.yaml", dest / "okectl.yaml")
    renew_waivers(dest)
    yield dest
