"""The static harmonisation report as one HTML page (``okectl report``)."""

from __future__ import annotations

from pathlib import Path

import jinja2

from okectl.gitops.report import ALIGNMENT, ENV_TYPES, ReportData

TEMPLATES = Path(__file__).parent / "templates"


def render_html(data: ReportData) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("report.html.j2")
    matrix_suppliers = [s for s in data.suppliers if any(s.id in r.cells for r in data.rows)]
    return template.render(
        r=data,
        matrix_suppliers=matrix_suppliers,
        alignment=ALIGNMENT,
        env_types=ENV_TYPES,
        max_bar=max([max(b.total, b.after or 0, b.now or 0) for b in data.bars] + [1]),
    )
