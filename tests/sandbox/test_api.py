"""The supplier admin API, end to end: HTTP provider → real sandbox server."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from okectl.model.releases import Release
from okectl.model.resources import ActualResource, Address, fingerprint
from okectl.providers.base import PreconditionFailed, ProviderError
from tests.support.sandbox import SUPPLIER, SUPPORT, Sandbox, run

ENV = Address(SUPPLIER, "21RC", "production")
CLIENT = Address(SUPPLIER, "21RC", "production", "client", "eduplan")
ROLE = Address(SUPPLIER, "21RC", "production", "role", "assessor")
OWNED = {"managed-by": "okectl", "okectl/repository": "example", "okectl/commit": "def5678"}
ENV_BODY = {
    "type": "test",
    "status": "live",
    "function": "ta",
    "oke_version": "1.0.1",
    "ooapi_version": "5.0",
    "flows": [4, 0, 2, 3],
    "sso": {"mode": "optional", "federation": "surfconext", "schac_home": "roc21.example"},
}


def test_list_tenants_shows_every_school_of_the_supplier(sandbox: Sandbox) -> None:
    async def scenario() -> list[str]:
        async with sandbox.provider() as p:
            return await p.list_tenants()

    assert run(scenario()) == ["21RC", "23KM"]


def test_read_tenants_returns_all_three_kinds_with_specs_labels_and_etags(sandbox: Sandbox) -> None:
    async def scenario() -> dict[Address, ActualResource]:
        async with sandbox.provider() as p:
            return {r.address: r for r in await p.read_tenants(["21RC"])}

    found = run(scenario())
    assert set(found) == {ENV, CLIENT, ROLE}
    env = found[ENV]
    assert env.spec == {
        "type": "production",
        "status": "live",
        "function": "ta",
        "oke_version": "1.0",
        "ooapi_version": "5.0",
        "flows": [0, 2, 3, 4],
        "sso": {"mode": "required", "federation": "surfconext", "schac_home": "roc21.example"},
    }
    assert env.labels == {"managed-by": "okectl", "okectl/repository": "example", "okectl/commit": "abc1234"}
    assert env.extra["base_url"] == f"{sandbox.url}/ooapi/{SUPPLIER}/21RC/production"
    assert found[CLIENT].spec == {
        "client_id": "eduplan-21rc",
        "scopes": ["nl-test-admin-flow-0"],
        "secret_fingerprint": fingerprint("first-secret"),
    }
    assert found[ROLE].spec == {"name": "Beoordelaar", "groups": ["21rc-docenten"]}
    assert all(r.etag.startswith('"') for r in found.values())


def test_both_read_strategies_and_small_pages_see_the_same_resources(sandbox: Sandbox) -> None:
    async def scenario() -> tuple[set[str], set[str], set[str]]:
        async with (
            sandbox.provider() as per_tenant,
            sandbox.provider(read_strategy="all-tenants") as bulk,
            sandbox.provider(page_size=1) as paged,
        ):
            schools = ["21RC", "23KM"]
            a = {f"{r.address}@{r.etag}" for r in await per_tenant.read_tenants(schools)}
            b = {f"{r.address}@{r.etag}" for r in await bulk.read_tenants(schools)}
            c = {f"{r.address}@{r.etag}" for r in await paged.read_tenants(schools)}
            assert paged.requests >= 5  # one page per resource, plus the token
            return a, b, c

    a, b, c = run(scenario())
    assert a == b == c
    assert len(a) == 4


def test_create_update_delete_round_trip(sandbox: Sandbox) -> None:
    addr = Address(SUPPLIER, "21RC", "test")

    async def scenario() -> None:
        async with sandbox.provider() as p:
            created = await p.create(addr, ENV_BODY, OWNED)
            assert created.spec["flows"] == [0, 2, 3, 4]
            assert created.labels == OWNED
            role = Address(SUPPLIER, "21RC", "test", "role", "invigilator")
            r = await p.create(role, {"name": "Surveillant", "groups": ["b", "a"]}, OWNED)
            assert r.spec == {"name": "Surveillant", "groups": ["a", "b"]}
            updated = await p.update(addr, {**ENV_BODY, "oke_version": "1.1"}, OWNED, created.etag)
            assert updated.spec["oke_version"] == "1.1"
            assert updated.etag != created.etag
            await p.delete(role, r.etag)
            await p.delete(addr, updated.etag)
            assert await p.read(addr) is None

    run(scenario())


def test_creating_what_exists_is_refused_with_412(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.provider() as p:
            with pytest.raises(PreconditionFailed) as info:
                await p.create(ENV, ENV_BODY, OWNED)
            assert info.value.status == 412

    run(scenario())


def test_update_with_a_stale_etag_is_refused_with_412(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.provider() as p:
            current = await p.read(ENV)
            assert current is not None
            await p.update(ENV, {**ENV_BODY, "type": "production"}, OWNED, current.etag)
            with pytest.raises(PreconditionFailed) as info:
                await p.update(ENV, ENV_BODY, OWNED, current.etag)
            message = str(info.value)
            assert str(ENV) in message and SUPPLIER in message and SUPPORT in message
            with pytest.raises(PreconditionFailed):
                await p.delete(ENV, current.etag)

    run(scenario())


def test_writes_without_a_precondition_are_refused_with_428(sandbox: Sandbox) -> None:
    token = sandbox.token()
    url = sandbox.api() + "/tenants/21RC/environments/production"
    auth = {"Authorization": f"Bearer {token}"}
    put = httpx.put(url, json=ENV_BODY, headers=auth)
    delete = httpx.delete(url, headers=auth)
    assert (put.status_code, delete.status_code) == (428, 428)
    assert put.headers["content-type"] == "application/problem+json"
    assert put.json()["status"] == 428


def test_deleting_an_environment_with_children_is_a_409_naming_supplier_and_contact(
    sandbox: Sandbox,
) -> None:
    async def scenario() -> None:
        async with sandbox.provider() as p:
            current = await p.read(ENV)
            assert current is not None
            with pytest.raises(ProviderError) as info:
                await p.delete(ENV, current.etag)
            assert info.value.status == 409
            assert str(info.value).startswith(f"{ENV}: supplier {SUPPLIER}: delete failed: 409")
            assert SUPPORT in str(info.value)
            assert info.value.address == str(ENV)

    run(scenario())


def test_a_client_needs_its_environment(sandbox: Sandbox) -> None:
    orphan = Address(SUPPLIER, "21RC", "pilot", "client", "eduplan")

    async def scenario() -> None:
        async with sandbox.provider() as p:
            with pytest.raises(ProviderError) as info:
                await p.create(orphan, {"client_id": "x", "scopes": []}, OWNED)
            assert info.value.status == 404
            assert "does not exist" in str(info.value)

    run(scenario())


def test_client_secrets_are_write_only_and_reported_as_fingerprints(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.provider() as p:
            current = await p.read(CLIENT)
            assert current is not None
            body = {"client_id": "eduplan-21rc", "scopes": ["nl-test-admin-flow-0"]}
            body["secret"] = "rotated-value"
            updated = await p.update(CLIENT, body, OWNED, current.etag)
            assert updated.spec["secret_fingerprint"] == fingerprint("rotated-value")
            # Leaving the secret out keeps it.
            kept = await p.update(CLIENT, {"client_id": "eduplan-21rc", "scopes": []}, OWNED, updated.etag)
            assert kept.spec["secret_fingerprint"] == fingerprint("rotated-value")

    run(scenario())
    token = sandbox.token()
    client = "/tenants/21RC/environments/production/clients/eduplan"
    for path in ("/resources", "/tenants/21RC/clients", client):
        text = sandbox.get(path, token).text
        assert "rotated-value" not in text and "first-secret" not in text
        assert '"secret"' not in text


def test_every_answer_carries_an_etag(sandbox: Sandbox) -> None:
    token = sandbox.token()
    for path in (
        "/tenants",
        "/resources",
        "/releases",
        "/tenants/21RC/resources",
        "/tenants/21RC/environments",
        "/tenants/21RC/clients",
        "/tenants/21RC/roles",
        "/tenants/21RC/environments/production",
        "/tenants/21RC/environments/production/clients/eduplan",
        "/tenants/21RC/environments/production/roles/assessor",
        "/tenants/21RC/environments/nothing-here",
    ):
        resp = sandbox.get(path, token)
        assert resp.headers.get("etag"), path
    single = sandbox.get("/tenants/21RC/environments/production", token)
    assert single.headers["etag"] == single.json()["etag"]


def test_lists_are_paged_with_tokens(sandbox: Sandbox) -> None:
    token = sandbox.token()
    first = sandbox.get("/resources", token, params={"page_size": 2}).json()
    assert len(first["items"]) == 2 and first["next_page_token"]
    rest = sandbox.get("/resources", token, params={"page_size": 2, "page_token": first["next_page_token"]})
    assert len(rest.json()["items"]) == 2 and rest.json()["next_page_token"] is None
    bad = sandbox.get("/resources", token, params={"page_token": "not-a-token!"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


def test_labels_are_stored_and_returned_as_given(sandbox: Sandbox) -> None:
    labels = {**OWNED, "team": "adoption", "okectl/note": "harmonised 2026"}

    async def scenario() -> dict[str, str]:
        async with sandbox.provider() as p:
            await p.create(Address(SUPPLIER, "23KM", "production"), ENV_BODY, labels)
            found = await p.read_tenants(["23KM"])
            return next(r.labels for r in found if r.address.environment == "production")

    assert run(scenario()) == labels


def test_releases_list_product_versions_with_oke_versions_and_dates(sandbox: Sandbox) -> None:
    async def scenario() -> list[Release]:
        async with sandbox.provider() as p:
            return await p.releases()

    assert run(scenario()) == [
        Release("7.4", ("1.0",), date(2024, 11, 5), date(2026, 6, 30), "https://delta.example/releases/7.4"),
        Release("8.0", ("1.0", "1.0.1"), date(2026, 6, 2), None, None),
    ]


def test_an_expired_or_revoked_token_is_renewed(sandbox: Sandbox) -> None:
    async def scenario() -> int:
        async with sandbox.provider() as p:
            await p.list_tenants()
            httpx.delete(f"{sandbox.url}/_sandbox/tokens").raise_for_status()
            assert await p.list_tenants() == ["21RC", "23KM"]
            return p.requests

    # token, tenants, tenants (401), token, tenants
    assert run(scenario()) == 5


def test_a_wrong_client_secret_is_a_clear_error(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.provider(client_secret="wrong") as p:
            with pytest.raises(ProviderError) as info:
                await p.list_tenants()
            message = str(info.value)
            assert message.startswith(f"supplier {SUPPLIER}: token request was refused (401")
            assert "check api.auth" in message and SUPPORT in message

    run(scenario())
