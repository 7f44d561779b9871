"""Confirmation and exit codes of apply and plan, as a Terraform user expects them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    # A pipe, not a terminal: StringIO.isatty() is False.
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_declining_the_confirmation_exits_1_and_changes_nothing(
    example_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, "no\n")
    result = run_cli("apply", "--repo", str(example_repo))
    assert result.exit_code == 1
    assert "Apply these changes? Only 'yes' is accepted: no\nApply cancelled.\n" in result.out
    assert not (example_repo / ".okectl" / "runs").exists()
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 2


def test_yes_is_accepted_from_standard_input_that_is_not_a_terminal(
    example_repo: Path, example_secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, "yes\n")
    result = run_cli("apply", "--repo", str(example_repo))
    assert result.exit_code == 0, result.err
    assert "Apply: " in result.out and " 0 failed" in result.out
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 0


def test_empty_standard_input_is_no_confirmation(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, "")
    result = run_cli("apply", "--repo", str(example_repo))
    assert result.exit_code == 1
    assert result.err.strip() == (
        "refusing to apply without confirmation: standard input is empty; "
        "answer 'yes' on it or pass --auto-approve (for CI)"
    )
    assert not (example_repo / ".okectl" / "runs").exists()


def _break_policy(repo: Path) -> None:
    school = repo / "schools" / "27NH.yaml"
    school.write_text(
        school.read_text().replace(
            "    profile: standard\n",
            '    profile: standard\n    environments:\n      production: {sso: "off"}\n',
            1,
        )
    )


def test_detailed_exitcode_is_3_when_policy_errors_would_stop_apply(example_repo: Path) -> None:
    _break_policy(example_repo)
    assert run_cli("plan", "--repo", str(example_repo), "--detailed-exitcode").exit_code == 3
    # Without the flag a plan is a report: it succeeds and shows the errors.
    plan = run_cli("plan", "--repo", str(example_repo))
    assert plan.exit_code == 0 and "[sso-never-off-in-production]" in plan.out
    doc = json.loads(run_cli("plan", "--repo", str(example_repo), "-o", "json").out)
    assert any(f["severity"] == "error" for f in doc["findings"])
