"""Which adapter talks to a supplier: ``api.provider`` in the supplier's YAML.

Built in: ``http`` (a real administration API). Every other adapter, the embedded
``sandbox`` included, registers an :class:`~okectl.providers.base.Adapter` under the
entry-point group ``okectl.providers``::

    [project.entry-points."okectl.providers"]
    acme = "okectl_acme:ADAPTER"   # an Adapter(name, create, settings_model, capabilities)

A plain factory ``(supplier, *, repo_root) -> Provider`` is accepted too, as an adapter
with no settings of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from pydantic import BaseModel, ValidationError

from okectl.config.models import PLAIN_ADAPTERS, VERIFIED_ONLY, SecretRef, Supplier, SupplierApi
from okectl.config.repository import DesiredState
from okectl.config.settings import Settings
from okectl.errors import OkectlError, Problem
from okectl.model.secrets import resolve_secret_ref
from okectl.providers.base import Adapter, AdapterContext, Capability, OkeAccess, Provider

ENTRY_POINT_GROUP = "okectl.providers"


class ProviderConfigError(OkectlError):
    """A supplier's api settings cannot be used."""


class _HttpSettings(BaseModel):
    model_config = {"extra": "forbid"}


def _http(supplier: Supplier, ctx: AdapterContext) -> Provider:
    from okectl.providers.http.provider import HttpProvider

    api = _api(supplier)
    if api.url is None or api.auth is None:
        raise ProviderConfigError(
            f"supplier {supplier.id}: api.provider is http, so api.url and api.auth "
            "(token_url, client_id, client_secret) must be set"
        )
    secret = ctx.resolve_secret(api.auth.client_secret)
    if secret is None:
        raise ProviderConfigError(
            f"supplier {supplier.id}: the client secret {api.auth.client_secret.describe()} is not set"
        )
    return HttpProvider(
        supplier,
        api_url=api.url,
        token_url=api.auth.token_url,
        client_id=api.auth.client_id,
        client_secret=secret,
    )


HTTP = Adapter(
    name="http",
    create=_http,
    settings_model=_HttpSettings,
    capabilities=frozenset({Capability.BULK_READ, Capability.RELEASES, Capability.SERVICE_INFO}),
)
BUILT_IN: dict[str, Adapter] = {"http": HTTP}


def _from_entry_point(name: str, loaded: object) -> Adapter:
    if isinstance(loaded, Adapter):
        return loaded
    if callable(loaded):
        factory: Callable[..., Provider] = loaded

        def create(supplier: Supplier, ctx: AdapterContext) -> Provider:
            return factory(supplier, repo_root=ctx.repo_root)

        return Adapter(name=name, create=create)
    raise ProviderConfigError(f"the adapter {name!r} registers neither an Adapter nor a factory")


@cache
def _plugins() -> dict[str, object]:
    # Entry points are loaded on first use of each name only; listing them is cheap.
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_providers() -> list[str]:
    return sorted(set(BUILT_IN) | set(_plugins()))


def adapter(name: str) -> Adapter | None:
    """The adapter registered under ``name``, or None."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    ep = _plugins().get(name)
    if ep is None:
        return None
    return _from_entry_point(name, ep.load())  # type: ignore[attr-defined]


def settings_of(supplier: Supplier, found: Adapter) -> BaseModel | None:
    """The adapter's own settings (``api.settings``), checked by the model it declares."""
    if found.settings_model is None:
        return None
    return found.settings_model.model_validate(_api(supplier).settings)


def _api(supplier: Supplier) -> SupplierApi:
    if supplier.api is None:
        raise ProviderConfigError(f"supplier {supplier.id} {VERIFIED_ONLY}")
    return supplier.api


def _found(supplier: Supplier) -> Adapter:
    name = _api(supplier).provider
    found = adapter(name)
    if found is None:
        raise ProviderConfigError(
            f"supplier {supplier.id}: unknown api.provider {name!r}; known providers: "
            + ", ".join(known_providers())
        )
    return found


def make_provider(supplier: Supplier, *, repo_root: Path, settings: Settings) -> Provider:
    """The provider for a supplier, as its ``api.provider`` says. Its secret references
    are read only where the repository's ``settings`` (okectl.yaml) allow."""
    found = _found(supplier)
    return found.create(supplier, _context(supplier, found, repo_root, settings))


def oke_access(supplier: Supplier, *, repo_root: Path, settings: Settings) -> OkeAccess:
    """How okectl verify reaches the supplier's OKE endpoints: as its adapter says, else
    with the client of ``api.auth`` (which the supplier must grant the flow scopes)."""
    found = _found(supplier)
    ctx = _context(supplier, found, repo_root, settings)
    if found.oke_access is not None:
        return found.oke_access(supplier, ctx)
    auth = _api(supplier).auth
    if auth is None:
        raise ProviderConfigError(f"supplier {supplier.id}: api.auth is needed to verify its OKE endpoints")
    secret = ctx.resolve_secret(auth.client_secret)
    if secret is None:
        raise ProviderConfigError(
            f"supplier {supplier.id}: the client secret {auth.client_secret.describe()} is not set"
        )
    return OkeAccess(client_id=auth.client_id, client_secret=secret, token_url=auth.token_url)


def _context(supplier: Supplier, found: Adapter, repo_root: Path, repo_settings: Settings) -> AdapterContext:
    try:
        settings = settings_of(supplier, found)
    except ValueError as exc:
        raise ProviderConfigError(f"supplier {supplier.id}: api.settings: {exc}") from None
    roots = repo_settings.secret_roots

    def resolve(ref: SecretRef) -> str | None:
        return resolve_secret_ref(ref, roots)

    return AdapterContext(
        repo_root=repo_root,
        settings=settings,
        resolve_secret=resolve,
        repository=repo_settings.repository,
    )


def capabilities(supplier: Supplier) -> frozenset[Capability]:
    """What the supplier's adapter declares it can do (nothing for an unknown one)."""
    if supplier.api is None:
        return frozenset()
    found = adapter(supplier.api.provider)
    return found.capabilities if found is not None else frozenset()


def check_adapter_settings(state: DesiredState) -> list[Problem]:
    """Every supplier's ``api.provider`` is a registered adapter, and its ``api.settings``
    pass the settings model that adapter declares; problems at their place in the YAML."""
    problems: list[Problem] = []
    for sid, supplier in sorted(state.suppliers.items()):
        api = supplier.api
        if api is None:
            continue
        name = api.provider
        if name in PLAIN_ADAPTERS and not api.settings:
            continue
        found = adapter(name)
        if found is None:
            problems.append(
                state.problem(
                    "supplier",
                    sid,
                    ("api", "provider"),
                    f"unknown api.provider {name!r}; known providers: {', '.join(known_providers())}",
                )
            )
            continue
        if found.settings_model is None:
            if api.settings:
                problems.append(
                    state.problem(
                        "supplier", sid, ("api", "settings"), f"the {name} adapter takes no settings"
                    )
                )
            continue
        try:
            settings = found.settings_model.model_validate(api.settings)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ("api", "settings", *err["loc"])
                where = ".".join(str(p) for p in loc)
                problems.append(
                    state.problem(
                        "supplier",
                        sid,
                        loc,
                        f"{where}: {err['msg']} (the {name} adapter's settings)",
                        # An unknown key is pointed at itself, a wrong value at the value.
                        key=err["type"] == "extra_forbidden",
                    )
                )
            # The adapter's own checks still run: every problem of the file in one run.
            settings = None
        if found.check is not None:
            problems.extend(found.check(state, supplier, settings))
    return problems
