"""The `chromium` fixture: a browser test skips without chromium, unless CI requires the browser.

Each case runs pytest in a subprocess on a one-test file, with a PATH that holds either nothing
or a stand-in chromium, so the outcome does not depend on what this machine has installed.
`.ci/run` is run the same way, with stand-ins for apt-get and python3.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.repos import PROJECT

BROWSER_TEST = """
import os


def test_uses_the_browser(chromium):
    assert chromium == os.environ["EXPECTED_BROWSER"]
"""


def _run_browser_test(tmp_path: Path, *, on_path: str | None, require: str | None) -> tuple[int, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    expected = ""
    if on_path is not None:
        fake = bin_dir / on_path
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
        expected = str(fake)
    (tmp_path / "test_one.py").write_text(BROWSER_TEST)
    env = {k: v for k, v in os.environ.items() if k != "OKECTL_REQUIRE_BROWSER"}
    env.update(PATH=str(bin_dir), PYTHONPATH=str(PROJECT), EXPECTED_BROWSER=expected)
    if require is not None:
        env["OKECTL_REQUIRE_BROWSER"] = require
    result = subprocess.run(
        # The fixture comes from the suite's own conftest, loaded as a plugin.
        [sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "test_one.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("require", [None, "0"])
def test_without_chromium_a_browser_test_is_skipped_and_says_why(tmp_path: Path, require: str | None) -> None:
    code, out = _run_browser_test(tmp_path, on_path=None, require=require)

    assert code == 0, out
    assert re.search(r"^1 skipped", out, re.M), out
    assert "SKIPPED" in out and "no browser: none of chromium, chromium-browser is on PATH" in out
    assert "apt-get install chromium" in out
    assert "OKECTL_REQUIRE_BROWSER=1 makes this a failure" in out


def test_without_chromium_a_browser_test_fails_when_the_browser_is_required(tmp_path: Path) -> None:
    code, out = _run_browser_test(tmp_path, on_path=None, require="1")

    # The fixture fails, so pytest reports an error in the test's setup: exit code 1, not a skip.
    assert code == 1, out
    assert re.search(r"^1 error", out, re.M), out
    assert "ERROR test_one.py::test_uses_the_browser" in out
    assert "OKECTL_REQUIRE_BROWSER=1 requires it" in out


@pytest.mark.parametrize(("name", "require"), [("chromium", "1"), ("chromium-browser", None)])
def test_a_chromium_on_path_is_handed_to_the_test(tmp_path: Path, name: str, require: str | None) -> None:
    code, out = _run_browser_test(tmp_path, on_path=name, require=require)

    assert code == 0, out
    assert re.search(r"^1 passed", out, re.M), out


def _run_ci_script(tmp_path: Path, apt_get_exit: int) -> tuple[int, str]:
    """Run .ci/run with stand-ins for apt-get, python3 and lint-imports on a PATH that has no chromium."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(PROJECT / ".ci" / "run", tmp_path / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    stand_ins = {
        "apt-get": f'echo "apt-get $*" >> "{log}"\nexit {apt_get_exit}\n',
        "python3": f'echo "python3 $* REQUIRE=${{OKECTL_REQUIRE_BROWSER:-unset}}" >> "{log}"\n',
        "lint-imports": f'echo "lint-imports $*" >> "{log}"\n',
    }
    for name, body in stand_ins.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    dirname = shutil.which("dirname")
    assert dirname is not None
    (bin_dir / "dirname").symlink_to(dirname)
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, str(tmp_path / ".ci" / "run")],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, log.read_text() if log.exists() else ""


def test_ci_installs_chromium_and_requires_it_for_the_tests(tmp_path: Path) -> None:
    code, calls = _run_ci_script(tmp_path, apt_get_exit=0)

    assert code == 0, calls
    assert "apt-get install -y -qq chromium" in calls
    python_calls = [line for line in calls.splitlines() if line.startswith("python3 ")]
    assert any(" -m pytest" in line for line in python_calls)
    assert python_calls and all(line.endswith("REQUIRE=1") for line in python_calls), calls


def test_ci_stops_when_chromium_cannot_be_installed(tmp_path: Path) -> None:
    code, calls = _run_ci_script(tmp_path, apt_get_exit=100)

    assert code != 0
    assert "apt-get" in calls
    assert "python3" not in calls
