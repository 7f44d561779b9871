"""`okectl --version` is answered before click loads, in the very words click's option uses."""

from __future__ import annotations

import subprocess
import sys

from okectl import __version__
from tests.support.cli import run_cli

# Says on the way out whether click was loaded.
QUICK = (
    "import atexit, sys; atexit.register(lambda: print('click' in sys.modules, file=sys.stderr)); "
    "from okectl.cli import run; run()"
)


def test_the_quick_answer_to_version_is_clicks_answer() -> None:
    quick = subprocess.run(
        [sys.executable, "-c", QUICK, "--version"],
        capture_output=True, text=True, timeout=60,
    )
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout == f"okectl, version {__version__}\n"
    assert quick.stderr == "False\n"
    through_click = run_cli("--version")
    assert through_click.exit_code == 0
    assert through_click.out == quick.stdout


def test_the_version_is_the_installed_packages() -> None:
    from importlib.metadata import version

    assert version("okectl") == __version__
