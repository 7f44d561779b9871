"""Which provider talks to a supplier: ``api.provider`` in the supplier's YAML.

Built in: ``sandbox`` (the reference supplier, embedded in-process unless
``OKECTL_SANDBOX_URL`` points at a running one) and ``http`` (a real administration API).
Third-party adapters register a factory under the entry-point group ``okectl.providers``::

    [project.entry-points."okectl.providers"]
    acme = "okectl_acme:make_provider"   # (supplier: Supplier, *, repo_root: Path) -> Provider
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from okectl.config.models import SecretRef, Supplier
from okectl.errors import OkectlError
from okectl.providers.base import Provider

ProviderFactory = Callable[..., Provider]
ENTRY_POINT_GROUP = "okectl.providers"
SANDBOX_URL_ENV = "OKECTL_SANDBOX_URL"
EMBEDDED_DB = Path(".okectl") / "sandbox.db"
EMBEDDED_SEED = Path("sandbox") / "seed.yaml"
# The host name embedded requests carry; never resolved, the transport is in-process.
EMBEDDED_ORIGIN = "http://sandbox.okectl.invalid"


class ProviderConfigError(OkectlError):
    """A supplier's api settings cannot be used."""


def resolve_secret_ref(ref: SecretRef, repo_root: Path) -> str | None:
    """The value behind a secret reference, or None when it is not set."""
    if ref.env is not None:
        return os.environ.get(ref.env)
    assert ref.file is not None
    path = Path(ref.file)
    if not path.is_absolute():
        path = repo_root / path
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _http(supplier: Supplier, *, repo_root: Path) -> Provider:
    from okectl.providers.http.provider import HttpProvider

    api = supplier.api
    if api.url is None or api.auth is None:
        raise ProviderConfigError(
            f"supplier {supplier.id}: api.provider is http, so api.url and api.auth "
            "(token_url, client_id, client_secret) must be set"
        )
    secret = resolve_secret_ref(api.auth.client_secret, repo_root)
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


_embedded_lock = threading.Lock()
_embedded_apps: dict[Path, Any] = {}


def embedded_app(repo_root: Path) -> Any:
    """The in-process sandbox of a repository: one per process, shared by its suppliers."""
    from okectl.sandbox.app import create_app
    from okectl.sandbox.seed import open_store

    root = repo_root.resolve()
    with _embedded_lock:
        app = _embedded_apps.get(root)
        if app is None:
            seed = root / EMBEDDED_SEED
            store = open_store(root / EMBEDDED_DB, seed if seed.is_file() else None)
            app = create_app(store)
            _embedded_apps[root] = app
        return app


def _sandbox(supplier: Supplier, *, repo_root: Path) -> Provider:
    import httpx

    from okectl.providers.http.provider import HttpProvider
    from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

    url = os.environ.get(SANDBOX_URL_ENV, "").rstrip("/")
    if url:
        api = f"{url}/s/{supplier.id}"
        return HttpProvider(
            supplier,
            api_url=api,
            token_url=f"{api}/oauth/token",
            client_id=DEV_CLIENT_ID,
            client_secret=DEV_CLIENT_SECRET,
        )
    api = f"{EMBEDDED_ORIGIN}/s/{supplier.id}"
    return HttpProvider(
        supplier,
        api_url=api,
        token_url=f"{api}/oauth/token",
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        transport=httpx.ASGITransport(app=embedded_app(repo_root)),
        # In-process calls cost no latency: one paged listing beats one call per tenant,
        # and the supplier's limits describe its real API, not this one.
        read_strategy="all-tenants",
        apply_limits=False,
    )


PROVIDERS: dict[str, ProviderFactory] = {"sandbox": _sandbox, "http": _http}


def _plugin(name: str) -> ProviderFactory | None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            factory: ProviderFactory = ep.load()
            return factory
    return None


def known_providers() -> list[str]:
    return sorted(set(PROVIDERS) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def make_provider(supplier: Supplier, *, repo_root: Path) -> Provider:
    """The provider for a supplier, as its ``api.provider`` says."""
    name = supplier.api.provider
    factory = PROVIDERS.get(name) or _plugin(name)
    if factory is None:
        raise ProviderConfigError(
            f"supplier {supplier.id}: unknown api.provider {name!r}; known providers: "
            + ", ".join(known_providers())
        )
    return factory(supplier, repo_root=repo_root)
