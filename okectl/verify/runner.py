"""Running a verification: which environments, where they are, with which credentials.

The environments and what they should speak come from the repository (the resolved desired
state: supplier, school, environment, type, functional role, flows, OKE and OOAPI version).
Where each one is: the ``base_url`` the school file declares for it, else what the supplier's
administration API reports (one listing per supplier); where both say, the declared one wins
and a disagreement is noted. Every supplier is verified in parallel, each through one
`SupplierClient` holding that supplier's limits.

Credentials for the OKE endpoints: the supplier's ``verify:`` block (its token endpoint and
verification client, a private CA if any) when it has one; otherwise what its adapter says
(the sandbox: its development credential at each environment's own token endpoint; ``http``:
the client of ``api.auth``). A supplier with neither cannot be verified, and says so.

A run happens in three steps, so nothing reaches an OKE endpoint before every refusal is
known: locate every environment, decide which are production (by type, at the supplier,
and by the identity of their base URL), then check.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from okectl.config.models import Supplier
from okectl.engine.workspace import Workspace
from okectl.errors import OkectlError
from okectl.model.resources import Resource
from okectl.providers.base import ProviderError
from okectl.providers.registry import make_provider, oke_access
from okectl.verify.checks import Credentials, EnvironmentCheck, ProductionRefused, Target
from okectl.verify.client import SupplierClient, scrub_texts
from okectl.verify.endpoints import normalise_url
from okectl.verify.model import CheckResult, EnvironmentResult, VerifyReport
from okectl.verify.profiles import PROFILE_FILES, profile

MAX_LEVEL = 4
# The whole run's deadline unless --deadline says otherwise: a fleet at level 3 takes a
# minute or two; an endpoint that makes it take longer is failing anyway.
DEFAULT_RUN_SECONDS = 900.0


class VerifyRefused(OkectlError):
    """A verification that must not start (level 4 on production, nothing selected)."""


@dataclass(frozen=True, slots=True)
class Selection:
    schools: frozenset[str] = frozenset()
    suppliers: frozenset[str] = frozenset()
    environment: str | None = None
    level: int = 3
    # The run's deadline in seconds: no request outlives it.
    deadline: float = DEFAULT_RUN_SECONDS


def okectl_version() -> str:
    try:
        return version("okectl")
    except PackageNotFoundError:
        return "unknown"


def _stamp(ws: Workspace) -> str:
    return ws.clock.stamp().replace("+00:00", "Z")


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
    # The base URL the school file declares, if any.
    declared_url: str | None = None
    selected: bool = True

    @property
    def address(self) -> str:
        return f"{self.supplier.id}/{self.school}/{self.environment}"


def _declared(res: Resource, supplier: Supplier) -> Declared:
    address = res.address
    spec = res.spec
    function = spec.get("function")
    return Declared(
        supplier=supplier,
        school=address.school,
        environment=address.environment,
        type=str(spec.get("type")),
        roles=frozenset({function}) if function else frozenset(supplier.roles),
        flows=frozenset(int(f) for f in spec.get("flows") or []),
        oke_version=str(spec.get("oke_version")),
        ooapi_version=str(spec.get("ooapi_version") or "5.0"),
        protected=res.protected,
        declared_url=res.endpoint,
    )


def declared_environments(ws: Workspace, selection: Selection) -> list[Declared]:
    """Every environment the repository declares; those outside the selection are marked
    (they still say where production is)."""
    validated = ws.validated
    state = validated.state
    unknown = [f"unknown supplier {s!r}" for s in sorted(selection.suppliers) if s not in state.suppliers]
    unknown += [f"unknown school {c!r}" for c in sorted(selection.schools) if c not in state.schools]
    if unknown:
        raise VerifyRefused("; ".join(unknown) + " in --school/--supplier; check the spelling")
    out: list[Declared] = []
    for res in validated.resources:
        address = res.address
        if address.kind != "environment":
            continue
        d = _declared(res, state.suppliers[address.supplier])
        d.selected = not (
            (selection.schools and address.school not in selection.schools)
            or (selection.suppliers and address.supplier not in selection.suppliers)
            or (selection.environment and address.environment != selection.environment)
        )
        out.append(d)
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


@dataclass(slots=True)
class Located:
    """One supplier, ready to be checked: where its environments are and how to reach them."""

    supplier: Supplier
    envs: list[Declared]
    # environment address → (base_url, type) as the administration API reports them
    reported: dict[str, tuple[str, str]] = field(default_factory=dict)
    credentials: Credentials | None = None
    transport: Any = None
    local: bool = False
    ca_file: str | None = None
    timeout: float = 10.0
    # Why the administration API could not be read, or why there are no credentials.
    api_problem: str | None = None
    access_problem: str | None = None


async def _reported(supplier: Supplier, ws: Workspace, schools: set[str]) -> dict[str, tuple[str, str]]:
    """environment address → (base_url, type at the supplier), with one listing."""
    provider = make_provider(supplier, repo_root=ws.root, settings=ws.settings)
    try:
        found = await provider.read_resources(schools)
    finally:
        await provider.aclose()
    out: dict[str, tuple[str, str]] = {}
    for res in found:
        if res.address.kind == "environment" and isinstance(res.extra.get("base_url"), str):
            out[str(res.address)] = (res.extra["base_url"], str(res.spec.get("type")))
    return out


def _secret(supplier: Supplier, ws: Workspace) -> str:
    assert supplier.verify is not None
    ref = supplier.verify.client_secret
    value = ws.resolve_secret(ref.describe())
    if not value:
        raise OkectlError(f"supplier {supplier.id}: verify.client_secret {ref.describe()} is not set")
    return value


def _ca_file(supplier: Supplier, root: Path) -> str | None:
    assert supplier.verify is not None
    given = supplier.verify.ca_file
    if given is None:
        return None
    path = (root / given).resolve()
    if not path.is_file():
        raise OkectlError(f"supplier {supplier.id}: verify.ca_file {given} is not a file")
    return str(path)


async def _locate(supplier: Supplier, envs: list[Declared], schools: set[str], ws: Workspace) -> Located:
    located = Located(supplier, envs, timeout=supplier.timeout_seconds)
    if supplier.managed:
        try:
            located.reported = await _reported(supplier, ws, schools)
        except (ProviderError, OkectlError) as exc:
            located.api_problem = f"cannot reach supplier {supplier.id}'s administration API: {exc}"
    try:
        if supplier.verify is not None:
            given = supplier.verify
            located.credentials = Credentials(given.client_id, _secret(supplier, ws), given.token_url)
            located.ca_file = _ca_file(supplier, ws.root)
            if given.timeout_seconds is not None:
                located.timeout = given.timeout_seconds
        elif supplier.managed:
            access = oke_access(supplier, repo_root=ws.root, settings=ws.settings)
            located.credentials = Credentials(access.client_id, access.client_secret, access.token_url)
            located.transport = access.transport
            located.local = access.local
        else:
            located.access_problem = (
                f"supplier {supplier.id} has neither verify: nor api:; declare verify: {{token_url, "
                f"client_id, client_secret}} in suppliers/{supplier.id}.yaml"
            )
    except (ProviderError, OkectlError) as exc:
        located.access_problem = str(exc)
    return located


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


def _where(d: Declared, located: Located) -> tuple[str | None, str | None, str | None]:
    """(base_url, located_by, a note on a disagreement) of one environment."""
    reported = located.reported.get(d.address, (None, None))[0]
    if d.declared_url is not None:
        note = None
        if reported is not None and normalise_url(reported) != normalise_url(d.declared_url):
            note = (
                f"the declared base_url {d.declared_url} wins over {reported}, which the "
                "administration API reports"
            )
        return d.declared_url, "declared", note
    return reported, ("reported" if reported else None), None


def production_endpoints(located: list[Located], every: list[Declared]) -> dict[str, str]:
    """Normalised base URL → the production environment it is: declared anywhere in the
    repository, or reported production (or at a production environment's address) by an
    administration API read in this run."""
    out: dict[str, str] = {}
    for d in every:
        if d.type == "production" and d.declared_url is not None:
            out.setdefault(normalise_url(d.declared_url), d.address)
    for loc in located:
        types = {d.address: d.type for d in every}
        for address, (url, actual) in loc.reported.items():
            if actual == "production" or types.get(address) == "production":
                out.setdefault(normalise_url(url), address)
    return out


async def _check_supplier(
    located: Located,
    level: int,
    production: dict[str, str],
    run_deadline: float,
    run_seconds: float,
    secrets: list[str],
) -> tuple[list[EnvironmentResult], int, int]:
    supplier = located.supplier
    results: list[EnvironmentResult] = []
    checks: list[EnvironmentCheck] = []
    ready: list[tuple[Declared, EnvironmentResult, str]] = []
    for d in located.envs:
        base_url, located_by, note = _where(d, located)
        result = _result(d, base_url)
        result.located_by = located_by
        results.append(result)
        if note:
            result.notes.append(note)
        if located.api_problem and d.declared_url is not None:
            result.notes.append(located.api_problem + "; the declared base_url is used")
        if base_url is None:
            message = located.api_problem or (
                f"supplier {supplier.id} has no environment {d.address}; apply the configuration first"
                if supplier.managed
                else f"no base_url for {d.address}: declare it in schools/{d.school}.yaml at "
                f"connections.{supplier.id}.environments.{d.environment}.base_url"
            )
            result.add(CheckResult(0, "locate", "error", message))
            continue
        if located.access_problem is not None or located.credentials is None:
            result.add(CheckResult(0, "locate", "error", located.access_problem or "no credentials"))
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
        actual_type = located.reported.get(d.address, (None, None))[1]
        twin = production.get(normalise_url(base_url))
        if level >= 4 and (actual_type == "production" or (twin is not None and twin != d.address)):
            why = (
                "the supplier reports it as production"
                if actual_type == "production"
                else f"its base URL {base_url} is production's ({twin})"
            )
            result.add(CheckResult(4, "write.refused", "error", f"level 4 is refused on production: {why}"))
            continue
        ready.append((d, result, base_url))
    if not ready:
        return results, 0, 0
    limits = supplier.limits
    assert located.credentials is not None
    secrets.append(located.credentials.client_secret)
    client = SupplierClient(
        concurrency=limits.concurrency,
        requests_per_second=limits.requests_per_second,
        timeout=located.timeout,
        run_deadline=run_deadline,
        run_seconds=run_seconds,
        transport=located.transport,
        ca_file=located.ca_file,
    )
    try:
        for d, result, base_url in ready:
            twin = production.get(normalise_url(base_url))
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
                # Production at the supplier, or by its address, counts as much as in the YAML.
                production=d.type == "production" or twin is not None,
                local=located.local,
            )
            checks.append(
                EnvironmentCheck(target, profile(d.oke_version), client, located.credentials, level, result)
            )

        async def one(check: EnvironmentCheck) -> None:
            try:
                await check.run()
            except ProductionRefused as exc:
                check.result.add(CheckResult(4, "write.refused", "error", str(exc)))

        await asyncio.gather(*(one(c) for c in checks))
    finally:
        await client.aclose()
        for check in checks:
            secrets.extend(check.tokens.values())
    return results, client.max_depth, client.sent


async def verify_async(ws: Workspace, selection: Selection) -> VerifyReport:
    if not 0 <= selection.level <= MAX_LEVEL:
        raise VerifyRefused(f"--level must be 0 to {MAX_LEVEL}")
    started = time.monotonic()
    run_deadline = started + selection.deadline
    every = declared_environments(ws, selection)
    declared = [d for d in every if d.selected]
    if not declared:
        raise VerifyRefused("no environment matches the selection")
    refuse_production_writes(declared, selection.level)
    # Loaded before any request: a vendored file that cannot be read stops the run here.
    for oke_version in sorted({d.oke_version for d in declared} & set(PROFILE_FILES)):
        profile(oke_version)
    report = VerifyReport(level=selection.level, okectl_version=okectl_version(), started=_stamp(ws))
    by_supplier: dict[str, list[Declared]] = {}
    for d in declared:
        by_supplier.setdefault(d.supplier.id, []).append(d)

    def schools(sid: str) -> set[str]:
        # Level 4 reads every school of the supplier: production is wherever its address is.
        among = every if selection.level >= 4 else declared
        return {d.school for d in among if d.supplier.id == sid}

    located = list(
        await asyncio.gather(
            *(_locate(envs[0].supplier, envs, schools(sid), ws) for sid, envs in by_supplier.items())
        )
    )
    # Production by identity: every environment of these suppliers, all schools, is looked
    # at before level 4 sends anything.
    production = production_endpoints(located, every) if selection.level >= 4 else {}
    secrets: dict[str, list[str]] = {}
    outcomes = await asyncio.gather(
        *(
            _check_supplier(
                loc,
                selection.level,
                production,
                run_deadline,
                selection.deadline,
                secrets.setdefault(loc.supplier.id, []),
            )
            for loc in located
        )
    )
    for loc, (results, depth, sent) in zip(located, outcomes, strict=True):
        report.environments.extend(results)
        report.round_trips = max(report.round_trips, depth)
        report.requests[loc.supplier.id] = sent
    report.environments.sort(key=lambda e: e.address)
    report.finished = _stamp(ws)
    # Whatever is kept of this run (output, evidence, the record) comes from the report:
    # every string of it passes through scrub with every secret of its supplier's run (the
    # verification client's secret, every token issued to it: nobody else could know them).
    report.scrub(lambda supplier, texts: scrub_texts(texts, secrets.get(supplier, ())))
    return report


def verify(ws: Workspace, selection: Selection) -> VerifyReport:
    return asyncio.run(verify_async(ws, selection))
