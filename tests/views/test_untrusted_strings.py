"""Strings okectl did not write are shown escaped for where they land: a supplier's answer
(a label of a resource it holds) and okectl verify's record (the version a supplier's
`GET /` reported) in the plan for a terminal and in the Markdown pull-request comment; a
file's strings in the HTML report, in a real browser. Planted text must not start a line,
a heading, a link, an HTML element or a terminal escape of its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from okectl.config.repository import load_state
from okectl.config.settings import load_settings
from okectl.model.resources import Address
from okectl.providers.registry import make_provider
from tests.support.cli import run_cli
from tests.support.serving import serve_in_background

pytestmark = pytest.mark.timeout(120)

# A heading, a link and an image on lines of their own, a terminal escape that clears the
# screen, a table cell's end, a code span's fence and a right-to-left override.
EVIL = (
    "1.0\n### Forged heading\n[click here](https://evil.example/)\x1b[2J"
    "<img src=x onerror=alert(1)>|`x`\u202eevil"
)
UNMANAGED = Address.parse("delta-toets/21RC/evil")
DRIFTED = "delta-toets/21RC/production"


@pytest.fixture
def planted(example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example repository; its supplier holds an environment labelled with EVIL as the
    repository that owns it, and its record of verifications says `GET /` answered EVIL."""
    with serve_in_background(tmp_path / "sandbox.db", seed=example_repo / "sandbox" / "seed.yaml") as url:
        monkeypatch.setenv("OKECTL_SANDBOX_URL", url)
        supplier = load_state(example_repo).suppliers["delta-toets"]

        async def plant() -> None:
            provider = make_provider(supplier, repo_root=example_repo, settings=load_settings(example_repo))
            try:
                body = {"type": "test", "oke_version": "1.0", "flows": [0]}
                await provider.create(UNMANAGED, body, {"managed-by": "okectl", "okectl/repository": EVIL})
            finally:
                await provider.aclose()

        asyncio.run(plant())
        run = {"date": "2026-11-28", "level": 2, "passed_level": 1, "status": "fail"}
        run["environments"] = [DRIFTED]
        run["drift"] = {DRIFTED: EVIL}
        record = {"supplier": "delta-toets", "oke_versions": {"1.0": run}}
        (example_repo / "verification").mkdir()
        (example_repo / "verification" / "delta-toets.json").write_text(json.dumps(record))
        yield example_repo


def test_the_plan_for_a_terminal_shows_planted_strings_escaped(planted: Path) -> None:
    result = run_cli("plan", "--repo", str(planted), "--supplier", "delta-toets")
    assert result.exit_code == 0, result.err
    out = result.out
    # Off a terminal the plan has no escape sequence at all, and no planted line.
    assert "\x1b" not in out and "\u202e" not in out
    planted = ("### Forged", "[click", "<img")
    assert not [line for line in out.splitlines() if line.lstrip().startswith(planted)]
    shown = (
        "1.0\\n### Forged heading\\n[click here](https://evil.example/)\\x1b[2J"
        "<img src=x onerror=alert(1)>|`x`\\u202eevil"
    )
    assert f"  ? {UNMANAGED}: managed by another repository ({shown})" in out
    assert f"  {DRIFTED}: declares OKE 1.0, GET / says OKE {shown}" in out


def test_the_markdown_comment_renders_planted_strings_as_text(planted: Path) -> None:
    result = run_cli("plan", "--repo", str(planted), "--supplier", "delta-toets", "--output", "markdown")
    assert result.exit_code == 0, result.err
    md = result.out
    assert "\x1b" not in md and "\u202e" not in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    # Rendered, the planted markup is text: no heading, link or image of its own.
    assert "<h3>Forged" not in html
    assert 'href="https://evil.example/"' not in html
    assert "<img" not in html
    assert "[click here](https://evil.example/)" in html  # as text, visible to a reviewer
    assert "Version drift (okectl verify, 2026-11-28)</h3>" in html


def test_the_html_report_shows_file_strings_as_text_in_a_browser(
    example_repo: Path, chromium: str, tmp_path: Path
) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    name = 'ROC <img src=x onerror="document.title=\'pwned\'"> "quoted" & <b>bold</b>'
    text = school.read_text().replace("name: ROC Rivierenland Centraal", f"name: {json.dumps(name)}")
    school.write_text(text)
    done = run_cli("report", "--repo", str(example_repo), "--no-plan", "--out", str(tmp_path / "report"))
    assert done.exit_code == 0, done.err
    page = tmp_path / "report" / "index.html"
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<img" not in dom.stdout and "pwned" not in dom.stdout.split("</title>")[0]
    assert "<b>bold</b>" not in dom.stdout
    # The name is there, as the text it is.
    shown = 'ROC &lt;img src=x onerror="document.title=\'pwned\'"&gt; "quoted" &amp; &lt;b&gt;bold&lt;/b&gt;'
    assert shown in dom.stdout
