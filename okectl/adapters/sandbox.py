"""The embedded reference supplier, registered as an adapter like any third-party one.

``api.provider: sandbox`` talks to the sandbox in-process (over a SQLite file under
``.okectl/``, seeded from ``sandbox/seed.yaml``; reads answered by its API functions, other
requests by its ASGI app, see ``embedded``), or to a running
``okectl sandbox serve`` when ``OKECTL_SANDBOX_URL`` is set. It lives outside both
``providers`` and ``sandbox`` so that neither needs to know the other.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from okectl.config.models import Supplier
from okectl.files import state_folder
from okectl.providers.base import Adapter, AdapterContext, Capability, OkeAccess, Provider

if TYPE_CHECKING:
    from okectl.adapters.embedded import EmbeddedSandbox

SANDBOX_URL_ENV = "OKECTL_SANDBOX_URL"
EMBEDDED_DB = Path(".okectl") / "sandbox.db"
EMBEDDED_SEED = Path("sandbox") / "seed.yaml"
# The host name embedded requests carry; never resolved, the transport is in-process.
EMBEDDED_ORIGIN = "http://sandbox.okectl.invalid"


class SandboxSettings(BaseModel):
    """``api.settings`` of a sandbox supplier."""

    model_config = ConfigDict(extra="forbid")


_embedded_lock = threading.Lock()
_embedded: dict[Path, EmbeddedSandbox] = {}


def embedded_sandbox(repo_root: Path) -> EmbeddedSandbox:
    """The in-process sandbox of a repository: one per process, shared by its suppliers."""
    from okectl.adapters.embedded import EmbeddedSandbox
    from okectl.sandbox.seed import open_store

    root = repo_root.resolve()
    with _embedded_lock:
        found = _embedded.get(root)
        if found is None:
            seed = root / EMBEDDED_SEED
            folder = state_folder(root, EMBEDDED_DB.parent)
            store = open_store(folder / EMBEDDED_DB.name, seed if seed.is_file() else None)
            found = _embedded[root] = EmbeddedSandbox(store, EMBEDDED_ORIGIN)
        return found


def embedded_app(repo_root: Path) -> Any:
    """The ASGI application of a repository's in-process sandbox."""
    return embedded_sandbox(repo_root).app()


def make_provider(supplier: Supplier, ctx: AdapterContext) -> Provider:
    from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

    url = os.environ.get(SANDBOX_URL_ENV, "").rstrip("/")
    if url:
        from okectl.providers.http.provider import HttpProvider

        api = f"{url}/s/{supplier.id}"
        return HttpProvider(
            supplier,
            api_url=api,
            token_url=f"{api}/oauth/token",
            client_id=DEV_CLIENT_ID,
            client_secret=DEV_CLIENT_SECRET,
        )
    from okectl.adapters.embedded import EmbeddedProvider

    api = f"{EMBEDDED_ORIGIN}/s/{supplier.id}"
    return EmbeddedProvider(
        supplier,
        embedded_sandbox(ctx.repo_root),
        api_url=api,
        token_url=f"{api}/oauth/token",
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        # In-process calls cost no latency: one paged listing beats one call per tenant,
        # and the supplier's limits describe its real API, not this one.
        read_strategy="all-tenants",
        apply_limits=False,
    )


def oke_access(supplier: Supplier, ctx: AdapterContext) -> OkeAccess:
    """The development credential at each environment's own token endpoint; in-process
    unless OKECTL_SANDBOX_URL points at a running sandbox."""
    from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

    transport = None
    if not os.environ.get(SANDBOX_URL_ENV, ""):
        import httpx

        transport = httpx.ASGITransport(app=embedded_app(ctx.repo_root))
    return OkeAccess(
        client_id=DEV_CLIENT_ID, client_secret=DEV_CLIENT_SECRET, transport=transport, local=True
    )


ADAPTER = Adapter(
    name="sandbox",
    create=make_provider,
    settings_model=SandboxSettings,
    capabilities=frozenset({Capability.BULK_READ, Capability.RELEASES, Capability.SERVICE_INFO}),
    oke_access=oke_access,
)
