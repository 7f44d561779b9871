"""`okectl verify`: does every environment speak the OKE version the repository declares?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from okectl.cli.options import output_option, repo_option
from okectl.errors import EXIT_CONFORMANCE, EXIT_ERROR, EXIT_OK


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
    help="Write an evidence pack per supplier and OKE version into this folder.",
)
@click.option(
    "--record", is_flag=True, help="Keep a summary per supplier under verification/ in the repository."
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
) -> int:
    """Check environments against the published OKE profile of their declared version.

    Exit codes: 0 all checks pass, 1 error (nothing or not everything could be verified),
    4 conformance failures.
    """
    from okectl.model.clock import today
    from okectl.verify import evidence
    from okectl.verify.runner import Selection
    from okectl.verify.runner import verify as run_verify
    from okectl.views import verify as views

    selection = Selection(frozenset(schools), frozenset(suppliers), environment, level)
    report = run_verify(repo, selection)
    if output == "json":
        click.echo(views.as_json(report), nl=False)
    elif output == "junit":
        click.echo(views.junit(report), nl=False)
    elif output == "html":
        click.echo(views.page(report), nl=False)
    else:
        colour = sys.stdout.isatty()
        paint = (lambda text, fg: click.style(text, fg=fg)) if colour else (lambda text, _fg: text)
        click.echo(views.text(report, paint=paint), nl=False)
    if out is not None:
        for folder in evidence.write_pack(report, out, as_json=views.as_json, page=views.page):
            click.echo(f"evidence: {folder}", err=True)
    if record:
        for path in evidence.record(report, repo, today()):
            click.echo(f"recorded: {path}", err=True)
    if report.status == "error":
        return EXIT_ERROR
    if report.status == "fail":
        return EXIT_CONFORMANCE
    return EXIT_OK
