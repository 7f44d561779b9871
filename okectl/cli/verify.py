"""`okectl verify`: does every environment speak the OKE version the repository declares?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from okectl.cli.options import output_option, repo_option
from okectl.errors import EXIT_CONFORMANCE, EXIT_ERROR, EXIT_OK
from okectl.verify.runner import DEFAULT_RUN_SECONDS

if TYPE_CHECKING:
    from okectl.engine.workspace import Workspace
    from okectl.verify.model import VerifyReport


@click.command()
@repo_option
@click.option("--school", "schools", multiple=True, metavar="CODE", help="Only this school (repeatable).")
@click.option("--supplier", "suppliers", multiple=True, metavar="ID", help="Only this supplier (repeatable).")
@click.option("--environment", metavar="NAME", help="Only environments with this name (e.g. acceptance).")
@click.option(
    "--level",
    type=click.IntRange(0, 4),
    default=3,
    show_default=True,
    help="0 transport, 1 auth, 2 metadata, 3 read contract, 4 write contract (never on production).",
)
@output_option("text", "json", "junit", "html")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the output into this folder instead of the terminal (text: verify.txt, json: "
    "results.json, junit: junit.xml, html: index.html), beside an evidence pack per supplier and "
    "OKE version; the terminal gets the summary.",
)
@click.option(
    "--record", is_flag=True, help="Keep a summary per supplier under verification/ in the repository."
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=1, max=86_400),
    default=DEFAULT_RUN_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="The whole run's deadline: an endpoint still answering then has failed.",
)
def verify(
    repo: Path,
    schools: tuple[str, ...],
    suppliers: tuple[str, ...],
    environment: str | None,
    level: int,
    output: str,
    out: Path | None,
    record: bool,
    deadline: float,
) -> int:
    """Check environments against the published OKE profile of their declared version.

    Exit codes: 0 all checks pass, 1 error (nothing or not everything could be verified),
    4 conformance failures.
    """
    from okectl.engine.workspace import load_workspace
    from okectl.verify.runner import Selection
    from okectl.verify.runner import verify as run_verify
    from okectl.views import verify as views

    if output == "html" and out is None:
        # A page is for a browser, and it links to the evidence packs beside it.
        raise click.UsageError("--output html writes index.html over the evidence packs: give --out DIR")
    ws = load_workspace(repo)
    report = run_verify(ws, Selection(frozenset(schools), frozenset(suppliers), environment, level, deadline))
    paint = (lambda text, fg: click.style(text, fg=fg)) if sys.stdout.isatty() else (lambda text, _fg: text)
    if out is None:
        shown = {"json": views.as_json, "junit": views.junit}.get(output)
        click.echo(shown(report) if shown is not None else views.text(report, paint=paint), nl=False)
    else:
        _write_out(report, out, output)
        click.echo(views.text(report, paint=paint), nl=False)
    if record:
        from okectl.verify import evidence

        for path in evidence.record(report, ws.root, ws.clock.today()):
            click.echo(f"recorded: {path}", err=True)
        _observe_requests(ws, report)
    return {"error": EXIT_ERROR, "fail": EXIT_CONFORMANCE}.get(report.status, EXIT_OK)


def _observe_requests(ws: Workspace, report: VerifyReport) -> None:
    """What the endpoints said, as an observation of the change requests of suppliers
    managed by change requests: confirmed, observed in part, or reopened."""
    from okectl.requests.observe import EndpointSeen, observe_endpoints
    from okectl.views.requests import render_observed

    seen = [
        EndpointSeen(e.address, e.base_url, e.observed.answered, e.observed.oke_version)
        for e in report.environments
    ]
    done = observe_endpoints(ws.root, ws.state, seen, level=report.level, day=ws.clock.today())
    click.echo(render_observed(done), nl=False, err=True)


def _write_out(report: VerifyReport, out: Path, output: str) -> None:
    """The evidence packs, an index over them and the chosen output, into ``out``."""
    from okectl.verify import evidence
    from okectl.views import verify as views

    for folder in evidence.write_pack(report, out, as_json=views.as_json, page=views.page):
        click.echo(f"evidence: {folder}", err=True)
    links = {
        env.address: evidence.pack_link(env.supplier, env.oke_version) + "#" + views.anchor(env.address)
        for env in report.environments
    }
    files = {"index.html": views.index(report, links)}
    chosen = {"json": ("results.json", views.as_json), "junit": ("junit.xml", views.junit)}
    name, render = chosen.get(output, ("verify.txt", views.text))
    if output != "html":
        files[name] = render(report)
    for path in evidence.write_files(out, files):
        click.echo(f"written: {path}", err=True)
