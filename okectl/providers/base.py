"""The provider protocol and the shapes that cross it.

A provider speaks to one supplier. The plan only ever sees `ActualResource`s and calls
the protocol's methods, so a third-party adapter can replace the HTTP provider.

Wire format (JSON, see ``okectl/providers/admin-api.yaml``): per resource kind, the fields
okectl manages are ``okectl.model.resources.WIRE_FIELDS``; the supplier adds ``labels``,
``etag`` and the fields it owns (``READ_ONLY_FIELDS``). A client's ``secret`` is sent on
write only; responses carry ``secret_fingerprint`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from okectl.config.models import SecretRef, Supplier
from okectl.config.repository import DesiredState
from okectl.errors import Problem
from okectl.model.releases import Release
from okectl.model.resources import ActualResource, Address


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


class Capability(StrEnum):
    """What an adapter can do beyond the required reads and writes. The core asks these
    instead of probing the adapter for methods."""

    # read_resources: every tenant's resources in as few round trips as the API allows
    BULK_READ = "bulk-read"
    # releases: the supplier's product versions and the OKE versions they support
    RELEASES = "releases"
    # service_info: an environment's OOAPI service document (GET {base_url}/)
    SERVICE_INFO = "service-info"
    # The supplier is changed by its support desk, not by writes: apply hands the changes
    # of each school to okectl.requests.write_change_requests instead of create/update/delete,
    # whose reads return what the supplier confirmed (state/<supplier>/<school>.yaml).
    CHANGE_REQUESTS = "change-requests"


class Provider(Protocol):
    supplier: Supplier

    async def list_tenants(self) -> list[str]:
        """The schools this credential can see."""
        ...

    async def denied_tenants(self, schools: Collection[str]) -> list[str]:
        """Of these schools, those this credential may not see (a school the supplier does
        not know yet, but the credential could see, is not denied). Optional: the core asks
        only adapters that have it."""
        ...

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        """Every environment, client and role of these schools, with list calls."""
        ...

    async def read_resources(self, schools: Collection[str] | None = None) -> list[ActualResource]:
        """Every environment, client and role of the tenants this credential sees (of these
        schools only, when given), in as few round trips as the API allows. A school the
        supplier does not know has nothing to read.

        Only called when the adapter declares Capability.BULK_READ; otherwise refresh uses
        list_tenants and read_tenants."""
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


@dataclass(frozen=True, kw_only=True)
class AdapterContext:
    """What the core hands an adapter when it makes a provider for a supplier."""

    repo_root: Path
    # The adapter's own settings (``api.settings``), validated by its settings_model.
    settings: BaseModel | None
    # Secret references read through the repository's rules (okectl.yaml ``secrets``).
    resolve_secret: Callable[[SecretRef], str | None]
    # The repository's id (okectl.yaml ``repository``), as ownership labels carry it.
    repository: str = ""


@dataclass(frozen=True, kw_only=True)
class OkeAccess:
    """How okectl verify reaches a supplier's OKE endpoints (not its admin API)."""

    client_id: str
    client_secret: str
    # None: each environment's own ``{base_url}/oauth/token``.
    token_url: str | None = None
    # An httpx transport to use instead of the network (an in-process supplier).
    transport: Any = None
    # A reference supplier on this machine (the sandbox): its loopback endpoints are
    # exempt from the https check. Never for a real supplier, whatever its URL says.
    local: bool = False


@dataclass(frozen=True, kw_only=True)
class Adapter:
    """A registered way of talking to suppliers (``api.provider`` names it)."""

    name: str
    create: Callable[[Supplier, AdapterContext], Provider]
    # A pydantic model for ``api.settings``; None: the adapter takes no settings.
    settings_model: type[BaseModel] | None = None
    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    # How verify reaches the supplier's OKE endpoints; None: the client in ``api.auth``.
    oke_access: Callable[[Supplier, AdapterContext], OkeAccess] | None = None
    # The adapter's own checks of a supplier file (and of files it keeps for the supplier),
    # run by validate with the settings (None when they do not pass settings_model):
    # problems located in the files.
    check: Callable[[DesiredState, Supplier, BaseModel | None], list[Problem]] | None = None
