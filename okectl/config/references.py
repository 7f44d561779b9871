"""Checks that span files: references between schools, suppliers, profiles and catalogues."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from okectl.config.calendar import check_calendar
from okectl.config.hints import did_you_mean
from okectl.config.models import OKE_SCOPES, Connection, School
from okectl.config.repository import DesiredState
from okectl.config.rollout import check_rollout
from okectl.errors import Problem


def _flows(flows: Iterable[int]) -> str:
    return ", ".join(str(f) for f in sorted(flows))


def connection_function(state: DesiredState, supplier_id: str, conn: Connection) -> str | None:
    """The functional role a supplier plays in a connection, when it can be known."""
    if conn.function is not None:
        return conn.function
    supplier = state.suppliers.get(supplier_id)
    if supplier is not None and len(supplier.roles) == 1:
        return supplier.roles[0]
    return None


def check_references(state: DesiredState) -> list[Problem]:
    problems: list[Problem] = []
    versions = state.versions.oke_versions if state.versions else None
    catalogue = state.roles.roles if state.roles else None

    def version_known(kind: str, ident: str, loc: tuple[object, ...], version: str) -> None:
        if versions is not None and version not in versions:
            problems.append(
                state.problem(
                    kind,
                    ident,
                    loc,
                    f"OKE version {version!r} is not in the version catalogue "
                    f"(policies/versions.yaml: {', '.join(versions)})"
                    + (did_you_mean(version, versions) or "; use one of those, or add it to the catalogue"),
                )
            )

    for sid, supplier in state.suppliers.items():
        for i, v in enumerate(supplier.oke_versions):
            version_known("supplier", sid, ("oke_versions", i), v)
        for i, cert in enumerate(supplier.certification):
            version_known("supplier", sid, ("certification", i, "oke"), cert.oke)
        if catalogue is not None:
            for role in supplier.role_names:
                if role not in catalogue:
                    problems.append(
                        state.problem(
                            "supplier",
                            sid,
                            ("role_names", role),
                            f"role {role!r} is not in the role catalogue (policies/roles.yaml)"
                            + (did_you_mean(role, catalogue) or "; add it there or fix the name"),
                            key=True,
                        )
                    )

    if state.roles is not None:
        for i, pair in enumerate(state.roles.separation_of_duties):
            for j, role in enumerate(pair.roles):
                if role not in state.roles.roles:
                    problems.append(
                        state.problem(
                            "policy",
                            "roles",
                            ("separation_of_duties", i, "roles", j),
                            f"role {role!r} is not in the catalogue"
                            + (
                                did_you_mean(role, state.roles.roles)
                                or "; add it under roles or fix the name"
                            ),
                        )
                    )

    for code, school in state.schools.items():
        problems.extend(_check_school(state, code, school, version_known))
    problems.extend(check_calendar(state))
    problems.extend(check_rollout(state))
    return problems


VersionCheck = Callable[[str, str, tuple[object, ...], str], None]


def _check_school(
    state: DesiredState, code: str, school: School, version_known: VersionCheck
) -> list[Problem]:
    out: list[Problem] = []
    catalogue = state.roles.roles if state.roles else None

    def add(loc: tuple[object, ...], message: str, *, key: bool = False) -> None:
        out.append(state.problem("school", code, loc, message, key=key))

    for function, system in school.systems.items():
        supplier = state.suppliers.get(system)
        if supplier is None and ("supplier", system) in state.unparsed:
            continue
        if supplier is None:
            add(
                ("systems", function),
                f"unknown supplier {system!r}: there is no suppliers/{system}.yaml"
                f"{did_you_mean(system, state.suppliers)}",
            )
        elif function not in supplier.roles:
            add(
                ("systems", function),
                f"supplier {system!r} does not play the {function} role "
                f"(it plays {', '.join(supplier.roles)}); pick a supplier that does",
            )

    if catalogue is not None:
        for role in school.roles:
            if role not in catalogue:
                add(
                    ("roles", role),
                    f"role {role!r} is not in the role catalogue (policies/roles.yaml)"
                    + (did_you_mean(role, catalogue) or "; add it there or fix the name"),
                    key=True,
                )

    systems = set(school.systems.values())
    # A system whose supplier does not exist is reported above; suggesting it again would
    # repeat the typo.
    known_systems = {s for s in systems if s in state.suppliers}
    for sid, conn in school.connections.items():
        base = ("connections", sid)
        supplier = state.suppliers.get(sid)
        if supplier is None and ("supplier", sid) in state.unparsed:
            continue
        if supplier is None:
            add(
                base,
                f"unknown supplier {sid!r}: there is no suppliers/{sid}.yaml"
                f"{did_you_mean(sid, state.suppliers)}",
                key=True,
            )
            continue
        if conn.function is not None and conn.function not in supplier.roles:
            add(
                (*base, "function"),
                f"supplier {sid!r} does not play the {conn.function} role "
                f"(it plays {', '.join(supplier.roles)}); set function to one of those, "
                "or connect a supplier that plays it",
            )
        elif conn.function is None and len(supplier.roles) > 1:
            add(
                base,
                f"supplier {sid!r} plays several roles ({', '.join(supplier.roles)}); "
                "say which one this connection is for with function: <role>",
                key=True,
            )
        profile = None
        if conn.profile is not None:
            profile = state.profiles.get(conn.profile)
            if profile is None and ("profile", conn.profile) not in state.unparsed:
                add(
                    (*base, "profile"),
                    f"unknown profile {conn.profile!r}: there is no environments/{conn.profile}.yaml"
                    f"{did_you_mean(conn.profile, state.profiles)}",
                )
        version_known("school", code, (*base, "oke_version"), conn.oke_version)
        unsupported = sorted(set(conn.flows) - set(supplier.flows))
        if unsupported:
            add(
                (*base, "flows"),
                f"supplier {sid!r} does not implement flow(s) {_flows(unsupported)} "
                f"(it implements {_flows(supplier.flows)}); remove them from flows",
            )
        for system, client in conn.clients.items():
            cloc = (*base, "clients", system)
            if system not in systems:
                add(
                    cloc,
                    f"unknown system {system!r}: not among this school's systems "
                    f"({', '.join(sorted(systems)) or 'none'})"
                    + (did_you_mean(system, known_systems) or "; add it under systems or fix the name"),
                    key=True,
                )
            for i, scope in enumerate(client.scopes):
                covered = OKE_SCOPES.get(scope)
                if covered is None:
                    add(
                        (*cloc, "scopes", i),
                        f"unknown scope {scope!r}; OKE scopes are {', '.join(OKE_SCOPES)}"
                        f"{did_you_mean(scope, OKE_SCOPES)}",
                    )
                elif not covered & set(conn.flows):
                    add(
                        (*cloc, "scopes", i),
                        f"scope {scope!r} is for flow(s) {_flows(covered)}, none of which this "
                        f"connection uses (flows: {_flows(conn.flows)}); remove the scope or add the flow",
                    )
        for env, override in conn.environments.items():
            eloc = (*base, "environments", env)
            if override.oke_version is not None:
                version_known("school", code, (*eloc, "oke_version"), override.oke_version)
            if override.flows is not None:
                extra = sorted(set(override.flows) - set(supplier.flows))
                if extra:
                    add(
                        (*eloc, "flows"),
                        f"supplier {sid!r} does not implement flow(s) {_flows(extra)} "
                        f"(it implements {_flows(supplier.flows)}); remove them from flows",
                    )
            in_profile = profile is not None and env in profile.environments
            profile_unparsed = profile is None and ("profile", conn.profile) in state.unparsed
            if not in_profile and override.type is None and not profile_unparsed:
                where = f"profile {conn.profile!r}" if profile is not None else "no profile"
                hint = did_you_mean(env, profile.environments) if profile is not None else ""
                add(
                    eloc,
                    f"environment {env!r} is not in {where}{hint}; give it a type to add it",
                    key=True,
                )
        if conn.profile is None and not conn.environments:
            add(base, "connection has neither a profile nor environments; add profile: <id>", key=True)
    return out
