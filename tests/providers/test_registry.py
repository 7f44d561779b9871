"""Choosing a provider per supplier, and the embedded sandbox of a repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.config.repository import load_state
from okectl.config.settings import Settings, load_settings
from okectl.errors import OkectlError
from okectl.model.secrets import SecretRoots
from okectl.providers import registry
from okectl.providers.http.provider import HttpProvider
from okectl.providers.registry import make_provider
from tests.support.sandbox import Sandbox, run, supplier


@pytest.fixture(autouse=True)
def no_sandbox_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)


def test_embedded_sandbox_is_created_and_seeded_on_first_use(example_repo: Path) -> None:
    state = load_state(example_repo)
    provider = make_provider(
        state.suppliers["eduplan"], repo_root=example_repo, settings=load_settings(example_repo)
    )

    async def scenario() -> list[Any]:
        async with provider as p:
            tenants = await p.list_tenants()
            return [tenants, await p.read_tenants(tenants), await p.releases()]

    tenants, resources, releases = run(scenario())
    assert (example_repo / ".okectl" / "sandbox.db").is_file()
    # The seed's eduplan: not yet at 42DE; 25LV's acceptance still on the OKE 1.1 pilot.
    assert tenants == ["21RC", "25LV", "30GZ", "31AW", "50UT", "61BR", "72ZL"]
    envs = {str(r.address): r.spec["oke_version"] for r in resources if r.address.kind == "environment"}
    assert envs["eduplan/25LV/acceptance"] == "1.1"
    assert any(rel.oke_versions == ("1.0", "1.0.1", "1.1") for rel in releases)


def test_embedded_sandbox_reads_with_one_paged_listing(example_repo: Path) -> None:
    state = load_state(example_repo)

    async def scenario() -> tuple[int, int]:
        async with make_provider(
            state.suppliers["delta-toets"], repo_root=example_repo, settings=load_settings(example_repo)
        ) as p:
            tenants = await p.list_tenants()
            before = p.requests
            await p.read_tenants(tenants)
            return len(tenants), p.requests - before

    tenants, requests = run(scenario())
    assert tenants >= 8 and requests == 1


def test_the_seed_holds_hand_made_resources_and_owned_ones(example_repo: Path) -> None:
    state = load_state(example_repo)

    async def scenario() -> list[Any]:
        out: list[Any] = []
        for sid in state.suppliers:
            async with make_provider(
                state.suppliers[sid], repo_root=example_repo, settings=load_settings(example_repo)
            ) as p:
                out += await p.read_tenants(await p.list_tenants())
        return out

    # Sandbox suppliers only: the others' state is their record (state/), not the seed.
    resources = [r for r in run(scenario()) if r.address.supplier in ("delta-toets", "eduplan")]
    owned = [r for r in resources if r.owned_by("example")]
    unowned = [r for r in resources if not r.labels]
    assert owned and unowned
    assert all(r.labels["okectl/repository"] == "example" for r in owned)
    extra_envs = {str(r.address) for r in resources if r.address.kind == "environment"} - {
        f"{r.address}" for r in resources if r.address.environment in ("production", "acceptance")
    }
    assert {"eduplan/21RC/pilot", "delta-toets/23KM/chain-test"} <= extra_envs


def test_sandbox_url_points_every_sandbox_supplier_at_a_running_server(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SANDBOX_URL_ENV, sandbox.url)
    provider = make_provider(
        supplier(), repo_root=tmp_path, settings=settings_with(SecretRoots.default(tmp_path))
    )

    async def scenario() -> list[str]:
        async with provider as p:
            return await p.list_tenants()

    assert run(scenario()) == ["21RC", "23KM"]
    assert not (tmp_path / ".okectl").exists()


def test_an_unknown_provider_names_the_supplier_and_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(OkectlError) as info:
        make_provider(
            supplier(provider="acme"),
            repo_root=tmp_path,
            settings=settings_with(SecretRoots.default(tmp_path)),
        )
    assert str(info.value) == (
        "supplier delta-toets: unknown api.provider 'acme'; known providers: http, requests, sandbox"
    )


def test_the_http_provider_needs_url_and_auth(tmp_path: Path) -> None:
    with pytest.raises(OkectlError, match=r"api\.provider is http, so api\.url and api\.auth"):
        make_provider(
            supplier(provider="http"),
            repo_root=tmp_path,
            settings=settings_with(SecretRoots.default(tmp_path)),
        )


def test_the_http_provider_needs_its_secret_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DELTA_ADMIN_SECRET", raising=False)
    api = {
        "provider": "http",
        "url": "https://admin.delta.example/oke/v1",
        "auth": {
            "token_url": "https://admin.delta.example/token",
            "client_id": "okectl",
            "client_secret": {"env": "DELTA_ADMIN_SECRET"},
        },
    }
    roots = SecretRoots.default(tmp_path)
    with pytest.raises(OkectlError, match=r"the client secret env:DELTA_ADMIN_SECRET is not set"):
        make_provider(supplier(**api), repo_root=tmp_path, settings=settings_with(roots))
    monkeypatch.setenv("DELTA_ADMIN_SECRET", "from-the-environment")
    provider = make_provider(supplier(**api), repo_root=tmp_path, settings=settings_with(roots))
    assert isinstance(provider, HttpProvider)
    run(provider.aclose())


def test_adapters_register_through_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    def factory(sup: Any, *, repo_root: Path) -> Any:
        made.append(sup.id)
        return "adapter"

    class EntryPoint:
        name = "acme"

        def load(self) -> Any:
            return factory

    monkeypatch.setattr(registry, "_plugins", lambda: {"acme": EntryPoint(), "sandbox": EntryPoint()})
    assert (
        make_provider(
            supplier(provider="acme"),
            repo_root=tmp_path,
            settings=settings_with(SecretRoots.default(tmp_path)),
        )
        == "adapter"
    )
    assert made == ["delta-toets"]
    assert registry.known_providers() == ["acme", "http", "sandbox"]


def settings_with(roots: SecretRoots) -> Settings:
    """A repository's settings for a test without an okectl.yaml: only where secrets come from."""
    return Settings(repository="test", secret_roots=roots)
