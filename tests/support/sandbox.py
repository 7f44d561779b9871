"""The sandbox as tests reach it: a seed with two schools at one supplier, a supplier's
configuration, the HTTP provider pointed at a served sandbox (``Sandbox``), and its control
endpoints (faults, latency)."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from okectl.config.models import Supplier
from okectl.providers.http.provider import HttpProvider
from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET

T = TypeVar("T")

SUPPLIER = "delta-toets"
SUPPORT = "support@delta.example"

# Two schools at one supplier; 21RC has one environment with a client and a role.
SEED = """
suppliers:
  delta-toets:
    contact_email: support@delta.example
    credentials:
      - {client_id: school-21rc, client_secret: secret-21rc, tenants: [21RC]}
      - {client_id: school-23km, client_secret: secret-23km, tenants: [23KM]}
    releases:
      - {product_version: "7.4", oke_versions: ["1.0"], released: 2024-11-05,
         end_of_support: 2026-06-30, notes_url: "https://delta.example/releases/7.4"}
      - {product_version: "8.0", oke_versions: ["1.0", "1.0.1"], released: 2026-06-02,
         end_of_support: null, notes_url: null}
    tenants:
      21RC:
        production:
          type: production
          function: ta
          oke_version: "1.0"
          ooapi_version: "5.0"
          flows: [0, 2, 3, 4]
          sso: {mode: required, federation: surfconext, schac_home: roc21.example}
          labels: {managed-by: okectl, okectl/repository: example, okectl/commit: abc1234}
          clients:
            eduplan: {client_id: eduplan-21rc, scopes: [nl-test-admin-flow-0], secret: first-secret}
          roles:
            assessor: {name: Beoordelaar, groups: [21rc-docenten]}
      23KM:
        acceptance:
          type: acceptance
          oke_version: "1.0.1"
          sso: {mode: required, federation: entree, schac_home: kempen-secret-domain.example}
  oudtoets:
    tenants:
      21RC:
        production: {type: production, oke_version: "0.9.4"}
"""


def run(coro: Awaitable[T]) -> T:
    """Run a provider's coroutine to its end, as the engine's event loop would."""

    async def main() -> T:
        return await coro

    return asyncio.run(main())


def supplier(sid: str = SUPPLIER, **api: Any) -> Supplier:
    """A supplier's configuration with the given ``api`` settings (limits high enough not
    to slow a test)."""
    return Supplier.model_validate(
        {
            "id": sid,
            "name": "Delta Toetsplatform",
            "roles": ["ta"],
            "flows": [0, 2, 3, 4],
            "support": {"email": SUPPORT},
            "api": {"limits": {"concurrency": 4, "requests_per_second": 500}, **api},
        }
    )


@dataclass
class Sandbox:
    """A served sandbox (``tests.support.serving``) and what a test does with it."""

    url: str

    def api(self, sid: str = SUPPLIER) -> str:
        return f"{self.url}/s/{sid}"

    def provider(
        self,
        *,
        sid: str = SUPPLIER,
        client_id: str = DEV_CLIENT_ID,
        client_secret: str = DEV_CLIENT_SECRET,
        timeout: float = 5.0,
        **options: Any,
    ) -> HttpProvider:
        options.setdefault("backoff_seconds", 0.01)
        p = HttpProvider(
            supplier(sid, timeout_seconds=timeout),
            api_url=self.api(sid),
            token_url=self.api(sid) + "/oauth/token",
            client_id=client_id,
            client_secret=client_secret,
            **options,
        )
        return p

    def faults(self, **settings: Any) -> dict[str, Any]:
        resp = httpx.post(f"{self.url}/_sandbox/faults", json=settings)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def token(
        self, client_id: str = DEV_CLIENT_ID, secret: str = DEV_CLIENT_SECRET, sid: str = SUPPLIER
    ) -> str:
        resp = httpx.post(
            self.api(sid) + "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def get(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.api() + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def write_seed(path: Path) -> Path:
    """``SEED`` written to ``path``."""
    path.write_text(textwrap.dedent(SEED).lstrip(), encoding="utf-8")
    return path


def faults(url: str, **settings: object) -> None:
    """Set the served sandbox's faults (``POST /_sandbox/faults``); none given: clear them."""
    if settings:
        httpx.post(f"{url}/_sandbox/faults", json=settings).raise_for_status()
    else:
        httpx.delete(f"{url}/_sandbox/faults").raise_for_status()
