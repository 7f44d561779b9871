"""The `verified` rule kind reads the record `okectl verify --record` keeps under verification/."""

from __future__ import annotations

import json
from collections.abc import Callable

Findings = Callable[..., list[str]]
RULE = "- {id: verified, kind: verified, params: {min_level: 3, max_age_days: 30}}"


def record(supplier: str, **versions: dict[str, object]) -> dict[str, str]:
    doc = {"supplier": supplier, "oke_versions": {k.replace("_", "."): v for k, v in versions.items()}}
    return {f"verification/{supplier}.json": json.dumps(doc)}


def entry(date: str, passed: int) -> dict[str, object]:
    return {"date": date, "level": 3, "passed_level": passed, "status": "pass" if passed >= 3 else "fail"}


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
