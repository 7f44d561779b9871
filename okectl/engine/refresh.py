"""Reading what the suppliers actually have: all suppliers in parallel, each within its limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from okectl.config.repository import DesiredState
from okectl.config.settings import Settings
from okectl.errors import OkectlError
from okectl.model.releases import Release
from okectl.model.resources import ActualResource
from okectl.plans.outcomes import ReadProgress
from okectl.providers.base import Capability, Provider, ProviderError


# repr=False: asyncio.run formats the main task's result on the way out (3.11), and this
# one holds every resource of the fleet.
@dataclass(repr=False)
class Refreshed:
    resources: list[ActualResource] = field(default_factory=list)


class RefreshFailed(OkectlError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"could not read {len(errors)} supplier(s)")

    def lines(self) -> list[str]:
        return self.errors


async def _refresh_one(
    provider: Provider, schools: set[str] | None, capabilities: frozenset[Capability]
) -> list[ActualResource]:
    # Every tenant the supplier shows, not only the configured ones: a school removed from
    # the configuration still has owned resources to delete.
    if schools is not None and not schools:
        return []
    if Capability.BULK_READ in capabilities:
        return await provider.read_resources(schools)
    # An adapter without bulk reads: list the tenants, then read them.
    visible = set(await provider.list_tenants())
    to_read = sorted(visible if schools is None else visible & schools)
    return await provider.read_tenants(to_read) if to_read else []


def configured_schools(state: DesiredState, supplier: str, schools: set[str] | None) -> list[str]:
    """The schools (of ``schools``, when given) with a connection to this supplier."""
    return sorted(
        code
        for code, school in state.schools.items()
        if supplier in school.connections and (schools is None or code in schools)
    )


async def _denied(provider: Provider, schools: list[str]) -> list[str]:
    # Adapters written before denied_tenants existed do not have it: nothing to check then.
    check = getattr(provider, "denied_tenants", None)
    if check is None or not schools:
        return []
    denied: list[str] = await check(schools)
    return denied


async def refresh(
    state: DesiredState,
    root: Path,
    *,
    suppliers: set[str] | None = None,
    schools: set[str] | None = None,
    progress: ReadProgress | None = None,
    settings: Settings,
) -> Refreshed:
    from okectl.providers.registry import capabilities, make_provider

    # A supplier without an api is verified only: there is nothing to read it with.
    ids = sorted(
        sid
        for sid, supplier in state.suppliers.items()
        if supplier.managed and (suppliers is None or sid in suppliers)
    )
    providers: dict[str, Provider] = {}
    errors: list[str] = []
    result = Refreshed()
    try:
        for sid in ids:
            try:
                providers[sid] = make_provider(state.suppliers[sid], repo_root=root, settings=settings)
            except OkectlError as exc:
                errors.extend(exc.lines())

        async def one(sid: str, provider: Provider) -> None:
            if progress:
                progress(sid, "reading")
            try:
                resources = await _refresh_one(provider, schools, capabilities(state.suppliers[sid]))
                denied = await _denied(provider, configured_schools(state, sid, schools))
            except ProviderError as exc:
                errors.append(str(exc))
                if progress:
                    progress(sid, "failed")
                return
            if denied:
                # Read as empty, these tenants would be planned as new: everything in them
                # created again, and refused at apply. Nothing is planned for the supplier.
                errors.append(
                    f"supplier {sid}: its credential cannot see the tenant(s) {', '.join(denied)} "
                    "configured for it; ask the supplier for access, or check api.auth"
                )
                if progress:
                    progress(sid, "failed")
                return
            result.resources.extend(resources)
            if progress:
                progress(sid, "done")

        await asyncio.gather(*(one(sid, p) for sid, p in providers.items()))
    finally:
        await asyncio.gather(*(p.aclose() for p in providers.values()), return_exceptions=True)
    if errors:
        # One broken shared thing (the embedded sandbox's database) fails every supplier
        # with the same words: say it once.
        raise RefreshFailed(sorted(set(errors)))
    return result


async def read_release_feeds(
    state: DesiredState,
    root: Path,
    settings: Settings,
    *,
    progress: ReadProgress | None = None,
) -> dict[str, list[Release] | str]:
    """Every supplier's release feed, or why it could not be read (supplier id → either).

    One supplier's outage must not hide the others' answers, so failures are values.
    """
    from okectl.providers.registry import capabilities, make_provider

    out: dict[str, list[Release] | str] = {}

    async def one(sid: str) -> None:
        provider: Provider | None = None
        if progress:
            progress(sid, "reading")
        try:
            api = state.suppliers[sid].api
            if api is None:
                out[sid] = "it has no api (verified only), so no release feed"
            elif Capability.RELEASES not in capabilities(state.suppliers[sid]):
                out[sid] = f"its adapter ({api.provider}) offers no release feed"
            else:
                provider = make_provider(state.suppliers[sid], repo_root=root, settings=settings)
                out[sid] = list(await provider.releases())
        except Exception as exc:
            out[sid] = f"cannot read the release feed: {exc}"
        finally:
            if provider is not None:
                await provider.aclose()
        if progress:
            progress(sid, "failed" if isinstance(out[sid], str) else "done")

    await asyncio.gather(*(one(sid) for sid in sorted(state.suppliers)))
    return out


def readable_feeds(
    state: DesiredState, root: Path, settings: Settings
) -> tuple[dict[str, list[Release]], list[str]]:
    """The release feeds that could be read, and one line per supplier whose feed could not
    (checked against its YAML alone: one supplier's outage must not fail every school)."""
    from okectl.providers.registry import capabilities

    feeds: dict[str, list[Release]] = {}
    failures: list[str] = []
    for sid, got in sorted(asyncio.run(read_release_feeds(state, root, settings)).items()):
        if isinstance(got, str) and Capability.RELEASES not in capabilities(state.suppliers[sid]):
            continue  # no feed to read (changed by its support desk, or verified only): no news
        if isinstance(got, str):
            failures.append(f"{sid}: {got}; checked against its YAML only")
        else:
            feeds[sid] = got
    return feeds, failures
