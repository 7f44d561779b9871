"""Fixtures shared by more than one test folder, and the pinned day every test runs on.

Fixtures are thin: what they build or serve is a function of ``tests.support``, which tests
import directly; a folder's own fixtures are in its own conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from tests.support.browser import REQUIRE_BROWSER, find_chromium, no_browser_reason
from tests.support.cli import CliResult, run_cli
from tests.support.git import GitRepo, init_repo
from tests.support.repos import EXAMPLE_TODAY, copy_example, secret_values, write_tree
from tests.support.sandbox import Sandbox, write_seed
from tests.support.serving import serve_in_background
from tests.support.verify import FILES, Served, serve_repository


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKECTL_TODAY", EXAMPLE_TODAY)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of chromium; skips the test without it, or fails it when OKECTL_REQUIRE_BROWSER=1."""
    found = find_chromium()
    if found is not None:
        return found
    reason = no_browser_reason()
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{reason}; {REQUIRE_BROWSER}=1 requires it", pytrace=False)
    pytest.skip(f"{reason}; {REQUIRE_BROWSER}=1 makes this a failure")


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture
def build_tree(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    def build(files: dict[str, str]) -> Path:
        return write_tree(tmp_path / "repo", files)

    return build


@pytest.fixture
def example_repo(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the example repository (state under .okectl/ starts empty)."""
    yield copy_example(tmp_path / "example")


@pytest.fixture
def example_secrets(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A value for every secret reference of the example, set, so every write can be made."""
    values = secret_values(example_repo)
    assert values, "the example repository should reference secrets"
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def example_sandbox(example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example's pre-harmonisation seed served over a real socket; every sandbox
    supplier of the example repository talks to it. Yields its URL."""
    seed = example_repo / "sandbox" / "seed.yaml"
    with serve_in_background(tmp_path / "sandbox.db", seed=seed, control=True) as url:
        monkeypatch.setenv(SANDBOX_URL_ENV, url)
        yield url


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """A configuration repository under git (``tests.support.git.init_repo``)."""

    def make(files: dict[str, str] | None = None, *, subdir: str = "") -> GitRepo:
        return init_repo(tmp_path / "git", files, subdir=subdir)

    return make


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    return write_seed(tmp_path / "seed.yaml")


@pytest.fixture
def sandbox(tmp_path: Path, seed_file: Path) -> Iterator[Sandbox]:
    """A fresh, seeded sandbox as a real uvicorn server for each test."""
    with serve_in_background(tmp_path / "sandbox.db", seed=seed_file, control=True) as url:
        yield Sandbox(url)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The verify repository (``tests.support.verify.FILES``) held by a sandbox server, one
    per test module."""
    yield from serve_repository(tmp_path_factory.mktemp("verify"), FILES)


@pytest.fixture
def served(module_server: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """The module's sandbox, faults and request log cleared, and okectl pointed at it."""
    module_server.reset()
    monkeypatch.setenv(SANDBOX_URL_ENV, module_server.url)
    yield module_server
    module_server.reset()
