"""Profile resolution: a school's connections, their profiles and overrides → desired resources."""

from __future__ import annotations

from dataclasses import dataclass

from okectl.config.models import Connection, Profile, School, Supplier
from okectl.config.references import connection_function
from okectl.config.repository import DesiredState
from okectl.model.resources import Address, Resource


@dataclass(frozen=True, slots=True)
class Protection:
    """What the configuration says about protecting one environment from deletion."""

    # protect: true / false as written (the school's override wins over the profile);
    # None when neither says.
    protect: bool | None = None
    # Where it is said, for messages.
    where: str = ""

    def protected(self, env_type: str | None) -> bool:
        # Production is protected unless the configuration says protect: false.
        return self.protect if self.protect is not None else env_type == "production"


def _environments(state: DesiredState, conn: Connection) -> dict[str, tuple[str, str, str, Protection]]:
    """A connection's environments, its profile's merged with the school's overrides:
    name → (type, sso, status, protection)."""
    profile: Profile | None = state.profiles.get(conn.profile) if conn.profile else None
    envs: dict[str, tuple[str, str, str, Protection]] = {}
    if profile is not None:
        for name, penv in profile.environments.items():
            where = f"environments.{name} of profile {profile.id}"
            envs[name] = (penv.type, penv.sso, penv.status, Protection(penv.protect, where))
    for name, given in conn.environments.items():
        etype, sso, status, protect = envs.get(name, (given.type or "test", "required", "live", Protection()))
        if given.protect is not None:
            protect = Protection(given.protect, "")
        envs[name] = (given.type or etype, given.sso or sso, given.status or status, protect)
    return envs


def environment_protection(state: DesiredState) -> dict[Address, tuple[Protection, str | None]]:
    """Every environment the configuration names (in a profile or a school's override, an
    absent one included), with what it says about protecting it and its configured type.

    The one place protection is decided: the desired resources and the safety check both
    use it, so a profile's protect: true holds even where the school marks it absent."""
    out: dict[Address, tuple[Protection, str | None]] = {}
    for code, school in state.schools.items():
        for sid, conn in school.connections.items():
            for name, (etype, _sso, _status, protect) in _environments(state, conn).items():
                if protect.protect is not None and not protect.where:
                    protect = Protection(
                        protect.protect,
                        f"connections.{sid}.environments.{name} in schools/{code}.yaml",
                    )
                out[Address(sid, code, name)] = (protect, etype)
    return out


def client_id_for(school: School, system: str) -> str:
    # One client id per tenant (school) per system, as OKE implementers agreed.
    return f"{system}-{school.code.lower()}"


def resolve_connection(
    state: DesiredState, school: School, supplier: Supplier, conn: Connection
) -> list[Resource]:
    versions = state.versions.oke_versions if state.versions else {}
    out: list[Resource] = []
    envs = _environments(state, conn)
    base_loc = ("connections", supplier.id)
    function = connection_function(state, supplier.id, conn)
    # Clients and roles are the same in every environment of a connection: work them out
    # once, and give each environment its own copy of the spec.
    client_specs = [
        (
            system,
            client.client_id or client_id_for(school, system),
            sorted(set(client.scopes)),
            client.secret.describe() if client.secret else None,
        )
        for system, client in conn.clients.items()
    ]
    role_specs = [
        (role, supplier.role_names[role], sorted(set(groups)))
        for role, groups in school.roles.items()
        if role in supplier.role_names
    ]
    for name, (etype, sso, status, protect) in envs.items():
        override = conn.environments.get(name)
        if override is not None and override.absent:
            continue
        oke = (override.oke_version if override and override.oke_version else None) or conn.oke_version
        flows = (override.flows if override and override.flows is not None else None) or conn.flows
        catalogue_entry = versions.get(oke)
        env_addr = Address(supplier.id, school.code, name)
        loc = (*base_loc, "environments", name) if override is not None else base_loc
        out.append(
            Resource(
                address=env_addr,
                spec={
                    "type": etype,
                    "status": status,
                    "function": function,
                    "oke_version": oke,
                    "ooapi_version": catalogue_entry.ooapi if catalogue_entry else None,
                    "flows": sorted(set(flows)),
                    "sso": {
                        "mode": sso,
                        "federation": school.federation if sso != "off" else None,
                        "schac_home": school.schac_home,
                    },
                },
                origin=("school", school.code, loc),
                protected=protect.protected(etype),
                endpoint=override.base_url if override is not None else None,
            )
        )
        for system, client_id, scopes, secret in client_specs:
            out.append(
                Resource(
                    address=Address(supplier.id, school.code, name, "client", system),
                    spec={"client_id": client_id, "scopes": list(scopes), "secret": secret},
                    origin=("school", school.code, (*base_loc, "clients", system)),
                )
            )
        for role, role_name, groups in role_specs:
            out.append(
                Resource(
                    address=Address(supplier.id, school.code, name, "role", role),
                    spec={"name": role_name, "groups": list(groups)},
                    origin=("school", school.code, ("roles", role)),
                )
            )
    return out



def desired_resources(
    state: DesiredState,
    *,
    schools: set[str] | None = None,
    suppliers: set[str] | None = None,
) -> list[Resource]:
    """Every desired resource, optionally only for some schools or suppliers."""
    out: list[Resource] = []
    for code, school in state.schools.items():
        if schools is not None and code not in schools:
            continue
        for sid, conn in school.connections.items():
            if suppliers is not None and sid not in suppliers:
                continue
            supplier = state.suppliers.get(sid)
            if supplier is None:
                continue
            out.extend(resolve_connection(state, school, supplier, conn))
    return out
