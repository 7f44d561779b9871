"""The static harmonisation report as one HTML page (``okectl report``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.views.escape import html_templates

if TYPE_CHECKING:
    from okectl.gitops.report import ReportData

# Okabe–Ito, with the cue that does not need colour.
ALIGNMENT: dict[str, dict[str, str]] = {
    "current": {"colour": "#009E73", "symbol": "✓", "label": "aligned with the target"},
    "behind": {"colour": "#E69F00", "symbol": "↓", "label": "behind the target"},
    "ahead": {"colour": "#56B4E9", "symbol": "↑", "label": "ahead (pilot)"},
    "not-allowed": {"colour": "#D55E00", "symbol": "✕", "label": "not allowed by policy"},
    "unknown": {"colour": "#BBBBBB", "symbol": "?", "label": "no target"},
}
# Environment types in the chart: colour plus a fill pattern each.
ENV_TYPES: list[tuple[str, str, str]] = [
    ("production", "#0072B2", "solid"),
    ("acceptance", "#E69F00", "stripes"),
    ("test", "#009E73", "dots"),
    ("other", "#CC79A7", "cross"),
]


def render_html(data: ReportData) -> str:
    template = html_templates().get_template("report.html.j2")
    matrix_suppliers = [s for s in data.suppliers if any(s.id in r.cells for r in data.rows)]
    return template.render(
        r=data,
        matrix_suppliers=matrix_suppliers,
        alignment=ALIGNMENT,
        env_types=ENV_TYPES,
        max_bar=max([max(b.total, b.after or 0, b.now or 0) for b in data.bars] + [1]),
    )
