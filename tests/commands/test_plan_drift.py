"""Version drift that okectl verify recorded shows in okectl plan."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cli import CliResult
from tests.support.verify import Served

Cli = Callable[..., CliResult]


def test_recorded_version_drift_shows_in_the_plan(served: Served, cli: Cli) -> None:
    root = str(served.root)
    plain = cli("plan", "--repo", root, "--supplier", "toets")
    assert plain.exit_code == 0 and "Version drift" not in plain.out

    served.faults("toets/10AA/production", claim_version="1.0")
    verified = cli("verify", "--repo", root, "--supplier", "toets", "--level", "2", "--record")
    assert verified.exit_code == 4
    assert "recorded: " in verified.err

    text = cli("plan", "--repo", root, "--supplier", "toets")
    assert text.exit_code == 0
    assert text.out.endswith(
        "Version drift found by okectl verify (2026-11-28):\n"
        "  toets/10AA/production: declares OKE 1.0.1, GET / says OKE 1.0\n"
    )
    markdown = cli("plan", "--repo", root, "--supplier", "toets", "--output", "markdown")
    assert "### Version drift (okectl verify, 2026-11-28)" in markdown.out
    assert "- `toets/10AA/production`: declares OKE 1.0.1, `GET /` says OKE 1.0" in markdown.out
    # Another supplier's plan, or a school outside the drift, shows none of it.
    assert "Version drift" not in cli("plan", "--repo", root, "--supplier", "plan").out

    served.reset()
    again = cli("verify", "--repo", root, "--supplier", "toets", "--level", "2", "--record")
    assert again.exit_code == 0
    assert "Version drift" not in cli("plan", "--repo", root, "--supplier", "toets").out
