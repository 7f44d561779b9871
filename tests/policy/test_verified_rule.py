"""The `verified` rule kind reads the record `okectl verify --record` keeps under verification/."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.errors import OkectlError
from tests.support.policy import Check, Repo

Findings = Callable[..., list[str]]
RULE = "- {id: verified, kind: verified, params: {min_level: 3, max_age_days: 30}}"


def record(supplier: str, **versions: dict[str, object]) -> dict[str, str]:
    doc = {"supplier": supplier, "oke_versions": {k.replace("_", "."): v for k, v in versions.items()}}
    return {f"verification/{supplier}.json": json.dumps(doc)}


def entry(date: str, passed: int) -> dict[str, object]:
    status = "pass" if passed >= 3 else "fail"
    return {"date": date, "level": max(3, passed), "passed_level": passed, "status": status}


def test_production_needs_a_recorded_passing_verification(findings: Findings) -> None:
    found = findings(RULE)
    assert (
        "error[verified] toets/10AA/production: toets on OKE 1.0.1: no verification is recorded; "
        "production needs okectl verify --record passing level 3 or higher within 30 days" in "\n".join(found)
    )
    assert all("/production" in line for line in found)
    passing = {
        **record("toets", **{"1_0_1": entry("2026-11-20", 3)}),
        **record("plan", **{"1_0_1": entry("2026-11-20", 4)}),
    }
    assert findings(RULE, files=passing) == []


def test_a_verification_too_low_or_too_old_does_not_count(findings: Findings) -> None:
    low = findings(RULE, files={**record("toets", **{"1_0_1": entry("2026-11-20", 2)})})
    assert any("toets on OKE 1.0.1: the recorded verification passed level 2 only" in f for f in low)
    old = findings(RULE, files={**record("toets", **{"1_0_1": entry("2026-09-01", 3)})})
    assert any("the recorded verification of 2026-09-01 is older than 30 days" in f for f in old)


def test_a_verification_dated_after_today_does_not_count(findings: Findings) -> None:
    # The day after is a time zone ahead: not believed as a pass, but no record of a run
    # that cannot have happened yet either (that one is refused whole).
    future = findings(RULE, files={**record("toets", **{"1_0_1": entry("2026-11-29", 4)})})
    assert any("the recorded verification is dated 2026-11-29, after today" in f for f in future)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '{"oke_versions": {"1.0.1": {"date": "yesterday", "level": 3, "passed_level": 3, '
            '"status": "x"}}}',
            "not a verification record",
        ),
        (
            '{"oke_versions": {"1.0.1": {"date": "2026-11-20", "level": 3, "passed_level": "hi", '
            '"status": "x"}}}',
            "not a verification record",
        ),
        ('{"supplier": "toets"}', "not a verification record"),
        ("[1, 2", "not a verification record"),
    ],
)
def test_a_record_that_is_not_one_is_an_error_naming_it(
    repo: Repo, check: Check, text: str, reason: str
) -> None:
    root = repo(RULE, files={"verification/toets.json": text})
    with pytest.raises(OkectlError, match=rf"^verification/toets.json: {reason}"):
        check(root)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("hazard", ["fifo", "dev-zero", "broken-link", "outside"])
def test_a_record_that_cannot_be_read_is_an_error_never_an_absence(
    repo: Repo, check: Check, tmp_path: Path, hazard: str
) -> None:
    root = repo(RULE)
    path = root / "verification" / "toets.json"
    path.parent.mkdir(exist_ok=True)
    if hazard == "fifo":
        os.mkfifo(path)
    elif hazard == "dev-zero":
        path.symlink_to("/dev/zero")
    elif hazard == "broken-link":
        path.symlink_to(root / "nowhere.json")
    else:
        (tmp_path / "elsewhere.json").write_text(json.dumps(record("toets")["verification/toets.json"]))
        path.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(OkectlError, match=r"^verification/toets.json:1:1: ") as info:
        check(root)
    assert len(str(info.value).splitlines()) == 1
