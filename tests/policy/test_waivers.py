"""Waivers: what they match, expiry on a fixed clock, and how waived findings are reported."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from okectl.policy.findings import PolicyReport

Repo = Callable[..., Path]
Check = Callable[..., PolicyReport]

RULES = "- {id: certified, kind: certification}"
# toets is not certified for 1.0.1, which 10AA runs in production.
NOT_CERTIFIED = {
    "suppliers/toets.yaml": [('{oke: "1.0.1", status: certified}', '{oke: "1.0.1", status: in-progress}')]
}


def with_waiver(repo: Repo, waiver: str) -> Path:
    return repo(
        RULES,
        edit=NOT_CERTIFIED,
        files={"policies/waivers.yaml": "waivers:\n  - " + waiver.strip().replace("\n", "\n    ") + "\n"},
    )


def waiver(target: str, expires: str = "2027-03-31") -> str:
    return f"""
        policy: certified
        {target}
        reason: certification audit for 1.0.1 is done, the report is due
        owner: adoption team <adoptie@npuls.example>
        expires: {expires}
        """.replace("        ", "")


def test_without_a_waiver_the_finding_is_an_error(repo: Repo, check: Check) -> None:
    report = check(repo(RULES, edit=NOT_CERTIFIED))
    assert [f.address for f in report.errors] == ["toets/10AA/production"]
    assert report.summary() == "policy check failed: 1 rules; 1 error(s), 0 warning(s), 0 waived"


@pytest.mark.parametrize(
    "target",
    [
        "target: toets/10AA/production",
        "target: toets/10AA",
        "target: toets",
        "target: 10AA",
        "target: 'toets/*/production'",
        "select: {suppliers: [toets], environment_types: [production]}",
        "select: {schools: ['1*']}",
    ],
)
def test_a_waiver_matching_the_finding_waives_it(repo: Repo, check: Check, target: str) -> None:
    report = check(with_waiver(repo, waiver(target)))
    assert report.errors == []
    (finding,) = report.waived
    assert finding.address == "toets/10AA/production"
    assert finding.waived_by is not None
    assert (finding.waived_by.path, finding.waived_by.line, finding.waived_by.col) == (
        "policies/waivers.yaml",
        2,
        5,
    )
    assert report.unused_waivers == []
    assert report.summary() == "policy check passed: 1 rules; 0 error(s), 0 warning(s), 1 waived"


@pytest.mark.parametrize(
    "target",
    [
        "target: toets/10AA/acceptance",
        "target: toets/10A",
        "target: plan",
        "select: {suppliers: [toets], environment_types: [acceptance]}",
    ],
)
def test_a_waiver_for_something_else_waives_nothing_and_is_reported_unused(
    repo: Repo, check: Check, target: str
) -> None:
    report = check(with_waiver(repo, waiver(target)))
    assert [f.address for f in report.errors] == ["toets/10AA/production"]
    assert [str(w) for w in report.unused_waivers] == [
        "policies/waivers.yaml:2:5: warning[waiver] waiver for certified matches no finding; remove it "
        "(owner: adoption team <adoptie@npuls.example>)"
    ]


def test_a_waiver_is_valid_through_its_expiry_date(repo: Repo, check: Check) -> None:
    root = with_waiver(repo, waiver("target: toets", expires="2026-11-28"))
    assert check(root, today=date(2026, 11, 28)).errors == []


def test_an_expired_waiver_stops_waiving_and_is_reported(repo: Repo, check: Check) -> None:
    root = with_waiver(repo, waiver("target: toets", expires="2026-11-27"))
    report = check(root, today=date(2026, 11, 28))
    assert [f.address for f in report.errors] == ["toets/10AA/production"]
    assert report.waived == []
    assert report.unused_waivers == []
    assert [str(w) for w in report.expired_waivers] == [
        "policies/waivers.yaml:2:5: warning[waiver] waiver for certified expired on 2026-11-27 and no longer "
        "applies; renew it with a new date or fix the findings (owner: adoption team <adoptie@npuls.example>)"
    ]
    assert report.summary() == (
        "policy check failed: 1 rules; 1 error(s), 0 warning(s), 0 waived, 1 expired waiver(s)"
    )


def test_policy_check_exit_code_follows_the_clock(repo: Repo, cli: Callable[..., Any]) -> None:
    root = with_waiver(repo, waiver("target: toets", expires="2027-03-31"))
    before = cli("policy", "check", "--repo", str(root), "--today", "2027-03-31")
    after = cli("policy", "check", "--repo", str(root), "--today", "2027-04-01")
    assert before.exit_code == 0
    assert "waived (1):" in before.out
    assert after.exit_code == 3
    assert after.out.splitlines()[0] == (
        "schools/10AA.yaml:15:18: error[certified] toets/10AA/production: toets is not certified for OKE "
        "1.0.1 (certification: in-progress); production runs only on certified versions"
    )
    assert (
        "policies/waivers.yaml:2:5: warning[waiver] waiver for certified expired on 2027-03-31" in after.out
    )


def test_warnings_alone_do_not_fail_the_check(repo: Repo, cli: Callable[..., Any]) -> None:
    root = repo("- {id: certified, kind: certification, severity: warning}", edit=NOT_CERTIFIED)
    result = cli("policy", "check", "--repo", str(root), "--today", "2026-11-28")
    assert result.exit_code == 0
    assert result.out.endswith("\npolicy check passed: 1 rules; 0 error(s), 1 warning(s), 0 waived\n")
