"""Validating answers: the served data, consumer extensions, offsets."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from okectl.verify.profiles import PROFILE_FILES, profile
from okectl.verify.schema import (
    consumer_problems,
    date_times_without_offset,
    extension_errors,
    schema_errors,
)

SERVED = {
    "component": ("/components/{componentId}", False),
    "offering": ("/offerings/{offeringId}", False),
    "association": ("/associations/{associationId}", False),
    "person": ("/persons/{personId}", False),
    "group": ("/groups/{groupId}", False),
    "organization": ("/organizations/{organizationId}", False),
    "member": ("/groups/{groupId}/members", True),
    "programme_association": ("/persons/{personId}/associations", True),
}


def served(version: str) -> dict[str, Any]:
    text = (resources.files("okectl.sandbox.oke") / "data" / f"oke-{version}.json").read_text(
        encoding="utf-8"
    )
    data: dict[str, Any] = json.loads(text)
    return data


def envelope(item: Any) -> dict[str, Any]:
    return {"pageSize": 10, "pageNumber": 1, "hasPreviousPage": False, "hasNextPage": False, "items": [item]}


@pytest.mark.parametrize("version", list(PROFILE_FILES))
def test_the_sandbox_data_is_valid_against_its_profile(version: str) -> None:
    prof = profile(version)
    data = served(version)
    assert ("programme_association" in data) == (version == "1.0.1")
    for kind, item in data.items():
        path, listed = SERVED[kind]
        schema = prof.response_schema("get", path)
        instance = envelope(item) if listed else item
        assert schema_errors(schema, instance) == [], (version, kind)
        assert extension_errors(schema, instance) == [], (version, kind)
        assert consumer_problems(instance) == [] and date_times_without_offset(instance) == []


def test_an_oke_extension_missing_its_required_field_is_named() -> None:
    offering = copy.deepcopy(served("1.0.1")["offering"])
    schema = profile("1.0.1").response_schema("get", "/offerings/{offeringId}")
    del offering["consumers"][0]["offeringState"]
    # The generic consumer block accepts it: only the extension check sees it.
    assert schema_errors(schema, offering) == []
    assert extension_errors(schema, offering) == [
        "consumers[0] (the nl-test-admin extension): 'offeringState' is a required property"
    ]


def test_date_times_need_an_offset() -> None:
    assert date_times_without_offset({"a": ["2026-09-01T09:00:00", "2026-09-01T09:00:00Z"]}) == [
        "a[0] '2026-09-01T09:00:00' has no UTC offset"
    ]


def test_flow_6_answers_programme_offering_associations_only() -> None:
    import httpx

    from okectl.verify.checks import Credentials, EnvironmentCheck, Target
    from okectl.verify.client import Exchange
    from okectl.verify.model import EnvironmentResult

    item = copy.deepcopy(served("1.0.1")["programme_association"])
    other = {**copy.deepcopy(item), "associationType": "courseOfferingAssociation"}
    target = Target(
        "leerling",
        "10AA",
        "test",
        "test",
        frozenset({"sis"}),
        frozenset({6}),
        "1.0.1",
        "5.0",
        "https://sis.example/oke",
        production=False,
    )
    result = EnvironmentResult(
        "leerling/10AA/test",
        "leerling",
        "10AA",
        "test",
        "test",
        ["sis"],
        [6],
        "1.0.1",
        "5.0",
        target.base_url,
        "oke-1.0.1.yaml",
        [],
    )
    credentials = Credentials("client", "a-realistic-secret")
    check = EnvironmentCheck(target, profile("1.0.1"), None, credentials, 3, result)  # type: ignore[arg-type]
    path = "/persons/{personId}/associations"
    for items in ([item], [item, other]):
        ex = Exchange(
            "GET",
            "https://sis.example/oke/persons/p/associations",
            2,
            200,
            httpx.Headers({"content-type": "application/json"}),
            json.dumps({**envelope(items[0]), "items": items}).encode(),
        )
        check._check_body(3, path, ex, "read.get")
    assert [(c.check, c.status) for c in result.checks] == [
        ("read.get", "pass"),
        ("read.get", "pass"),
        ("read.flow-6", "fail"),
    ]
    assert "flow 6 returns programme-offering associations only, not courseOfferingAssociation" in (
        result.checks[2].message
    )
    assert result.checks[2].rule.startswith("doc/flow6.md")
