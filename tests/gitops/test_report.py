"""`okectl report`: one offline HTML file, checked in a real headless browser."""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from okectl.engine.workspace import load_workspace
from okectl.gitops.report import build_report, write_report
from okectl.model.clock import Clock
from okectl.views.report import ALIGNMENT, render_html
from tests.support.cli import run_cli
from tests.support.git import GitRepo

MakeRepo = Callable[..., GitRepo]
EXAMPLE_SCHOOLS = 12


def _browser(chromium: str, page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", *args, page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def report_page(example_repo: Path, tmp_path: Path) -> Path:
    data = build_report(load_workspace(example_repo, clock=Clock(day=date(2026, 9, 1))), with_plan=False)
    return write_report(render_html(data), tmp_path / "report")


def test_the_matrix_renders_in_a_headless_browser(chromium: str, report_page: Path, tmp_path: Path) -> None:
    result = _browser(chromium, report_page, tmp_path / "profile", "--dump-dom")

    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    rows = re.findall(r'<tr class="school-row" data-school="(\w+)">', dom)
    assert len(rows) == EXAMPLE_SCHOOLS
    assert rows[:3] == ["21RC", "23KM", "25LV"]
    assert len(re.findall(r'<g class="bar" data-school=', dom)) == EXAMPLE_SCHOOLS
    assert 'id="suppliers"' in dom


def test_the_report_screenshot_is_a_real_picture(chromium: str, report_page: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"

    shot = (f"--screenshot={png}", "--window-size=1400,1000")
    result = _browser(chromium, report_page, tmp_path / "profile", *shot)

    assert result.returncode == 0, result.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 1000)
    # A blank page compresses to a few kilobytes; a rendered table does not.
    assert len(data) > 50_000


def test_the_report_needs_nothing_from_the_network(report_page: Path) -> None:
    html = report_page.read_text(encoding="utf-8")

    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "url(http" not in html


def test_every_coloured_version_also_carries_a_symbol(report_page: Path) -> None:
    html = report_page.read_text(encoding="utf-8")
    symbols = {a["symbol"] for a in ALIGNMENT.values()}

    badges = re.findall(r'<span class="badge a-[\w-]+" title="[^"]*">(.)', html)
    assert badges
    assert set(badges) <= symbols


def test_the_matrix_colours_versions_by_alignment(report_page: Path) -> None:
    html = report_page.read_text(encoding="utf-8")

    # 21RC pilots OKE 1.1 (a concept) in delta-toets acceptance: ahead of the target.
    assert re.search(r'class="badge a-ahead" title="acceptance \(acceptance\): OKE 1.1, ahead', html)
    assert 'class="badge a-behind" title="production (production): OKE 1.0, behind the target"' in html


def test_the_report_records_the_commit_and_dirty_flag(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo()
    repo.write({"schools/22BB.yaml": repo.read("schools/22BB.yaml").replace("ROC Bb", "ROC B")})

    data = build_report(load_workspace(repo.root), with_plan=False)
    page = write_report(render_html(data), tmp_path / "out")

    html = page.read_text(encoding="utf-8")
    assert f'<code id="commit">{repo.git("rev-parse", "HEAD")[:12]}</code>' in html
    assert 'id="dirty"' in html


def test_the_report_command_writes_index_html_with_the_plan_or_says_why_not(
    example_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "site"

    result = run_cli("report", "--output", "html", "--out", str(out), "--repo", str(example_repo))

    assert result.exit_code == 0, result.err
    assert result.out == f"Wrote {out / 'index.html'}\n"
    note = re.search(r'<p class="note" id="plan-note">([^<]*)</p>', (out / "index.html").read_text())
    assert note is not None
    assert note.group(1).startswith(("Plan: ", "No changes.", "plan unavailable: "))


def test_environment_counts_come_from_the_plan_against_the_configured_suppliers(
    example_repo: Path, tmp_path: Path
) -> None:
    # The example repository talks to the embedded sandbox, so the plan needs no network.
    data = build_report(load_workspace(example_repo, clock=Clock(day=date(2026, 9, 1))))

    assert data.plan_available, data.plan_note
    assert data.env_before is not None
    # After apply every desired environment exists; unmanaged ones are left alone, so may remain.
    assert data.env_after >= data.totals["environments"]
    html = write_report(render_html(data), tmp_path / "out").read_text(encoding="utf-8")
    assert re.search(r'<table id="env-counts">.*<th scope="row">All suppliers</th>', html, re.S)
    summary = r'id="plan-note">Plan: \d+ to create, (\d+ to adopt, )?\d+ to update, \d+ to delete'
    assert re.search(summary, html)


def test_findings_about_a_whole_school_or_supplier_show_under_its_name(
    chromium: str, example_repo: Path, tmp_path: Path
) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(school.read_text().replace("roles:", "roles:\n  student: [21rc-studenten]", 1))
    supplier = example_repo / "suppliers" / "delta-toets.yaml"
    supplier.write_text(supplier.read_text().replace("  assessor: Beoordelaar\n", "", 1))
    data = build_report(load_workspace(example_repo, clock=Clock(day=date(2026, 9, 1))), with_plan=False)
    page = write_report(render_html(data), tmp_path / "report")

    dom = _browser(chromium, page, tmp_path / "profile", "--dump-dom").stdout
    row = re.search(r'<th class="school" scope="row">21RC<br>.*?</th>', dom, re.S)
    column = re.search(r'<th data-supplier="delta-toets">.*?</th>', dom, re.S)
    assert row is not None and column is not None
    mark = r'class="policy p-(error|warning) whole">[✕!] 1 (error|warning)<'
    assert re.search(mark, row.group(0)), row.group(0)
    assert re.search(mark, column.group(0)), column.group(0)
    # A school or supplier without such findings carries no mark.
    other = re.search(r'<th class="school" scope="row">23KM<br>.*?</th>', dom, re.S)
    assert other is not None and "whole" not in other.group(0)


def test_each_supplier_shows_its_open_change_requests_and_incidents_in_a_browser(
    chromium: str, example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The requests apply writes on 2026-11-28, looked at on 2026-12-10: twelve days old,
    # past ExamenGo's SLA of 10 days, not yet at its escalation after 20.
    monkeypatch.delenv("OKECTL_SANDBOX_URL", raising=False)
    saved = str(tmp_path / "plan.json")
    plan = run_cli("plan", "--supplier", "examengo", "--out", saved, "--repo", str(example_repo))
    assert plan.exit_code == 0, plan.err
    applied = run_cli("apply", saved, "--repo", str(example_repo))
    assert "Apply: 0 applied, 3 requested, 0 failed" in applied.out, applied.out + applied.err
    data = build_report(load_workspace(example_repo, clock=Clock(day=date(2026, 12, 10))), with_plan=False)
    page = write_report(render_html(data), tmp_path / "report")
    dom = _browser(chromium, page, tmp_path / "profile", "--dump-dom").stdout

    table = re.search(r'<table id="support">.*?</table>\s*<h2', dom, re.S)
    assert table is not None
    parts = table.group(0).split('<tr class="support-row" data-supplier="')[1:]
    rows = {part.split('"', 1)[0]: part for part in parts}

    def row(supplier: str) -> str:
        return rows[supplier]

    examengo = row("examengo")
    assert "SLA 10 days" in examengo
    requests = re.findall(r'<tr class="request standing-(\w+)" data-request="(examengo-\w+-\w+)">', examengo)
    assert [standing for standing, _ in requests] == ["overdue", "overdue"]
    assert re.search(r'<td class="num age">12 of 10 days</td>', examengo)
    assert "! overdue" in examengo
    # The overdue requests are incidents of their schools at the supplier too.
    assert 'data-key="examengo/23KM#request.overdue"' in examengo
    # A supplier with an administration API has no requests; its cell says so.
    assert "(administration API)" in row("delta-toets")
    carriers = re.findall(r'<td class="carrier">(.*?)</td>', dom, re.S)
    assert sum("support desk" in c for c in carriers) == 6
    assert sum("administration API" in c for c in carriers) == 2
    total = re.search(r'<b id="open-requests">(\d+)</b>', dom)
    assert total is not None and int(total.group(1)) == data.totals["open_requests"] > 0


def test_a_request_folder_that_cannot_be_read_is_named_by_the_report(
    example_repo: Path, tmp_path: Path
) -> None:
    broken = example_repo / "requests" / "examengo" / "examengo-23km-0000000000"
    broken.mkdir(parents=True)
    (broken / "status.yaml").write_text("status: [not a status\n")
    out = tmp_path / "site"
    repo = str(example_repo)
    result = run_cli("report", "--output", "html", "--out", str(out), "--no-plan", "--repo", repo)
    assert result.exit_code == 1
    assert result.err.startswith("requests/examengo/examengo-23km-0000000000/status.yaml:2:1: malformed YAML")
    assert "Traceback" not in result.err and not (out / "index.html").exists()
    # Without a rule that reads the requests, the page is made, and says what it could not read.
    rules = example_repo / "policies" / "rules.yaml"
    rules.write_text(rules.read_text().replace("kind: request-age", "kind: profile-required"))
    html = render_html(build_report(load_workspace(example_repo), with_plan=False))
    assert re.search(r'<p class="note support-note">open change requests unavailable: ', html)
