"""Running a verification: which environments, where they are, with which credentials.

The environments and what they should speak come from the repository (the resolved desired
state: supplier, school, environment, type, functional role, flows, OKE and OOAPI version).
Where each one is comes from its supplier (the environment's ``base_url``, read through the
supplier's administration API with one listing per supplier). Every supplier is verified in
parallel, each through one `SupplierClient` holding that supplier's limits.

Credentials for the OKE endpoints: a sandbox supplier is asked with the sandbox's
development credential at each environment's own token endpoint (``{base_url}/oauth/token``);
a real supplier with the client of its ``api.auth`` at that ``token_url``, which the supplier
must have granted the OKE flow scopes of the environments verified.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from okectl.config.models import Supplier
from okectl.errors import OkectlError
from okectl.providers.base import ProviderError
from okectl.providers.registry import make_provider, oke_access
from okectl.verify.checks import Credentials, EnvironmentCheck, ProductionRefused, Target
from okectl.verify.client import SupplierClient
from okectl.verify.model import CheckResult, EnvironmentResult, VerifyReport
from okectl.verify.profiles import PROFILE_FILES, profile

MAX_LEVEL = 4


class VerifyRefused(OkectlError):
    """A verification that must not start (level 4 on production, nothing selected)."""


@dataclass(frozen=True, slots=True)
class Selection:
    schools: frozenset[str] = frozenset()
    suppliers: frozenset[str] = frozenset()
    environment: str | None = None
    level: int = 3


def okectl_version() -> str:
    try:
        return version("okectl")
    except PackageNotFoundError:
        return "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Declared:
    supplier: Supplier
    school: str
    environment: str
    type: str
    roles: frozenset[str]
    flows: frozenset[int]
    oke_version: str
    ooapi_version: str
    protected: bool

    @property
    def address(self) -> str:
        return f"{self.supplier.id}/{self.school}/{self.environment}"


def declared_environments(root: Path, selection: Selection) -> list[Declared]:
    """The environments the repository declares, narrowed to the selection."""
    from okectl.engine.validate import validate_repository

    validated = validate_repository(root)
    state = validated.state
    out: list[Declared] = []
    for res in validated.resources:
        address = res.address
        if address.kind != "environment":
            continue
        if selection.schools and address.school not in selection.schools:
            continue
        if selection.suppliers and address.supplier not in selection.suppliers:
            continue
        if selection.environment and address.environment != selection.environment:
            continue
        supplier = state.suppliers[address.supplier]
        spec = res.spec
        function = spec.get("function")
        roles = frozenset({function}) if function else frozenset(supplier.roles)
        out.append(
            Declared(
                supplier=supplier,
                school=address.school,
                environment=address.environment,
                type=str(spec.get("type")),
                roles=roles,
                flows=frozenset(int(f) for f in spec.get("flows") or []),
                oke_version=str(spec.get("oke_version")),
                ooapi_version=str(spec.get("ooapi_version") or "5.0"),
                protected=res.protected,
            )
        )
    return sorted(out, key=lambda d: d.address)


def refuse_production_writes(declared: list[Declared], level: int) -> None:
    """Level 4 writes: refused, before any request is sent, when production is selected."""
    if level < 4:
        return
    production = [d.address for d in declared if d.type == "production"]
    if production:
        shown = ", ".join(production[:5]) + (
            f" and {len(production) - 5} more" if len(production) > 5 else ""
        )
        raise VerifyRefused(
            f"verify --level 4 writes synthetic data and is refused on production environments: {shown}; "
            "select others with --environment (levels 0-3 read only)"
        )


async def _base_urls(supplier: Supplier, root: Path, schools: set[str]) -> dict[str, tuple[str, str]]:
    """environment address → (base_url, type at the supplier), with one listing."""
    provider = make_provider(supplier, repo_root=root)
    try:
        found = await provider.read_resources(schools)
    finally:
        await provider.aclose()
    out: dict[str, tuple[str, str]] = {}
    for res in found:
        if res.address.kind == "environment" and isinstance(res.extra.get("base_url"), str):
            out[str(res.address)] = (res.extra["base_url"], str(res.spec.get("type")))
    return out


def _result(d: Declared, base_url: str | None) -> EnvironmentResult:
    known = d.oke_version in PROFILE_FILES
    prof = profile(d.oke_version) if known else None
    return EnvironmentResult(
        address=d.address,
        supplier=d.supplier.id,
        school=d.school,
        environment=d.environment,
        type=d.type,
        roles=sorted(d.roles),
        flows=sorted(d.flows),
        oke_version=d.oke_version,
        ooapi_version=d.ooapi_version,
        base_url=base_url,
        profile=prof.file if prof else None,
        overlays=list(prof.overlays) if prof else [],
    )


async def _verify_supplier(
    supplier: Supplier, envs: list[Declared], root: Path, level: int
) -> tuple[list[EnvironmentResult], int, int]:
    results: list[EnvironmentResult] = []
    try:
        located = await _base_urls(supplier, root, {d.school for d in envs})
        access = oke_access(supplier, repo_root=root)
        credentials = Credentials(access.client_id, access.client_secret, access.token_url)
    except (ProviderError, OkectlError) as exc:
        for d in envs:
            result = _result(d, None)
            result.add(CheckResult(0, "locate", "error", f"cannot reach supplier {supplier.id}: {exc}"))
            results.append(result)
        return results, 0, 0
    limits = supplier.limits
    client = SupplierClient(
        concurrency=limits.concurrency,
        requests_per_second=limits.requests_per_second,
        timeout=supplier.timeout_seconds,
        transport=access.transport,
    )
    checks: list[EnvironmentCheck] = []
    try:
        for d in envs:
            base_url, actual_type = located.get(d.address, (None, None))
            result = _result(d, base_url)
            results.append(result)
            if base_url is None:
                result.add(
                    CheckResult(
                        0,
                        "locate",
                        "error",
                        f"supplier {supplier.id} has no environment {d.address}; "
                        "apply the configuration first",
                    )
                )
                continue
            if result.profile is None:
                result.add(
                    CheckResult(
                        0,
                        "profile",
                        "error",
                        f"no published OKE profile for version {d.oke_version}; "
                        f"known: {', '.join(PROFILE_FILES)}",
                    )
                )
                continue
            target = Target(
                supplier=supplier.id,
                school=d.school,
                environment=d.environment,
                type=d.type,
                roles=d.roles,
                flows=d.flows,
                oke_version=d.oke_version,
                ooapi_version=d.ooapi_version,
                base_url=base_url,
                # Production at the supplier counts as much as production in the YAML.
                production=d.type == "production" or actual_type == "production",
                local=access.local,
            )
            if level >= 4 and target.production:
                result.add(CheckResult(4, "write.refused", "error", "level 4 is refused on production"))
                continue
            checks.append(
                EnvironmentCheck(target, profile(d.oke_version), client, credentials, level, result)
            )

        async def one(check: EnvironmentCheck) -> None:
            try:
                await check.run()
            except ProductionRefused as exc:
                check.result.add(CheckResult(4, "write.refused", "error", str(exc)))

        await asyncio.gather(*(one(c) for c in checks))
    finally:
        await client.aclose()
    return results, client.max_depth, client.sent


async def verify_async(root: Path, selection: Selection) -> VerifyReport:
    if not 0 <= selection.level <= MAX_LEVEL:
        raise VerifyRefused(f"--level must be 0 to {MAX_LEVEL}")
    declared = declared_environments(root, selection)
    if not declared:
        raise VerifyRefused("no environment matches the selection")
    refuse_production_writes(declared, selection.level)
    # Loaded before any request: a vendored file that cannot be read stops the run here.
    for oke_version in sorted({d.oke_version for d in declared} & set(PROFILE_FILES)):
        profile(oke_version)
    report = VerifyReport(level=selection.level, okectl_version=okectl_version(), started=now())
    by_supplier: dict[str, list[Declared]] = {}
    for d in declared:
        by_supplier.setdefault(d.supplier.id, []).append(d)
    outcomes = await asyncio.gather(
        *(_verify_supplier(envs[0].supplier, envs, root, selection.level) for envs in by_supplier.values())
    )
    for (sid, _), (results, depth, sent) in zip(by_supplier.items(), outcomes, strict=True):
        report.environments.extend(results)
        report.round_trips = max(report.round_trips, depth)
        report.requests[sid] = sent
    report.environments.sort(key=lambda e: e.address)
    report.finished = now()
    return report


def verify(root: Path, selection: Selection) -> VerifyReport:
    return asyncio.run(verify_async(root, selection))
