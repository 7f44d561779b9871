"""The HTML report agrees with the plan, and its chart reads clearly in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from okectl.engine.workspace import load_workspace
from okectl.gitops.report import build_report, write_report
from okectl.model.clock import Clock
from okectl.views.report import render_html
from tests.support.cli import run_cli

TODAY = date(2026, 11, 28)


@pytest.fixture
def page(example_repo: Path, tmp_path: Path) -> Path:
    data = build_report(load_workspace(example_repo, clock=Clock(day=TODAY)))
    return write_report(render_html(data), tmp_path / "report")


def _cell(html: str, school: str, supplier: str) -> str:
    row = html[html.index(f'<tr class="school-row" data-school="{school}">') :]
    row = row[: row.index("</tr>")]
    cell = row[row.index(f'<td class="cell" data-supplier="{supplier}">') :]
    return cell[: cell.index("</td>")]


def test_an_environment_the_plan_leaves_alone_is_not_counted_as_removed(
    example_repo: Path, page: Path
) -> None:
    doc = json.loads(run_cli("plan", "--repo", str(example_repo), "-o", "json").out)
    unmanaged = {u["address"]: u["reason"] for u in doc["unmanaged"]}
    assert unmanaged["eduplan/21RC/pilot"] == "not in the configuration and not created by okectl"
    html = page.read_text(encoding="utf-8")
    # eduplan/21RC: the plan deletes test (okectl's) and leaves the hand-made pilot alone.
    deleted = [c["address"] for c in doc["changes"] if c["action"] == "delete" and c["kind"] == "environment"]
    assert "eduplan/21RC/test" in deleted and "eduplan/21RC/pilot" not in deleted
    cell = _cell(html, "21RC", "eduplan")
    assert re.search(r'>4 → 3 env <span class="delta-down">\(-1\)</span>', cell), cell
    assert "1 not okectl's, left alone" in cell
    # The totals agree with the plan's deletions and creations of environments.
    created = sum(1 for c in doc["changes"] if c["action"] == "create" and c["kind"] == "environment")
    data = build_report(load_workspace(example_repo, clock=Clock(day=TODAY)))
    assert data.env_before is not None
    assert data.env_after - data.env_before == created - len(deleted)


def test_the_plan_summary_appears_once_as_the_plan_says_it(example_repo: Path, page: Path) -> None:
    summary = run_cli("plan", "--repo", str(example_repo)).out.splitlines()[-1]
    html = page.read_text(encoding="utf-8")
    assert f'<p class="note" id="plan-note">{summary}</p>' in html
    assert html.count("Plan:") == 1 and "plan: Plan" not in html


# Measures, in the rendered page, every chart label against every bar, outline and
# "now" marker of its row, and against the chart's edge; writes the overlaps into the DOM.
MEASURE = """
<script>
addEventListener("load", () => {
  const chart = document.getElementById("chart").getBoundingClientRect();
  const bad = [];
  for (const g of document.querySelectorAll("#chart g.bar")) {
    const label = g.querySelector("text.bar-label").getBoundingClientRect();
    if (label.right > chart.right) bad.push(g.dataset.school + ": label past the edge");
    for (const mark of g.querySelectorAll("rect, line")) {
      const m = mark.getBoundingClientRect();
      const apart = m.right <= label.left || m.left >= label.right
        || m.bottom <= label.top || m.top >= label.bottom;
      if (!apart) bad.push(g.dataset.school + ": label overlaps a " + mark.tagName);
    }
  }
  const out = document.createElement("pre");
  out.id = "overlaps";
  out.textContent = JSON.stringify(bad);
  document.body.appendChild(out);
});
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("OKECTL_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (OKECTL_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium is not installed; the report's layout is checked in a real browser")
    return found


def test_chart_labels_clear_the_bars_and_markers_in_a_browser(page: Path, tmp_path: Path) -> None:
    measured = page.with_name("measured.html")
    measured.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"))
    result = subprocess.run(
        [
            _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,1000", "--dump-dom", measured.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="overlaps">(.*?)</pre>', result.stdout, re.S)
    assert found is not None, "the page did not finish measuring"
    assert json.loads(found.group(1)) == []
    # The example has labels that used to be crossed by the "now" marker: 21RC's keeps
    # eduplan's hand-made pilot.
    bar = re.search(r'<g class="bar" data-school="21RC">.*?</g>', result.stdout, re.S)
    assert bar is not None and re.search(r"\d+ \+ 1 left alone \(now \d+\)</text>", bar.group(0))
