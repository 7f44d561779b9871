"""Multi-tenant isolation: a credential sees its own schools and nothing else."""

from __future__ import annotations

import httpx
import pytest

from okectl.model.resources import Address
from okectl.providers.base import ProviderError
from tests.support.sandbox import SUPPLIER, Sandbox, run

OTHER_TENANT_MARKERS = ("kempen-secret-domain", "entree", "1.0.1")


def test_a_school_credential_lists_only_its_own_tenant(sandbox: Sandbox) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        cred = {"client_id": "school-21rc", "client_secret": "secret-21rc"}
        async with (
            sandbox.provider(**cred) as p,
            sandbox.provider(**cred, read_strategy="all-tenants") as q,
        ):
            tenants = await p.list_tenants()
            everything = await q.read_tenants(["21RC", "23KM"])
            return tenants, sorted({r.address.school for r in everything})

    assert run(scenario()) == (["21RC"], ["21RC"])


def test_reading_another_tenant_is_denied(sandbox: Sandbox) -> None:
    async def scenario() -> None:
        async with sandbox.provider(client_id="school-21rc", client_secret="secret-21rc") as p:
            with pytest.raises(ProviderError) as info:
                await p.read_tenants(["23KM"])
            assert info.value.status == 403
            assert "no access to this tenant" in str(info.value)

    run(scenario())


def test_writing_another_tenant_is_denied_whether_or_not_it_exists(sandbox: Sandbox) -> None:
    body = {"type": "test", "oke_version": "1.0"}

    async def scenario() -> None:
        async with sandbox.provider(client_id="school-21rc", client_secret="secret-21rc") as p:
            for school in ("23KM", "99ZZ"):
                with pytest.raises(ProviderError) as info:
                    await p.create(Address(SUPPLIER, school, "test"), body, {})
                assert info.value.status == 403
            with pytest.raises(ProviderError) as info:
                await p.delete(Address(SUPPLIER, "23KM", "acceptance"), '"some-etag"')
            assert info.value.status == 403

    run(scenario())
    # Nothing was written.
    token = sandbox.token()
    assert [t["school"] for t in sandbox.get("/tenants", token).json()["items"]] == ["21RC", "23KM"]


def test_no_answer_to_a_school_credential_carries_another_tenants_data(sandbox: Sandbox) -> None:
    token = sandbox.token("school-21rc", "secret-21rc")
    paths = [
        "/tenants",
        "/resources",
        "/tenants/21RC/resources",
        "/tenants/23KM/resources",
        "/tenants/23KM/environments",
        "/tenants/23KM/clients",
        "/tenants/23KM/roles",
        "/tenants/23KM/environments/acceptance",
        "/tenants/23KM/environments/missing",
    ]
    statuses = {}
    for path in paths:
        resp = sandbox.get(path, token)
        statuses[path] = resp.status_code
        for marker in OTHER_TENANT_MARKERS:
            assert marker not in resp.text, (path, marker)
        if "23KM" not in path:
            assert "23KM" not in resp.text, path
    assert {p: s for p, s in statuses.items() if "23KM" in p} == dict.fromkeys(
        [p for p in paths if "23KM" in p], 403
    )
    # The same 403 for an environment that exists and one that does not: nothing to probe.
    a = sandbox.get("/tenants/23KM/environments/acceptance", token).json()
    b = sandbox.get("/tenants/23KM/environments/missing", token).json()
    assert a["detail"] == b["detail"]
    ooapi = httpx.get(
        f"{sandbox.url}/ooapi/{SUPPLIER}/23KM/acceptance/", headers={"Authorization": f"Bearer {token}"}
    )
    assert ooapi.status_code == 403 and "1.0.1" not in ooapi.text


def test_a_token_of_one_supplier_is_not_valid_at_another(sandbox: Sandbox) -> None:
    token = sandbox.token(sid="oudtoets")
    resp = sandbox.get("/tenants", token)
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"


def test_requests_without_a_token_are_unauthorised(sandbox: Sandbox) -> None:
    for path in ("/tenants", "/resources", "/releases", "/tenants/21RC/environments/production"):
        resp = httpx.get(sandbox.api() + path)
        assert resp.status_code == 401, path
        assert "WWW-Authenticate" in resp.headers
