"""``api.provider: requests``: a supplier whose support desk makes the changes.

It never calls the supplier. Its reads return what the supplier confirmed, recorded in
the repository (``state/<supplier>/<school>.yaml``); its writes refuse, since apply hands a
requests supplier's changes to :func:`okectl.requests.write_change_requests` instead
(the adapter declares ``Capability.CHANGE_REQUESTS`` for the core to ask).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import BaseModel

from okectl.config.models import SecretRef, Supplier
from okectl.config.record import load_records
from okectl.config.repository import DesiredState
from okectl.errors import OkectlError, Problem
from okectl.model.releases import Release
from okectl.model.resources import ActualResource, Address
from okectl.providers.base import Adapter, AdapterContext, Capability, Provider, ProviderError
from okectl.requests.recorded import actual_resources
from okectl.requests.settings import RequestsSettings


class RequestsProvider:
    """The recorded state of one supplier, read as an adapter's answers."""

    def __init__(self, supplier: Supplier, ctx: AdapterContext) -> None:
        self.supplier = supplier
        self.root = ctx.repo_root
        self._resolve_ref = ctx.resolve_secret
        self._repository = ctx.repository

    def _resolve(self, ref: str) -> str | None:
        kind, _, name = ref.partition(":")
        try:
            return self._resolve_ref(SecretRef(env=name) if kind == "env" else SecretRef(file=name))
        except (OkectlError, ValueError) as exc:
            raise ProviderError(f"supplier {self.supplier.id}: the recorded secret {ref}: {exc}") from None

    def _records(self) -> dict[str, Any]:
        records, problems = load_records(self.root, self.supplier.id)
        if problems:
            raise ProviderError("\n".join(str(p) for p in sorted(problems)))
        return records


    async def list_tenants(self) -> list[str]:
        return sorted(self._records())

    async def denied_tenants(self, schools: Collection[str]) -> list[str]:
        # The record is this repository's own: no school is hidden from it.
        return []

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        return await self.read_resources(schools)

    async def read_resources(self, schools: Collection[str] | None = None) -> list[ActualResource]:
        out: list[ActualResource] = []
        for code, loaded in sorted(self._records().items()):
            if schools is None or code in schools:
                out.extend(
                    actual_resources(loaded.record, repository=self._repository, resolve=self._resolve)
                )
        return out

    def _no_writes(self, address: Address) -> ProviderError:
        return ProviderError(
            f"{address}: supplier {self.supplier.id} is changed by its support desk; okectl writes a "
            "change request (requests/) instead of calling it",
            address=str(address),
        )

    async def create(self, address: Address, body: dict[str, Any], labels: dict[str, str]) -> ActualResource:
        raise self._no_writes(address)

    async def update(
        self, address: Address, body: dict[str, Any], labels: dict[str, str], etag: str
    ) -> ActualResource:
        raise self._no_writes(address)

    async def delete(self, address: Address, etag: str) -> None:
        raise self._no_writes(address)

    async def releases(self) -> list[Release]:
        return []

    async def service_info(self, base_url: str) -> dict[str, Any]:
        raise ProviderError(f"supplier {self.supplier.id} has no administration API to ask")

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> RequestsProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def make_provider(supplier: Supplier, ctx: AdapterContext) -> Provider:
    return RequestsProvider(supplier, ctx)


def check(state: DesiredState, supplier: Supplier, settings: BaseModel | None) -> list[Problem]:
    """A requests supplier needs a support address to write to, and its records must load."""
    problems: list[Problem] = []
    if supplier.support.email is None:
        problems.append(
            state.problem(
                "supplier",
                supplier.id,
                ("support",) if "support" in _keys(state, supplier.id) else ("api", "provider"),
                "a supplier managed by change requests needs support.email, the address requests go to",
            )
        )
    problems.extend(load_records(state.root, supplier.id)[1])
    return problems


def _keys(state: DesiredState, sid: str) -> Collection[Any]:
    src = state.source("supplier", sid)
    return src.data.keys() if src is not None and isinstance(src.data, dict) else ()


ADAPTER = Adapter(
    name="requests",
    create=make_provider,
    settings_model=RequestsSettings,
    capabilities=frozenset({Capability.BULK_READ, Capability.CHANGE_REQUESTS}),
    check=check,
)
