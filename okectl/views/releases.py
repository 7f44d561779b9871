"""Which environments are behind the newest OKE version a supplier supports, as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.model.versions import version_key

if TYPE_CHECKING:
    from okectl.gitops.releases import EnvironmentRow, ReleaseReport


def render_releases(report: ReleaseReport) -> str:
    allowed = ", ".join(sorted(report.allowed, key=version_key)) or "none"
    lines = [f"Policy allows OKE {allowed} (final, within support on {report.today})."]
    for s in report.suppliers:
        if s.error:
            lines.append(f"{s.supplier}: release feed unavailable")
            continue
        feed = ", ".join(sorted(s.supported, key=version_key)) or "none"
        if s.target is None:
            lines.append(f"{s.supplier}: no allowed OKE version in its feed (feed: {feed})")
            continue
        behind = s.behind
        lines.append(
            f"{s.supplier}: target OKE {s.target} (feed: {feed}); "
            f"{len(behind)} of {len(s.environments)} environment(s) behind"
        )
        by_school: dict[str, list[EnvironmentRow]] = {}
        for row in behind:
            by_school.setdefault(row.school, []).append(row)
        for school, rows in sorted(by_school.items()):
            shown = ", ".join(f"{r.environment} {r.oke_version}" for r in rows)
            lines.append(f"  {school}: {shown} → {s.target}")
    return "\n".join(lines) + "\n"
