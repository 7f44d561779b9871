"""`okectl releases`: which environments run behind what their supplier could run.

The target per supplier is the newest OKE version that both the supplier's release feed
offers (a release not past its own end of support) and policy allows (the version
catalogue: status final and not past its end of support). Environments below it are
behind; above it (a concept version piloted in acceptance) they are ahead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from okectl.config.models import Supplier
from okectl.config.repository import DesiredState
from okectl.engine.refresh import read_release_feeds
from okectl.engine.workspace import Workspace
from okectl.model.releases import Release
from okectl.model.resources import Resource
from okectl.model.versions import version_key
from okectl.plans.outcomes import ReadProgress


def allowed_versions(state: DesiredState, today: date) -> set[str]:
    """OKE versions policy allows: final and not past their end of support."""
    catalogue = state.versions.oke_versions if state.versions else {}
    return {
        v
        for v, entry in catalogue.items()
        if entry.status == "final" and (entry.end_of_support is None or entry.end_of_support >= today)
    }


def newest(versions: set[str]) -> str | None:
    return max(versions, key=version_key) if versions else None


def alignment(version: str | None, target: str | None, allowed: set[str]) -> str:
    """current | behind | ahead | unknown, comparing an environment with its target."""
    if version is None or target is None:
        return "unknown"
    if version == target:
        return "current"
    return "behind" if version_key(version) < version_key(target) else "ahead"


@dataclass(frozen=True)
class EnvironmentRow:
    school: str
    environment: str
    type: str
    oke_version: str
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "environment": self.environment,
            "type": self.type,
            "oke_version": self.oke_version,
            "status": self.status,
        }


@dataclass
class SupplierReleases:
    supplier: str
    feed: list[Release] = field(default_factory=list)
    supported: set[str] = field(default_factory=set)
    target: str | None = None
    environments: list[EnvironmentRow] = field(default_factory=list)
    error: str | None = None
    # No release feed to read (a supplier changed by its support desk, or verified only):
    # what it supports is what its file declares (oke_versions).
    declared: bool = False

    @property
    def behind(self) -> list[EnvironmentRow]:
        return [e for e in self.environments if e.status == "behind"]

    def to_json(self) -> dict[str, Any]:
        return {
            "supplier": self.supplier,
            "error": self.error,
            "releases": [
                {
                    "product_version": r.product_version,
                    "oke_versions": list(r.oke_versions),
                    "released": r.released,
                    "end_of_support": r.end_of_support,
                    "notes_url": r.notes_url,
                }
                for r in self.feed
            ],
            "supported": sorted(self.supported, key=version_key),
            "source": "declared" if self.declared else "feed",
            "target": self.target,
            "environments": [e.to_json() for e in self.environments],
        }


@dataclass
class ReleaseReport:
    today: date
    allowed: set[str]
    suppliers: list[SupplierReleases]

    @property
    def errors(self) -> list[str]:
        return [f"{s.supplier}: {s.error}" for s in self.suppliers if s.error]

    def to_json(self) -> dict[str, Any]:
        return {
            "today": self.today,
            "policy_allows": sorted(self.allowed, key=version_key),
            "suppliers": [s.to_json() for s in self.suppliers],
        }


def _environments(resources: list[Resource], supplier: str) -> list[Resource]:
    return [r for r in resources if r.address.kind == "environment" and r.address.supplier == supplier]


def _has_feed(supplier: Supplier) -> bool:
    """Whether the supplier's adapter offers a release feed at all (one that cannot be
    read is an error; one that does not exist is not)."""
    from okectl.providers.base import Capability
    from okectl.providers.registry import capabilities

    return Capability.RELEASES in capabilities(supplier)


def collect_releases(ws: Workspace, *, progress: ReadProgress | None = None) -> ReleaseReport:
    """Read every supplier's release feed and compare it with the desired state."""
    today = ws.clock.today()
    state = ws.state
    allowed = allowed_versions(state, today)
    feeds = asyncio.run(read_release_feeds(state, ws.root, ws.settings, progress=progress))
    report = ReleaseReport(today=today, allowed=allowed, suppliers=[])
    for sid in sorted(state.suppliers):
        entry = SupplierReleases(supplier=sid)
        report.suppliers.append(entry)
        feed = feeds.get(sid)
        supplier = state.suppliers[sid]
        if isinstance(feed, str) and not _has_feed(supplier):
            entry.declared = True
            entry.supported = set(supplier.oke_versions)
        elif isinstance(feed, str):
            entry.error = feed
            continue
        else:
            entry.feed = feed or []
            entry.supported = {
                v
                for r in entry.feed
                if r.end_of_support is None or r.end_of_support >= today
                for v in r.oke_versions
            }
        entry.target = newest(entry.supported & allowed)
        for res in sorted(_environments(ws.resources, sid), key=lambda r: str(r.address)):
            version = str(res.spec.get("oke_version"))
            entry.environments.append(
                EnvironmentRow(
                    school=res.address.school,
                    environment=res.address.environment,
                    type=str(res.spec.get("type")),
                    oke_version=version,
                    status=alignment(version, entry.target, allowed),
                )
            )
    return report
