"""Which environments are behind the newest OKE version a supplier supports, as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.jsontext import dumps
from okectl.model.versions import version_key
from okectl.views.escape import terminal
from okectl.views.rendered import Rendered
from okectl.views.rendered import lines as ended

if TYPE_CHECKING:
    from okectl.gitops.releases import EnvironmentRow, ReleaseReport

OUTPUTS = ("text", "json")


def render(report: ReleaseReport, output: str) -> Rendered:
    """The report as ``output`` (text or json); the feeds that could not be read, and why,
    on standard error."""
    err = ended([terminal(line) for line in report.errors])
    if output == "json":
        return Rendered(dumps(report.to_json()), err)
    return Rendered(render_releases(report), err)


def render_releases(report: ReleaseReport) -> str:
    # A feed's versions are what a supplier said: shown escaped.
    def versions(items: set[str]) -> str:
        return terminal(", ".join(sorted(items, key=version_key))) or "none"

    lines = [f"Policy allows OKE {versions(report.allowed)} (final, within support on {report.today})."]
    for s in report.suppliers:
        if s.error:
            lines.append(f"{s.supplier}: release feed unavailable")
            continue
        feed = versions(s.supported)
        # A supplier without a feed (changed by its support desk): what its file declares.
        source = "declared, no release feed" if s.declared else "feed"
        if s.target is None:
            where = "declared versions" if s.declared else "feed"
            lines.append(f"{s.supplier}: no allowed OKE version in its {where} ({source}: {feed})")
            continue
        behind = s.behind
        lines.append(
            f"{s.supplier}: target OKE {terminal(s.target)} ({source}: {feed}); "
            f"{len(behind)} of {len(s.environments)} environment(s) behind"
        )
        by_school: dict[str, list[EnvironmentRow]] = {}
        for row in behind:
            by_school.setdefault(row.school, []).append(row)
        for school, rows in sorted(by_school.items()):
            shown = ", ".join(f"{r.environment} {r.oke_version}" for r in rows)
            lines.append(f"  {school}: {terminal(shown)} → {terminal(s.target)}")
    return "\n".join(lines) + "\n"
