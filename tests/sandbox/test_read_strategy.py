"""How refresh reads a supplier: one listing across tenants when that takes no more round
trips than per-tenant listings in parallel, per tenant otherwise. Real server."""

from __future__ import annotations

import httpx

from okectl.providers.http import HttpProvider
from tests.sandbox.conftest import SUPPLIER, Sandbox, run


class Recording(httpx.AsyncHTTPTransport):
    """A real transport that remembers which API paths were asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path.split(f"/s/{SUPPLIER}", 1)[1])
        return await super().handle_async_request(request)


def read(sandbox: Sandbox, schools: list[str] | None = None, **options: object) -> tuple[set[str], list[str]]:
    transport = Recording()

    async def scenario() -> set[str]:
        provider: HttpProvider
        async with sandbox.provider(transport=transport, **options) as provider:
            return {f"{r.address}@{r.etag}" for r in await provider.read_resources(schools)}

    return run(scenario()), transport.paths


def test_the_tenant_list_says_how_many_resources_each_tenant_holds(sandbox: Sandbox) -> None:
    resp = sandbox.get("/tenants", sandbox.token())
    assert resp.json()["items"] == [{"school": "21RC", "resources": 3}, {"school": "23KM", "resources": 1}]


def test_a_small_estate_is_read_with_one_listing(sandbox: Sandbox) -> None:
    found, paths = read(sandbox)
    assert paths == ["/oauth/token", "/tenants", "/resources"]
    every_tenant, _ = read(sandbox, read_strategy="per-tenant")
    assert found == every_tenant
    assert len(found) == 4


def test_a_large_estate_is_read_per_tenant_in_parallel(sandbox: Sandbox) -> None:
    # One resource per page: the listing would take four pages in a row, the per-tenant
    # listings three rounds (21RC's three pages, beside 23KM's one).
    found, paths = read(sandbox, page_size=1)
    assert "/resources" not in paths
    assert paths.count("/tenants/21RC/resources") == 3
    assert paths.count("/tenants/23KM/resources") == 1
    listed, _ = read(sandbox, read_strategy="all-tenants")
    assert found == listed


def test_one_listing_across_tenants_needs_no_tenant_list(sandbox: Sandbox) -> None:
    found, paths = read(sandbox, read_strategy="all-tenants")
    assert paths == ["/oauth/token", "/resources"]
    assert len(found) == 4


def test_a_scoped_read_returns_only_those_schools_and_skips_unknown_ones(sandbox: Sandbox) -> None:
    for strategy in ("auto", "per-tenant", "all-tenants"):
        found, _ = read(sandbox, ["23KM", "99ZZ"], read_strategy=strategy)
        assert [f.split("/")[1] for f in found] == ["23KM"], strategy
        nothing, paths = read(sandbox, ["99ZZ"], read_strategy=strategy)
        assert nothing == set(), strategy
        assert not any(p.startswith("/tenants/99ZZ") for p in paths), strategy


def test_a_credential_for_one_school_reads_only_that_school(sandbox: Sandbox) -> None:
    for strategy in ("auto", "per-tenant", "all-tenants"):
        found, _ = read(
            sandbox, client_id="school-23km", client_secret="secret-23km", read_strategy=strategy
        )
        assert {f.split("/")[1] for f in found} == {"23KM"}, strategy
