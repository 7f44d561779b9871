"""`okectl verify` on a fresh copy of the example repository, against the embedded sandbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from tests.support.cli import CliResult


def test_the_example_verifies_in_process(
    example_repo: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)
    result = cli("verify", "--repo", str(example_repo), "--supplier", "eduplan", "--school", "30GZ")
    assert result.exit_code == 0, result.out + result.err
    assert "eduplan/30GZ/production  tpl  OKE 1.0.1 (OOAPI 5.0)  ok" in result.out
    assert "is a loopback sandbox: exempt from https and certificate checks" in result.out
    # The seed's drift is found: delta-toets's production at 44TW still runs OKE 1.0.
    drift = cli(
        "verify", "--repo", str(example_repo), "--supplier", "delta-toets", "--school", "44TW", "--level", "2"
    )
    assert drift.exit_code == 4
    assert "version drift: the repository declares OKE 1.0.1, GET / says OKE 1.0" in drift.out
