"""The request-age rule kind: an overdue request is a warning, an escalated one an error
in policy check (exit 3), and a waiver lifts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from okectl.requests.writer import WrittenRequest
from tests.support.cli import run_cli

RULE = "rules:\n  - id: chase-requests\n    kind: request-age\n"
WAIVER = """
waivers:
  - policy: chase-requests
    target: deskonly/25LV
    reason: the supplier confirmed by phone, the ticket follows
    owner: adoptie@example.nl
    expires: 2027-03-01
"""


@pytest.fixture
def ruled(requested: tuple[Path, WrittenRequest]) -> tuple[Path, WrittenRequest]:
    repo, written = requested
    (repo / "policies/rules.yaml").write_text(RULE)
    return repo, written


@pytest.mark.parametrize(
    ("today", "exit_code", "expected"),
    [
        ("2026-12-03", 0, None),  # 5 days: within the SLA
        ("2026-12-04", 0, "warning[chase-requests] deskonly/25LV: change request {id} has waited 6 days"),
        ("2026-12-09", 3, "error[chase-requests] deskonly/25LV: change request {id} has waited 11 days"),
    ],
)
def test_age_against_the_sla_and_the_escalation(
    ruled: tuple[Path, WrittenRequest],
    monkeypatch: pytest.MonkeyPatch,
    today: str,
    exit_code: int,
    expected: str | None,
) -> None:
    repo, written = ruled
    monkeypatch.setenv("OKECTL_TODAY", today)
    result = run_cli("policy", "check", "--repo", str(repo))
    assert result.exit_code == exit_code, result.out + result.err
    if expected is None:
        assert "chase-requests" not in result.out
    else:
        [line] = [ln for ln in result.out.splitlines() if "chase-requests" in ln]
        assert line.startswith("schools/25LV.yaml:7:3: ")
        assert expected.format(id=written.id) in line


def test_a_waiver_lifts_an_escalated_request(
    ruled: tuple[Path, WrittenRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = ruled
    (repo / "policies/waivers.yaml").write_text(WAIVER)
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-09")
    result = run_cli("policy", "check", "--repo", str(repo))
    assert result.exit_code == 0, result.out + result.err


def test_a_confirmed_request_is_not_chased(
    ruled: tuple[Path, WrittenRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, written = ruled
    assert run_cli("requests", "confirm", written.id, "--ref", "DESK-2", "--repo", str(repo)).exit_code == 0
    monkeypatch.setenv("OKECTL_TODAY", "2027-02-01")
    result = run_cli("policy", "check", "--repo", str(repo))
    assert result.exit_code == 0 and "chase-requests" not in result.out
