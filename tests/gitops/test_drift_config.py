"""The drift: field of a supplier file: one mode for every kind, or one per kind; a
mistake is one line at its place, as every other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.engine.workspace import load_workspace
from tests.support.cli import run_cli
from tests.support.drift_fleet import fleet_files


@pytest.mark.parametrize(
    ("written", "modes"),
    [
        (None, ("detect", "detect", "detect")),
        ("heal", ("heal", "heal", "heal")),
        ("{environment: heal, role: accept, client: detect}", ("heal", "detect", "accept")),
        ("{client: accept}", ("detect", "accept", "detect")),
    ],
)
def test_one_mode_for_every_kind_or_one_per_kind(
    build_tree: Callable[[dict[str, str]], Path], written: str | None, modes: tuple[str, str, str]
) -> None:
    files = fleet_files(written or "detect")
    if written is None:
        files["suppliers/delta.yaml"] = files["suppliers/delta.yaml"].replace("drift: detect\n", "")
    supplier = load_workspace(build_tree(files)).state.suppliers["delta"]

    assert tuple(supplier.drift_mode(kind) for kind in ("environment", "client", "role")) == modes


HELP = (
    "write detect, heal or accept, or one per resource kind, "
    "e.g. {environment: heal, client: detect, role: accept}"
)


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("hael", f"suppliers/delta.yaml:9:8: drift: 'hael' is not a drift mode; {HELP}"),
        (
            "{environment: heal, role: acept}",
            "suppliers/delta.yaml:9:34: drift.role: 'acept' is not one of detect, heal, accept; "
            "did you mean 'accept'?",
        ),
        (
            "{enviroment: heal}",
            "suppliers/delta.yaml:9:9: unknown field 'enviroment'; did you mean 'environment'?",
        ),
        ("[heal]", f"suppliers/delta.yaml:9:8: drift: not a drift mode; {HELP}"),
    ],
)
def test_a_mistake_is_one_line_at_its_place(
    build_tree: Callable[[dict[str, str]], Path], written: str, problem: str
) -> None:
    result = run_cli("validate", "--repo", str(build_tree(fleet_files(written))))

    assert (result.exit_code, result.err) == (1, problem + "\n")


def test_acting_on_drift_needs_an_api(build_tree: Callable[[dict[str, str]], Path]) -> None:
    files = fleet_files("{client: heal, role: accept}")
    files["suppliers/delta.yaml"] = files["suppliers/delta.yaml"].replace(
        "    api: {provider: sandbox}\n", ""
    )
    # Without an api the supplier's connections are verified only.
    root = build_tree(files)

    result = run_cli("validate", "--repo", str(root))

    assert result.exit_code == 1
    assert result.err == (
        "suppliers/delta.yaml:8:8: drift: accept and heal need an api; a supplier without one is verified "
        "only, so okectl finds no drift there to act on\n"
    )
