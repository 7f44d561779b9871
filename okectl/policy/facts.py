"""What a rule looks at: one environment, client, connection or school, with the way back
to the YAML value that decides each of its fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from okectl.config.models import Client, Connection, EnvironmentOverride, Profile, School, Supplier

# (file kind, file id, key path inside the file, point at the key rather than the value)
Loc = tuple[str, str, tuple[Any, ...], bool]

# Fields an environment takes from its profile unless the school overrides them.
PROFILE_FIELDS = frozenset({"sso", "type", "status", "protect"})
# Fields an environment takes from its connection unless the school overrides them.
CONNECTION_FIELDS = frozenset({"oke_version", "flows"})


@dataclass(slots=True, eq=False)
class EnvView:
    address: str
    name: str
    spec: dict[str, Any]
    school: School
    supplier: Supplier
    conn: Connection
    override: EnvironmentOverride | None
    profile: Profile | None

    @property
    def code(self) -> str:
        return self.school.code

    @property
    def type(self) -> str:
        return str(self.spec["type"])

    @property
    def oke_version(self) -> str:
        return str(self.spec["oke_version"])

    @property
    def flows(self) -> list[int]:
        return list(self.spec["flows"])

    def _conn_path(self, *path: Any) -> tuple[Any, ...]:
        return ("connections", self.supplier.id, *path)

    def entry(self) -> Loc:
        """The environment's own entry: its override, else the connection that brings it."""
        if self.override is not None:
            return ("school", self.code, self._conn_path("environments", self.name), True)
        return ("school", self.code, self._conn_path(), True)

    def at(self, name: str) -> Loc:
        """Where the value of field ``name`` of this environment is written."""
        if self.override is not None and getattr(self.override, name, None) is not None:
            return ("school", self.code, self._conn_path("environments", self.name, name), False)
        if name in CONNECTION_FIELDS:
            return ("school", self.code, self._conn_path(name), False)
        if name in PROFILE_FIELDS and self.profile is not None and self.name in self.profile.environments:
            return ("profile", self.profile.id, ("environments", self.name, name), False)
        if name in ("profile", "clients", "function"):
            return ("school", self.code, self._conn_path(name), False)
        return self.entry()

    def at_flow(self, flow: int) -> Loc:
        """The item of the flows list that brings ``flow`` into this environment."""
        kind, ident, path, _ = self.at("flows")
        source = (
            self.override.flows
            if self.override is not None and self.override.flows is not None
            else self.conn.flows
        )
        if flow in source:
            return (kind, ident, (*path, source.index(flow)), False)
        return (kind, ident, path, False)


@dataclass(slots=True, eq=False)
class ClientView:
    address: str
    system: str
    client: Client
    spec: dict[str, Any]
    env: EnvView

    def scope_at(self, index: int) -> Loc:
        return (
            "school",
            self.env.code,
            ("connections", self.env.supplier.id, "clients", self.system, "scopes", index),
            False,
        )


@dataclass(slots=True, eq=False)
class ConnView:
    school: School
    supplier: Supplier
    conn: Connection
    profile: Profile | None
    envs: list[EnvView] = field(default_factory=list)
    clients: list[ClientView] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.supplier.id}/{self.school.code}"

    def at(self, *path: Any, key: bool = False) -> Loc:
        return ("school", self.school.code, ("connections", self.supplier.id, *path), key)


@dataclass(slots=True, eq=False)
class SchoolView:
    school: School
    conns: list[ConnView]

    @property
    def envs(self) -> list[EnvView]:
        return [e for c in self.conns for e in c.envs]
