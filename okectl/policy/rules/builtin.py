"""The built-in rule kinds: environments, versions, single sign-on, privacy, certification, roles."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field

from okectl.config.models import (
    OKE_SCOPES,
    EnvironmentType,
    Federation,
    Model,
    Slug,
    SsoMode,
    Supplier,
    Version,
)
from okectl.config.policies import Rule
from okectl.config.repository import DesiredState
from okectl.model.versions import major_minor, version_key
from okectl.policy.facts import ClientView, ConnView, EnvView, SchoolView
from okectl.policy.rules.base import Check, listing
from okectl.policy.rules.freeze import FreezeCheck
from okectl.policy.rules.requests import RequestAge

CatalogueStatus = Literal["final", "concept", "draft", "outdated"]
DpiaStatus = Literal["approved", "pending", "rejected", "none"]


# --- environments ----------------------------------------------------------------------


class MaxEnvironmentsParams(Model):
    max: Annotated[int, Field(ge=1, description="The most environments one connection may have")]


class MaxEnvironments(Check):
    kind = "max-environments"
    summary = "At most N environments per connection"
    params_model = MaxEnvironmentsParams

    def connection(self, conn: ConnView) -> None:
        envs = [e for e in conn.envs if self.env_types is None or e.type in self.env_types]
        limit: int = self.params.max
        if len(envs) <= limit:
            return
        in_profile = conn.profile.environments if conn.profile is not None else {}
        added = [e for e in envs if e.name not in in_profile]
        # The offending value is whatever brought the count over the limit: an environment
        # the school added, or else the profile it chose.
        if added and len(envs) - len(added) <= limit:
            loc = added[0].entry()
        elif conn.conn.profile is not None:
            loc = conn.at("profile")
        else:
            loc = conn.at(key=True)
        names = ", ".join(e.name for e in envs)
        self.out.emit(
            self.rule,
            conn.address,
            loc,
            f"{len(envs)} environments ({names}); the harmonised maximum is {limit} per connection",
            school=conn.school.code,
            supplier=conn.supplier.id,
        )


class ProfileTypesParams(Model):
    also_allow: list[EnvironmentType] = Field(
        default_factory=list, description="Environment types allowed even when the profile lacks them"
    )


class ProfileEnvironmentTypes(Check):
    kind = "profile-environment-types"
    summary = "Only the environment types the connection's profile allows"
    params_model = ProfileTypesParams

    def environment(self, env: EnvView) -> None:
        if env.profile is None:
            return
        allowed = {p.type for p in env.profile.environments.values()} | set(self.params.also_allow)
        if env.type not in allowed:
            self.env_finding(
                env,
                env.at("type"),
                f"environment type {env.type} is not in profile {env.profile.id} "
                f"(it allows {listing(sorted(allowed))}); drop the environment or choose a profile with it",
            )


class ProfileRequired(Check):
    kind = "profile-required"
    summary = "Every connection uses an environment profile"

    def connection(self, conn: ConnView) -> None:
        if conn.conn.profile is None:
            profiles = listing(sorted(self.out.state.profiles))
            self.out.emit(
                self.rule,
                conn.address,
                conn.at(key=True),
                f"connection has no profile; use one of the harmonised profiles ({profiles})",
                school=conn.school.code,
                supplier=conn.supplier.id,
            )


# --- versions --------------------------------------------------------------------------


class SupportedVersionParams(Model):
    statuses: Annotated[list[CatalogueStatus], Field(min_length=1)] = Field(
        default=["final"], description="Catalogue statuses accepted"
    )
    within_days: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description="Also flag versions whose end of support is at most this many days away",
    )


class SupportedVersion(Check):
    kind = "supported-version"
    summary = "OKE versions the catalogue lists as supported, not past end of support"
    params_model = SupportedVersionParams

    def environment(self, env: EnvView) -> None:
        version = env.oke_version
        entry = self.catalogue_version(version)
        today = self.out.today
        if entry is None:
            self.env_finding(env, env.at("oke_version"), f"OKE {version} is not in the version catalogue")
            return
        statuses: list[str] = self.params.statuses
        if entry.status not in statuses:
            self.env_finding(
                env,
                env.at("oke_version"),
                f"OKE {version} is {entry.status} in the version catalogue; "
                f"{env.type} environments run {' or '.join(statuses)} versions{self._suggest(version)}",
            )
            return
        eos = entry.end_of_support
        if eos is None:
            return
        if eos < today:
            self.env_finding(
                env,
                env.at("oke_version"),
                f"OKE {version} reached end of support on {eos.isoformat()}{self._suggest(version)}",
            )
        elif self.params.within_days and eos <= today + timedelta(days=self.params.within_days):
            self.env_finding(
                env,
                env.at("oke_version"),
                f"OKE {version} reaches end of support on {eos.isoformat()}, in {(eos - today).days} days"
                f"{self._suggest(version)}",
            )

    def _suggest(self, current: str) -> str:
        versions = self.out.state.versions
        if versions is None:
            return ""
        today = self.out.today
        candidates = [
            v
            for v, e in versions.oke_versions.items()
            if e.status in self.params.statuses
            and (e.end_of_support is None or e.end_of_support > today)
            and version_key(v) > version_key(current)
        ]
        if not candidates:
            return ""
        return f"; plan the move to OKE {max(candidates, key=version_key)}"


class OoapiParams(Model):
    allowed: list[Version] | None = Field(
        default=None, description="OOAPI versions the fleet accepts (default: any)"
    )


class OoapiVersion(Check):
    kind = "ooapi-version"
    summary = "OOAPI version equals the base of the environment's OKE version"
    params_model = OoapiParams

    def environment(self, env: EnvView) -> None:
        entry = self.catalogue_version(env.oke_version)
        if entry is None:
            return
        actual = env.spec.get("ooapi_version")
        if actual != entry.ooapi:
            self.env_finding(
                env,
                env.at("oke_version"),
                f"OOAPI {actual or 'unknown'}, but OKE {env.oke_version} is built on OOAPI {entry.ooapi}",
            )
        elif self.params.allowed is not None and entry.ooapi not in self.params.allowed:
            self.env_finding(
                env,
                env.at("oke_version"),
                f"OKE {env.oke_version} is built on OOAPI {entry.ooapi}; the fleet accepts OOAPI "
                f"{listing(self.params.allowed)}",
            )


class NotBehindParams(Model):
    types: Annotated[list[EnvironmentType], Field(min_length=1)] = Field(
        default=["acceptance"], description="Environment types that must not lag"
    )
    reference: EnvironmentType = Field(default="production", description="What they must not lag behind")


class AcceptanceNotBehind(Check):
    kind = "acceptance-not-behind"
    summary = "Acceptance never runs an older OKE version than production"
    params_model = NotBehindParams

    def connection(self, conn: ConnView) -> None:
        ref = [e for e in conn.envs if e.type == self.params.reference]
        if not ref:
            return
        newest = max(ref, key=lambda e: version_key(e.oke_version))
        for env in conn.envs:
            if env.type in self.params.types and version_key(env.oke_version) < version_key(
                newest.oke_version
            ):
                self.env_finding(
                    env,
                    env.at("oke_version"),
                    f"{env.name} runs OKE {env.oke_version}, behind {newest.name} (OKE "
                    f"{newest.oke_version}); a version reaches {env.type} before {newest.type}",
                )


class SpreadParams(Model):
    max_minor_versions: Annotated[int, Field(ge=0)] = Field(
        default=1, description="How many minor versions a school's connections may lie apart"
    )


class VersionSpread(Check):
    kind = "version-spread"
    summary = "A school's connections stay within one minor OKE version of each other"
    params_model = SpreadParams

    def school(self, school: SchoolView) -> None:
        envs = [e for e in school.envs if self.selects_env(e)]
        if len(envs) < 2:
            return
        minors = [major_minor(e.oke_version) for e in envs]
        counts = Counter(minors)
        # The school's own majority decides what is "the" version: one pilot on a newer
        # version should be the finding, not every connection that stayed put.
        reference = max(counts, key=lambda m: (counts[m], m))
        limit: int = self.params.max_minor_versions
        ref_env = next(e for e, m in zip(envs, minors, strict=True) if m == reference)
        for env, minor in zip(envs, minors, strict=True):
            if minor[0] != reference[0] or abs(minor[1] - reference[1]) > limit:
                self.env_finding(
                    env,
                    env.at("oke_version"),
                    f"OKE {env.oke_version} is more than {limit} minor version(s) from OKE "
                    f"{ref_env.oke_version}, the version {env.code} mostly runs; "
                    "keep the school's chain aligned",
                )


class SupplierVersionParams(Model):
    release_feed: bool = Field(
        default=True, description="Also require a current release that supports it, when the feed is known"
    )


class SupplierSupportsVersion(Check):
    kind = "supplier-supports-version"
    summary = "The supplier supports the environment's OKE version"
    params_model = SupplierVersionParams

    def environment(self, env: EnvView) -> None:
        supplier = env.supplier
        version = env.oke_version
        if version not in supplier.oke_versions:
            declared = listing(supplier.oke_versions)
            self.env_finding(
                env,
                env.at("oke_version"),
                f"{supplier.id} does not support OKE {version} (its oke_versions: {declared})",
            )
            return
        releases = (
            self.out.releases.get(supplier.id) if self.params.release_feed and self.out.releases else None
        )
        if releases is None:
            return
        today = self.out.today
        current = {
            v
            for r in releases
            if r.end_of_support is None or r.end_of_support >= today
            for v in r.oke_versions
        }
        if version not in current:
            self.env_finding(
                env,
                env.at("oke_version"),
                f"no current release of {supplier.id} supports OKE {version} "
                f"(its release feed supports {listing(sorted(current, key=version_key))})",
            )


# --- single sign-on ----------------------------------------------------------------------


class FederationParams(Model):
    federations: Annotated[list[Federation], Field(min_length=1)] = Field(
        default=["surfconext", "entree"], description="Accepted identity federations"
    )


class SsoFederation(Check):
    kind = "sso-federation"
    summary = "Production environments sign people in through the school's federation"
    params_model = FederationParams
    default_environment_types = ("production",)

    def environment(self, env: EnvView) -> None:
        sso = env.spec.get("sso") or {}
        federation = sso.get("federation")
        school = env.school
        if school.federation not in self.params.federations:
            self.env_finding(
                env,
                ("school", school.code, ("federation",), False),
                f"federation {school.federation} is not accepted here "
                f"(accepted: {listing(self.params.federations)})",
            )
        elif federation != school.federation:
            self.env_finding(
                env,
                env.at("sso"),
                f"sign-in is {sso.get('mode', 'unset')} without the school's federation "
                f"({school.federation}); {env.type} environments use it",
            )


class SsoModeParams(Model):
    allowed: Annotated[list[SsoMode], Field(min_length=1)] = Field(
        default=["required", "optional"], description="Accepted SSO modes"
    )


class SsoModeCheck(Check):
    kind = "sso-mode"
    summary = "Single sign-on is never off in production"
    params_model = SsoModeParams
    default_environment_types = ("production",)

    def environment(self, env: EnvView) -> None:
        mode = (env.spec.get("sso") or {}).get("mode")
        if mode not in self.params.allowed:
            self.env_finding(
                env,
                env.at("sso"),
                f"SSO is {mode} in {env.type} environment {env.name}; "
                f"it must be {' or '.join(self.params.allowed)}",
            )


# --- privacy -----------------------------------------------------------------------------


class PrivacyParams(Model):
    dpia_statuses: Annotated[list[DpiaStatus], Field(min_length=1)] = Field(
        default=["approved"], description="DPIA statuses accepted"
    )
    agreements: list[str] | None = Field(
        default=None,
        description="Processing agreements accepted, e.g. [model-4.0]; default: any agreement",
    )


class PrivacyCheck(Check):
    kind = "privacy"
    summary = "No production environment at a supplier without an approved DPIA and a processing agreement"
    params_model = PrivacyParams
    default_environment_types = ("production",)

    def __init__(self, rule: Rule, params: Any, out: Any) -> None:
        super().__init__(rule, params, out)
        self.seen: dict[str, list[str]] = defaultdict(list)

    def environment(self, env: EnvView) -> None:
        self.seen[env.supplier.id].append(env.address)

    def supplier(self, supplier: Supplier) -> None:
        envs = self.seen.get(supplier.id)
        if not envs:
            return
        where = f"{len(envs)} {self._types()} environment(s) (e.g. {envs[0]})"
        privacy = supplier.privacy
        dpia = privacy.dpia
        if dpia is None or dpia.status not in self.params.dpia_statuses:
            status = dpia.status if dpia is not None else "missing"
            loc: tuple[str, ...] = ("privacy", "dpia", "status") if dpia is not None else ("privacy",)
            self._supplier_finding(
                supplier,
                loc,
                f"{where} at {supplier.id}, but its DPIA is {status}; "
                f"go live only with a DPIA that is {' or '.join(self.params.dpia_statuses)}",
            )
        agreement = privacy.processing_agreement
        accepted = self.params.agreements
        if agreement is None or (accepted is not None and agreement not in accepted):
            loc = ("privacy", "processing_agreement") if agreement is not None else ("privacy",)
            wanted = " or ".join(accepted) if accepted else "a processing agreement"
            self._supplier_finding(
                supplier,
                loc,
                f"{where} at {supplier.id}, but its processing agreement is {agreement or 'missing'}; "
                f"sign {wanted} first",
            )

    def _types(self) -> str:
        return "/".join(sorted(self.env_types)) if self.env_types else "live"

    def _supplier_finding(self, supplier: Supplier, loc: tuple[Any, ...], message: str) -> None:
        loc_in_file = ("supplier", supplier.id, loc, False)
        self.out.emit(self.rule, supplier.id, loc_in_file, message, supplier=supplier.id)


class Flow6Dpia(Check):
    kind = "flow-6-dpia"
    summary = "Flow 6 (analysis) only where the supplier's DPIA covers it"

    def environment(self, env: EnvView) -> None:
        if 6 not in env.spec["flows"]:
            return
        dpia = env.supplier.privacy.dpia
        if dpia is None or not dpia.covers_flow_6 or dpia.status != "approved":
            self.env_finding(
                env,
                env.at_flow(6),
                f"flow 6 (analysis) at {env.supplier.id}, whose DPIA does not cover it; drop flow 6 "
                "or have the DPIA extended (privacy.dpia.covers_flow_6)",
            )


# --- certification -----------------------------------------------------------------------


class CertificationParams(Model):
    statuses: Annotated[list[Literal["certified", "in-progress", "expired"]], Field(min_length=1)] = Field(
        default=["certified"], description="Certification statuses accepted"
    )


class CertificationCheck(Check):
    kind = "certification"
    summary = "Production runs only on OKE versions the supplier is certified for"
    params_model = CertificationParams
    default_environment_types = ("production",)

    def environment(self, env: EnvView) -> None:
        version = env.oke_version
        status = "none"
        for cert in env.supplier.certification:
            if cert.oke == version:
                if cert.status in self.params.statuses:
                    return
                status = cert.status
        self.env_finding(
            env,
            env.at("oke_version"),
            f"{env.supplier.id} is not certified for OKE {version} (certification: {status}); "
            f"{env.type} runs only on certified versions",
        )


class VerifiedParams(Model):
    min_level: Annotated[int, Field(ge=0, le=4, description="The lowest verify level that counts")] = 3
    max_age_days: Annotated[int, Field(ge=1, description="How old the recorded verification may be")] = 90


class Verified(Check):
    kind = "verified"
    summary = "A passing okectl verify is recorded for the supplier and OKE version (verification/)"
    params_model = VerifiedParams
    default_environment_types = ("production",)

    def environment(self, env: EnvView) -> None:
        from okectl.config.verification import read_record

        today = self.out.today
        version = env.oke_version
        run = read_record(self.out.state.root, env.supplier.id).get(version)
        limit = self.params.max_age_days
        if run is None:
            problem = "no verification is recorded"
        elif run.passed_level < self.params.min_level:
            problem = f"the recorded verification passed level {run.passed_level} only"
        elif run.date > today:
            problem = f"the recorded verification is dated {run.date}, after today"
        elif today - run.date > timedelta(days=limit):
            problem = f"the recorded verification of {run.date} is older than {limit} days"
        else:
            return
        self.env_finding(
            env,
            env.at("oke_version"),
            f"{env.supplier.id} on OKE {version}: {problem}; {env.type} needs okectl verify --record "
            f"passing level {self.params.min_level} or higher within {limit} days",
        )


# --- roles and rights --------------------------------------------------------------------


def _unknown_roles(
    state: DesiredState, roles: list[tuple[tuple[Any, ...], str]]
) -> list[tuple[tuple[Any, ...], str]]:
    if state.roles is None:
        return []
    known = state.roles.roles
    return [
        (path, f"role {role!r} is not in the role catalogue") for path, role in roles if role not in known
    ]


class SupplierRoleMapping(Check):
    kind = "supplier-role-mapping"
    summary = "Each supplier maps every catalogue role its functional roles require"

    def supplier(self, supplier: Supplier) -> None:
        catalogue = self.out.state.roles
        if catalogue is None:
            return
        plays = set(supplier.roles)
        missing = [
            name
            for name, role in catalogue.roles.items()
            if plays.intersection(role.required_for) and name not in supplier.role_names
        ]
        if missing:
            self.out.emit(
                self.rule,
                supplier.id,
                ("supplier", supplier.id, ("role_names",), True),
                f"{supplier.id} ({'/'.join(supplier.roles)}) maps no name for required catalogue "
                f"role(s) {listing(missing)}; add them under role_names",
                supplier=supplier.id,
            )


class SchoolRolesParams(Model):
    exclude: list[Slug] = Field(
        default_factory=list, description="Catalogue roles schools must not grant to supplier systems"
    )


class SchoolRoles(Check):
    kind = "school-roles"
    summary = "Schools grant only catalogue roles"
    params_model = SchoolRolesParams

    def school(self, school: SchoolView) -> None:
        catalogue = self.out.state.roles
        known = catalogue.roles if catalogue is not None else {}
        s = school.school
        for role in s.roles:
            if catalogue is not None and role not in known:
                message = f"role {role} is not in the role catalogue (policies/roles.yaml)"
            elif role in self.params.exclude:
                message = f"role {role} is not granted through OKE connections; remove it"
            else:
                continue
            self.out.emit(
                self.rule, s.code, ("school", s.code, ("roles", role), True), message, school=s.code
            )

    @classmethod
    def check_params(cls, state: DesiredState, params: Any) -> list[tuple[tuple[Any, ...], str]]:
        return _unknown_roles(state, [(("exclude", i), r) for i, r in enumerate(params.exclude)])


class SodParams(Model):
    pairs: list[Annotated[list[Slug], Field(min_length=2, max_length=2)]] = Field(
        default_factory=list, description="Pairs to enforce besides the catalogue's separation_of_duties"
    )


class SeparationOfDuties(Check):
    kind = "separation-of-duties"
    summary = "Separation-of-duties pairs never go to the same group"
    params_model = SodParams

    def __init__(self, rule: Rule, params: Any, out: Any) -> None:
        super().__init__(rule, params, out)
        catalogue = out.state.roles
        self.pairs: list[tuple[str, str, str]] = [
            (p.roles[0], p.roles[1], p.reason) for p in (catalogue.separation_of_duties if catalogue else [])
        ] + [(a, b, "separation of duties (rule parameter)") for a, b in params.pairs]

    @classmethod
    def check_params(cls, state: DesiredState, params: Any) -> list[tuple[tuple[Any, ...], str]]:
        return _unknown_roles(
            state, [(("pairs", i, j), r) for i, pair in enumerate(params.pairs) for j, r in enumerate(pair)]
        )

    def school(self, school: SchoolView) -> None:
        s = school.school
        for a, b, reason in self.pairs:
            holders = set(s.roles.get(a, ()))
            if not holders:
                continue
            for i, group in enumerate(s.roles.get(b, ())):
                if group in holders:
                    self.out.emit(
                        self.rule,
                        s.code,
                        ("school", s.code, ("roles", b, i), False),
                        f"group {group} holds both {a} and {b}; {reason}",
                        school=s.code,
                    )

    def supplier(self, supplier: Supplier) -> None:
        names = supplier.role_names
        for a, b, reason in self.pairs:
            if a in names and names.get(b) == names[a]:
                self.out.emit(
                    self.rule,
                    supplier.id,
                    ("supplier", supplier.id, ("role_names", b), False),
                    f"{supplier.id} maps {a} and {b} to the same role {names[a]!r}; {reason}",
                    supplier=supplier.id,
                )


class MinimalScopes(Check):
    kind = "minimal-scopes"
    summary = "Client scopes are the minimum for the environment's flows"

    def client(self, client: ClientView) -> None:
        flows = set(client.env.spec["flows"])
        seen: set[str] = set()
        for i, scope in enumerate(client.client.scopes):
            covered = OKE_SCOPES.get(scope)
            if scope in seen:
                message = f"scope {scope} is listed twice; keep one"
            elif covered is None:
                message = f"{scope} is not an OKE scope ({listing(list(OKE_SCOPES))})"
            elif not covered & flows:
                message = (
                    f"scope {scope} is for flow(s) {listing(sorted(covered))}, which {client.env.name} "
                    f"does not run (flows {listing(sorted(flows))}); remove it"
                )
            else:
                seen.add(scope)
                continue
            seen.add(scope)
            self.env_finding(client.env, client.scope_at(i), message, address=client.address)


BUILTIN: dict[str, type[Check]] = {
    cls.kind: cls
    for cls in (
        MaxEnvironments,
        ProfileEnvironmentTypes,
        ProfileRequired,
        SupportedVersion,
        OoapiVersion,
        AcceptanceNotBehind,
        VersionSpread,
        SupplierSupportsVersion,
        SsoFederation,
        SsoModeCheck,
        PrivacyCheck,
        Flow6Dpia,
        CertificationCheck,
        Verified,
        SupplierRoleMapping,
        SchoolRoles,
        SeparationOfDuties,
        MinimalScopes,
        RequestAge,
        FreezeCheck,
    )
}
