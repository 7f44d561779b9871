"""The provider protocol and the shapes that cross it.

A provider speaks to one supplier. The plan only ever sees `ActualResource`s and calls
the protocol's methods, so a third-party adapter can replace the HTTP provider.

Wire format (JSON, see ``okectl/providers/admin-api.yaml``), per resource kind, of the
fields okectl manages; the supplier adds `labels`, `etag` and fields it owns:
- environment: name, type, status, function, oke_version, ooapi_version, flows,
  sso {mode, federation, schac_home}; supplier-owned: base_url, created_at, updated_at
- client: environment, system, client_id, scopes, and on write only `secret` (the value);
  responses carry `secret_fingerprint` instead
- role: environment, role, name, groups
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from okectl.config.models import Supplier
from okectl.model.resources import Address

MANAGED_BY = "managed-by"
MANAGED_BY_VALUE = "okectl"
LABEL_REPOSITORY = "okectl/repository"
LABEL_COMMIT = "okectl/commit"


def fingerprint(secret: str) -> str:
    """What a supplier reports instead of a secret: enough to notice a change, no more."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True, repr=False)
class ActualResource:
    address: Address
    spec: dict[str, Any]
    etag: str
    labels: dict[str, str] = field(default_factory=dict)
    # Fields the supplier owns (base_url, timestamps): shown, never compared.
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Short on purpose: Python 3.11's asyncio.run formats the main task's result when
        # it restores the SIGINT handler, and a refresh result holds 10,000 of these.
        return f"ActualResource({self.address}, etag={self.etag})"

    def owned_by(self, repository: str) -> bool:
        # Both labels must match: a resource that says only "managed-by: okectl" could
        # belong to any repository, and must not be pruned by whichever plans first.
        return (
            self.labels.get(MANAGED_BY) == MANAGED_BY_VALUE
            and self.labels.get(LABEL_REPOSITORY) == repository
        )


@dataclass(frozen=True, slots=True)
class Release:
    product_version: str
    oke_versions: tuple[str, ...]
    released: date | None
    end_of_support: date | None
    notes_url: str | None


class ProviderError(Exception):
    """A supplier call failed; the message names the supplier, the address and whom to contact."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        address: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.address = address


class PreconditionFailed(ProviderError):
    """The resource changed at the supplier since it was read (HTTP 412)."""


class OutcomeUnknown(ProviderError):
    """A write okectl gave up on after an attempt that may have reached the supplier (its
    answer was lost, or the server failed while handling it): it may have been carried out."""


class Provider(Protocol):
    supplier: Supplier

    async def list_tenants(self) -> list[str]:
        """The schools this credential can see."""
        ...

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        """Every environment, client and role of these schools, with list calls."""
        ...

    async def read_resources(self, schools: Collection[str] | None = None) -> list[ActualResource]:
        """Every environment, client and role of the tenants this credential sees (of these
        schools only, when given), in as few round trips as the API allows. A school the
        supplier does not know has nothing to read.

        Optional for adapters: refresh falls back to list_tenants and read_tenants."""
        ...

    async def create(self, address: Address, body: dict[str, Any], labels: dict[str, str]) -> ActualResource:
        """Create with If-None-Match: *; body may carry a write-only `secret`."""
        ...

    async def update(
        self, address: Address, body: dict[str, Any], labels: dict[str, str], etag: str
    ) -> ActualResource:
        """Replace with If-Match: etag."""
        ...

    async def delete(self, address: Address, etag: str) -> None:
        """Delete with If-Match: etag."""
        ...

    async def releases(self) -> list[Release]: ...

    async def service_info(self, base_url: str) -> dict[str, Any]:
        """The OOAPI service document (`GET {base_url}/`) of an environment."""
        ...

    async def aclose(self) -> None: ...
