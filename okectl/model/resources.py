"""Resources okectl manages, their addresses, and the normal form they are compared in.

Addresses: ``<supplier>/<school>/<environment>`` for an environment,
``…/<environment>/client/<system>`` for an OAuth client registration and
``…/<environment>/role/<role>`` for a role binding. Diffs, plans, findings and journals
all speak in these addresses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["environment", "client", "role"]

# The fields okectl manages and writes, per kind: the wire format of a resource in the
# admin API (okectl/providers/admin-api.yaml), apart from what the supplier adds.
WIRE_FIELDS: dict[Kind, tuple[str, ...]] = {
    "environment": ("type", "status", "function", "oke_version", "ooapi_version", "flows", "sso"),
    "client": ("client_id", "scopes"),
    "role": ("name", "groups"),
}
# Fields the supplier adds to what it returns, beyond labels and etag.
READ_ONLY_FIELDS: dict[Kind, tuple[str, ...]] = {
    "environment": ("base_url", "created_at", "updated_at"),
    "client": ("created_at", "updated_at"),
    "role": ("created_at", "updated_at"),
}
# Fields of a resource that the supplier owns: shown, never diffed or written.
SUPPLIER_OWNED: dict[Kind, frozenset[str]] = {
    "environment": frozenset({"base_url", "created_at", "updated_at", "id", "labels", "etag"}),
    "client": frozenset({"secret_fingerprint", "created_at", "updated_at", "id", "labels", "etag"}),
    "role": frozenset({"created_at", "updated_at", "id", "labels", "etag"}),
}
# Fields whose value is a secret reference or a secret: compared, never printed.
SENSITIVE: dict[Kind, frozenset[str]] = {
    "environment": frozenset(),
    "client": frozenset({"secret"}),
    "role": frozenset(),
}


def normalise(value: Any) -> Any:
    """The form resources are compared in: list order and duplicates never make a diff
    (flows, scopes and groups are sets on every side)."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [normalise(v) for v in value]
        try:
            return sorted(set(items))
        except TypeError:
            # Unhashable or mixed items: still one order and no duplicates.
            unique = {json.dumps(v, sort_keys=True, default=str): v for v in items}
            return [unique[k] for k in sorted(unique)]
    return value


@dataclass(frozen=True, slots=True, order=True)
class Address:
    supplier: str
    school: str
    environment: str
    kind: Kind = "environment"
    name: str = ""

    def __str__(self) -> str:
        base = f"{self.supplier}/{self.school}/{self.environment}"
        return base if self.kind == "environment" else f"{base}/{self.kind}/{self.name}"

    @property
    def parent(self) -> Address | None:
        if self.kind == "environment":
            return None
        return Address(self.supplier, self.school, self.environment)

    @classmethod
    def parse(cls, text: str) -> Address:
        parts = text.strip("/").split("/")
        if len(parts) == 3:
            return cls(parts[0], parts[1], parts[2])
        if len(parts) == 5 and parts[3] in ("client", "role"):
            kind: Kind = "client" if parts[3] == "client" else "role"
            return cls(parts[0], parts[1], parts[2], kind, parts[4])
        raise ValueError(
            f"{text!r} is not a resource address; expected supplier/school/environment"
            "[/client/<system>|/role/<role>]"
        )


@dataclass(slots=True)
class Resource:
    """One desired (or actual) resource: its address and the fields okectl manages."""

    address: Address
    spec: dict[str, Any]
    # Where in the YAML the resource comes from: (kind, id, key path) for locating.
    origin: tuple[str, str, tuple[Any, ...]] | None = None
    protected: bool = False
    # An environment's OKE base URL as the repository declares it: where okectl verify
    # looks. Metadata, never diffed and never written to a supplier.
    endpoint: str | None = None

    @property
    def kind(self) -> Kind:
        return self.address.kind


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
    # Why okectl cannot address this resource at the supplier (a name outside the API's
    # patterns, an ETag it cannot send back), or None. Such a resource is listed as
    # unmanaged with this reason and never written; its address shows the name escaped.
    unaddressable: str | None = None

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
