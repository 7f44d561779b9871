"""How refresh reads a supplier: one listing across tenants when that takes no more round
trips than per-tenant listings in parallel, per tenant otherwise. Real server."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from okectl.config.settings import Settings
from okectl.engine.refresh import refresh
from okectl.model.resources import ActualResource
from okectl.model.secrets import SecretRoots
from okectl.providers import registry
from okectl.providers.base import Adapter
from okectl.providers.http.provider import HttpProvider, one_listing_is_faster
from tests.support.sandbox import SUPPLIER, Sandbox, run, supplier


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
        found, _ = read(sandbox, client_id="school-23km", client_secret="secret-23km", read_strategy=strategy)
        assert {f.split("/")[1] for f in found} == {"23KM"}, strategy


@pytest.mark.parametrize(
    ("sizes", "wanted", "listing"),
    [
        ({"11AA": 10, "22BB": 10, "33CC": 10}, ["11AA", "22BB", "33CC"], True),  # 1 page vs 1 round
        ({"11AA": 900, "22BB": 900}, ["11AA", "22BB"], False),  # 2 pages in a row vs 1 round
        ({f"{i:02d}XX": 5 for i in range(10)}, [f"{i:02d}XX" for i in range(10)], True),  # 1 vs 3 rounds
        ({"11AA": 10, "22BB": None}, ["11AA"], False),  # sizes not reported: per tenant
        ({"11AA": 10}, [], False),
        ({"11AA": 1500, "22BB": 1}, ["22BB"], False),  # a scoped read skips the big tenant
    ],
)
def test_the_listing_is_chosen_only_when_it_needs_no_more_round_trips(
    sizes: dict[str, int | None], wanted: list[str], listing: bool
) -> None:
    assert one_listing_is_faster(sizes, wanted, page_size=1000, concurrency=4) is listing


def test_a_scoped_read_of_no_school_sends_nothing(sandbox: Sandbox) -> None:
    for strategy in ("auto", "per-tenant", "all-tenants"):
        found, paths = read(sandbox, [], read_strategy=strategy)
        assert found == set() and paths == [], strategy


class OlderAdapter:
    """A third-party adapter written before read_resources: only list_tenants and
    read_tenants, here over the real sandbox."""

    def __init__(self, inner: HttpProvider) -> None:
        self.inner = inner
        self.supplier = inner.supplier

    async def list_tenants(self) -> list[str]:
        return await self.inner.list_tenants()

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        return await self.inner.read_tenants(schools)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_refresh_reads_through_an_adapter_without_read_resources(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[OlderAdapter] = []

    def factory(supplier: Any, *, repo_root: Path) -> OlderAdapter:
        made.append(OlderAdapter(sandbox.provider(sid=supplier.id)))
        return made[-1]

    # Declares no capabilities: refresh must not ask it for a bulk read.
    adapter = Adapter(name="older", create=lambda s, ctx: factory(s, repo_root=ctx.repo_root))
    monkeypatch.setitem(registry.BUILT_IN, "older", adapter)
    state = SimpleNamespace(suppliers={SUPPLIER: supplier(SUPPLIER, provider="older")}, schools={})
    settings = Settings(repository="test", secret_roots=SecretRoots.default(Path(".")))
    refreshed = run(refresh(state, Path("."), schools={"23KM"}, settings=settings))  # type: ignore[arg-type]
    assert made and {r.address.school for r in refreshed.resources} == {"23KM"}
    assert len(refreshed.resources) == 1
