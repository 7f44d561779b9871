"""The diff engine: by address, normalised, owned-only, secrets never shown."""

from __future__ import annotations

import json
from typing import Any

from okectl.engine.diff import diff_resources
from okectl.model.resources import ActualResource, Address, Resource, fingerprint
from okectl.plans.document import change_document

REPO = "example"
OWNED = {"managed-by": "okectl", "okectl/repository": REPO}
ENV = Address("delta-toets", "21RC", "production")
CLIENT = Address("delta-toets", "21RC", "production", "client", "eduplan")


def env_spec(**over: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "production",
        "status": "live",
        "function": "ta",
        "oke_version": "1.0.1",
        "ooapi_version": "5.0",
        "flows": [0, 2, 3, 4],
        "sso": {"mode": "required", "federation": "surfconext", "schac_home": "school.example"},
    }
    spec.update(over)
    return spec


def no_secrets(ref: str) -> str | None:
    return None


def plan_of(
    desired: list[Resource], actual: list[ActualResource], secrets: dict[str, str] | None = None
) -> Any:
    table = secrets or {}
    return diff_resources(desired, actual, repository=REPO, resolve_secret=lambda ref: table.get(ref))


def test_in_sync_resources_make_no_change_even_in_another_list_order() -> None:
    actual = ActualResource(ENV, env_spec(flows=[4, 3, 2, 0, 0], base_url="https://x"), "e1", OWNED)
    plan = plan_of([Resource(ENV, env_spec())], [actual])
    assert plan.changes == []
    assert plan.in_sync == 1


def test_supplier_owned_fields_are_not_diffs() -> None:
    actual = ActualResource(ENV, env_spec(), "e1", OWNED, extra={"base_url": "https://a", "updated_at": "x"})
    desired = Resource(ENV, {**env_spec(), "base_url": "https://b"})
    assert plan_of([desired], [actual]).changes == []


def test_a_changed_field_is_reported_with_before_and_after() -> None:
    actual = ActualResource(ENV, env_spec(oke_version="1.0"), "e1", OWNED)
    plan = plan_of([Resource(ENV, env_spec())], [actual])
    [change] = plan.changes
    assert change.action == "update"
    assert change.etag == "e1"
    assert [(d.path, d.before, d.after) for d in change.diff] == [("oke_version", "1.0", "1.0.1")]


def test_a_changed_list_is_reported_whole() -> None:
    actual = ActualResource(ENV, env_spec(flows=[0, 2, 3, 4]), "e1", OWNED)
    plan = plan_of([Resource(ENV, env_spec(flows=[0, 2, 3, 4, 6]))], [actual])
    assert [(d.path, d.before, d.after) for d in plan.changes[0].diff] == [
        ("flows", [0, 2, 3, 4], [0, 2, 3, 4, 6])
    ]


def test_nested_change_has_a_dotted_path() -> None:
    actual = ActualResource(ENV, env_spec(), "e1", OWNED)
    sso = {"mode": "required", "federation": "entree", "schac_home": "school.example"}
    plan = plan_of([Resource(ENV, env_spec(sso=sso))], [actual])
    assert [d.path for d in plan.changes[0].diff] == ["sso.federation"]


def test_missing_resource_is_created() -> None:
    plan = plan_of([Resource(ENV, env_spec())], [])
    assert [(c.action, str(c.address)) for c in plan.changes] == [("create", "delta-toets/21RC/production")]


def test_owned_resource_not_in_configuration_is_deleted_with_its_etag() -> None:
    extra = Address("delta-toets", "21RC", "pilot")
    plan = plan_of([], [ActualResource(extra, env_spec(type="pilot"), "e9", OWNED)])
    [change] = plan.changes
    assert (change.action, change.etag) == ("delete", "e9")


def test_resources_made_by_hand_are_listed_as_unmanaged_and_never_deleted() -> None:
    extra = Address("delta-toets", "21RC", "chain-test")
    plan = plan_of([], [ActualResource(extra, env_spec(type="test"), "e9", {"owner": "someone"})])
    assert plan.changes == []
    assert [(str(u.address), u.reason) for u in plan.unmanaged] == [
        ("delta-toets/21RC/chain-test", "not in the configuration and not created by okectl")
    ]


def test_another_repositorys_resources_are_left_alone() -> None:
    labels = {"managed-by": "okectl", "okectl/repository": "other"}
    plan = plan_of(
        [Resource(ENV, env_spec())], [ActualResource(ENV, env_spec(oke_version="1.0"), "e1", labels)]
    )
    assert plan.changes == []
    assert plan.unmanaged[0].reason == "managed by another repository (other)"


def test_a_hand_made_resource_in_the_configuration_is_adopted() -> None:
    plan = plan_of([Resource(ENV, env_spec())], [ActualResource(ENV, env_spec(), "e1", {})])
    [change] = plan.changes
    assert (change.action, change.adopt, change.diff) == ("update", True, [])


def test_a_secret_change_shows_as_sensitive_and_never_its_value() -> None:
    secret = "s3cr3t-value-123"
    desired = Resource(CLIENT, {"client_id": "eduplan-21rc", "scopes": ["a"], "secret": "env:X"})
    actual = ActualResource(
        CLIENT,
        {"client_id": "eduplan-21rc", "scopes": ["a"], "secret_fingerprint": fingerprint("old")},
        "c1",
        OWNED,
    )
    plan = plan_of([desired], [actual], {"env:X": secret})
    [change] = plan.changes
    assert [(d.path, d.sensitive) for d in change.diff] == [("secret", True)]
    text = json.dumps(change_document(change))
    assert "(sensitive) changed" in text
    assert secret not in text
    assert fingerprint("old") not in text


def test_an_unchanged_secret_makes_no_change() -> None:
    desired = Resource(CLIENT, {"client_id": "c", "scopes": ["a"], "secret": "env:X"})
    actual = ActualResource(
        CLIENT, {"client_id": "c", "scopes": ["a"], "secret_fingerprint": fingerprint("v")}, "c1", OWNED
    )
    assert plan_of([desired], [actual], {"env:X": "v"}).changes == []


def test_an_environment_holding_unmanaged_resources_is_not_stripped_or_deleted() -> None:
    pilot = Address("delta-toets", "21RC", "pilot")
    owned_role = Address("delta-toets", "21RC", "pilot", "role", "assessor")
    hand_made = Address("delta-toets", "21RC", "pilot", "client", "legacy")
    plan = plan_of(
        [],
        [
            ActualResource(pilot, env_spec(type="pilot"), "e1", OWNED),
            ActualResource(owned_role, {"name": "x", "groups": []}, "r1", OWNED),
            ActualResource(hand_made, {"client_id": "legacy", "scopes": []}, "c1", {}),
        ],
    )
    assert plan.changes == []
    assert plan.warnings == [
        "delta-toets/21RC/pilot: not deleted, nor anything in it: it holds resources okectl does not own "
        "(delta-toets/21RC/pilot/client/legacy); remove them at the supplier or import them, then plan again"
    ]
    assert {str(u.address) for u in plan.unmanaged} == {str(pilot), str(owned_role), str(hand_made)}
