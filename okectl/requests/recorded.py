"""The recorded state as resources: what the requests adapter reads, and how a confirmed
request or an export changes it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from okectl.config.record import (
    Provenance,
    RecordedClient,
    RecordedEnvironment,
    RecordedRole,
    RecordedSecret,
    RecordedState,
)
from okectl.model.resources import (
    LABEL_REPOSITORY,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    WIRE_FIELDS,
    ActualResource,
    Address,
    Kind,
    fingerprint,
)
from okectl.requests.secrets import digest_matches

# Reported for a client whose recorded secret is not the value its reference holds now:
# anything but the value's fingerprint makes the plan exchange the secret again.
SECRET_MOVED_ON = "recorded:another-value"

# A secret reference (env:NAME, file:PATH) → its value, None when it is not set.
Resolve = Callable[[str], str | None]


def environment_spec(env: RecordedEnvironment) -> dict[str, Any]:
    sso = env.sso
    return {
        "type": env.type,
        "status": env.status,
        "function": env.function,
        "oke_version": env.oke_version,
        "ooapi_version": env.ooapi_version,
        "flows": sorted(set(env.flows)),
        "sso": (
            {"mode": sso.mode, "federation": sso.federation, "schac_home": sso.schac_home}
            if sso is not None
            else None
        ),
    }


def client_spec(client: RecordedClient) -> dict[str, Any]:
    return {"client_id": client.client_id, "scopes": sorted(set(client.scopes))}


def role_spec(role: RecordedRole) -> dict[str, Any]:
    return {"name": role.name, "groups": sorted(set(role.groups))}


def resources_of(record: RecordedState) -> dict[Address, dict[str, Any]]:
    """Every recorded resource's managed fields, by address (no secrets, no provenance)."""
    out: dict[Address, dict[str, Any]] = {}
    for name, env in record.environments.items():
        base = Address(record.supplier, record.school, name)
        out[base] = environment_spec(env)
        for system, client in env.clients.items():
            out[Address(record.supplier, record.school, name, "client", system)] = client_spec(client)
        for role, binding in env.roles.items():
            out[Address(record.supplier, record.school, name, "role", role)] = role_spec(binding)
    return out


def confirmed_by(record: RecordedState) -> dict[str, str | None]:
    """Per recorded resource (its address as text), the change request its value comes
    from (None: an export or an observation)."""
    out: dict[str, str | None] = {}
    for name, env in record.environments.items():
        base = Address(record.supplier, record.school, name)
        out[str(base)] = env.source.request if env.source else None
        for system, client in env.clients.items():
            address = Address(record.supplier, record.school, name, "client", system)
            out[str(address)] = client.source.request if client.source else None
        for role, binding in env.roles.items():
            address = Address(record.supplier, record.school, name, "role", role)
            out[str(address)] = binding.source.request if binding.source else None
    return out


def _etag(entry: Any) -> str:
    # A digest of the recorded resource as written, provenance included: an If-Match
    # against the record fails when anything about the resource was recorded since.
    dumped = entry.model_dump(mode="json", exclude={"clients", "roles"})
    text = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


def actual_resources(record: RecordedState, *, repository: str, resolve: Resolve) -> list[ActualResource]:
    """The record as the actual state of the supplier for one school. Everything recorded
    is this repository's: the record holds only what was requested from, or confirmed by,
    the supplier for the schools of this repository."""
    labels = {MANAGED_BY: MANAGED_BY_VALUE, LABEL_REPOSITORY: repository}
    out: list[ActualResource] = []

    def add(address: Address, spec: dict[str, Any], entry: Any) -> None:
        extra = {"source": entry.source.model_dump(mode="json", exclude_none=True)} if entry.source else {}
        out.append(ActualResource(address, spec, _etag(entry), dict(labels), extra))

    for name, env in record.environments.items():
        base = Address(record.supplier, record.school, name)
        add(base, environment_spec(env), env)
        for system, client in env.clients.items():
            spec = client_spec(client)
            if client.secret is not None:
                value = resolve(client.secret.ref)
                if value is not None:
                    spec["secret_fingerprint"] = (
                        fingerprint(value) if digest_matches(value, client.secret.digest) else SECRET_MOVED_ON
                    )
            add(Address(record.supplier, record.school, name, "client", system), spec, client)
        for role, binding in env.roles.items():
            add(Address(record.supplier, record.school, name, "role", role), role_spec(binding), binding)
    return out


def _fields(kind: Kind, values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: values.get(k) for k in WIRE_FIELDS[kind] if values.get(k) is not None}


def with_resources(
    record: RecordedState,
    resources: Iterable[tuple[Address, Mapping[str, Any] | None]],
    *,
    source: Provenance,
    secrets: Mapping[Address, RecordedSecret] | None = None,
) -> RecordedState:
    """The record with each resource set to its values (None: removed), recorded as coming
    from ``source``. A resource whose values do not change keeps its provenance, so a
    refreshed export does not rewrite what a request confirmed."""
    doc = record.model_dump(mode="python")
    envs: dict[str, Any] = doc.setdefault("environments", {})
    secrets = secrets or {}
    ordered = sorted(resources, key=lambda item: (item[0].kind != "environment", item[0]))
    for address, values in ordered:
        if address.kind == "environment":
            if values is None:
                envs.pop(address.environment, None)
                continue
            current = envs.get(address.environment) or {"clients": {}, "roles": {}}
            fields = _fields("environment", values)
            new = {**{k: current.get(k) for k in ("clients", "roles")}, **fields}
            if _same(current, new, WIRE_FIELDS["environment"]):
                continue
            envs[address.environment] = {**new, "source": source.model_dump(mode="python")}
            continue
        if values is None:
            # Gone with its environment, or on its own; never an empty environment made
            # to remove it from.
            present = envs.get(address.environment)
            if present is not None:
                present.get("clients" if address.kind == "client" else "roles", {}).pop(address.name, None)
            continue
        env = envs.setdefault(address.environment, {"clients": {}, "roles": {}})
        group: dict[str, Any] = env.setdefault("clients" if address.kind == "client" else "roles", {})
        current = group.get(address.name) or {}
        new = _fields(address.kind, values)
        secret = secrets.get(address)
        if address.kind == "client":
            new["secret"] = secret.model_dump() if secret is not None else current.get("secret")
        if _same(current, new, (*WIRE_FIELDS[address.kind], "secret")):
            continue
        group[address.name] = {**new, "source": source.model_dump(mode="python")}
    return RecordedState.model_validate(doc)


def _same(current: Mapping[str, Any], new: Mapping[str, Any], keys: Iterable[str]) -> bool:
    def norm(value: Any) -> Any:
        return sorted(set(value)) if isinstance(value, list) else value

    return all(norm(current.get(k)) == norm(new.get(k)) for k in keys)
