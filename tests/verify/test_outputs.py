"""What verify leaves for an auditor and an adoption team: the index over the evidence packs,
the same --out for every output, and no "verified" where nothing was checked."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.cli import CliResult
from tests.support.verify import Served

Cli = Callable[..., CliResult]
PRODUCTION = "toets/10AA/production"


class _Rows(HTMLParser):
    """The matrix's rows: (link, cells) in the order shown."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str | None, list[str]]] = []
        self._cells: list[str] | None = None
        self._link: str | None = None
        self._text = ""
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._cells, self._link = [], None
        elif tag == "td":
            self._in_cell, self._text = True, ""
        elif tag == "a" and self._cells is not None and not self._cells:
            self._link = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cells is not None:
            self._cells.append(self._text.strip())
            self._in_cell = False
        elif tag == "tr" and self._cells:
            self.rows.append((self._link, self._cells))
            self._cells = None

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self._text += data


def test_html_writes_an_index_over_the_packs_failures_first(served: Served, cli: Cli, tmp_path: Path) -> None:
    served.faults(PRODUCTION, claim_version="1.0")
    out = tmp_path / "evidence"
    result = cli(
        "verify", "--repo", str(served.root), "--supplier", "toets", "--output", "html", "--out", str(out)
    )
    assert result.exit_code == 4
    # The terminal gets the summary, never the page.
    assert "<html" not in result.out and "verified 4 environment(s) at level 3" in result.out
    parser = _Rows()
    parser.feed((out / "index.html").read_text())
    rows = parser.rows
    assert [cells[0] for _, cells in rows] == [
        PRODUCTION,  # the failing one first
        "toets/10AA/acceptance",
        "toets/10AA/pilot",
        "toets/10AA/test",
    ]
    link, cells = rows[0]
    assert cells[1:] == ["1.0.1", "fail", "skip", "pass", "fail", "pass"]  # status, then L0-L3
    assert link == "toets/oke-1.0.1/index.html#env-toets-10AA-production"
    page = (out / link.split("#")[0]).read_text()
    assert 'id="env-toets-10AA-production"' in page
    for other, _ in rows[1:]:
        assert other is not None and (out / other.split("#")[0]).is_file()


@pytest.mark.parametrize(
    ("output", "name"), [("json", "results.json"), ("junit", "junit.xml"), ("text", "verify.txt")]
)
def test_out_means_the_same_for_every_output(
    served: Served, cli: Cli, tmp_path: Path, output: str, name: str
) -> None:
    out = tmp_path / output
    result = cli(
        "verify", "--repo", str(served.root), "--supplier", "toets", "--environment", "test",
        "--output", output, "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.out
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(
        [
            name,
            "index.html",
            "toets/oke-1.0/index.html",
            "toets/oke-1.0/manifest.json",
            "toets/oke-1.0/results.json",
        ]
    )
    assert "verified 1 environment(s) at level 3" in result.out
    if output == "json":
        assert json.loads((out / name).read_text())["status"] == "pass"


def test_level_0_on_a_loopback_sandbox_verifies_nothing_and_says_so(served: Served, cli: Cli) -> None:
    result = cli("verify", "--repo", str(served.root), "--supplier", "toets", "--level", "0")
    assert result.exit_code == 0
    assert "verified" not in result.out.replace("nothing verified", "")
    assert re.search(
        r"nothing verified in 4 environment\(s\) at level 0: every check was skipped", result.out
    )
    report = json.loads(cli("verify", "--repo", str(served.root), "--supplier", "toets", "--level", "0",
                            "--output", "json").out)  # fmt: skip
    assert report["status"] == "skip"


def test_the_index_renders_in_a_headless_browser(
    chromium: str, served: Served, cli: Cli, tmp_path: Path
) -> None:
    served.faults(PRODUCTION, claim_version="1.0")
    out = tmp_path / "evidence"
    cli("verify", "--repo", str(served.root), "--supplier", "toets", "--output", "html", "--out", str(out))
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", (out / "index.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    rows = re.findall(r'<a href="([^"]+)">([^<]+)</a>', dom)
    assert rows[0] == ("toets/oke-1.0.1/index.html#env-toets-10AA-production", PRODUCTION)
    assert len(rows) == 4
