"""`okectl diff`, `okectl bump`, `okectl releases` and `okectl report`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from okectl.cli.options import branch_options, emit, output_option, repo_option
from okectl.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK

ENVIRONMENT_TYPES = ("production", "acceptance", "test", "pilot", "chain-test")


@click.command()
@repo_option
@output_option("text", "json")
@click.argument("ref1")
@click.argument("ref2", required=False)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are differences.")
def diff(repo: Path, output: str, ref1: str, ref2: str | None, detailed_exitcode: bool) -> int:
    """Show how the desired state differs between two git refs, by resource address.

    Without REF2, compares REF1 with the work tree. Reads files from git, never checks
    anything out, never calls a supplier. Exits 0, also when there are differences
    (it is a report, like git log), unless --detailed-exitcode asks for 2.
    """
    from okectl.gitops.diff import diff_refs
    from okectl.views.diff import render_diff

    result = diff_refs(repo, ref1, ref2)
    emit(render_diff(result, output))
    return EXIT_CHANGES if detailed_exitcode and not result.empty else EXIT_OK


@click.command()
@repo_option
@click.option("--supplier", required=True, help="The supplier whose connections move.")
@click.option("--oke-version", required=True, help='The OKE version to move to, e.g. "1.0.1".')
@click.option(
    "--environment",
    type=click.Choice(ENVIRONMENT_TYPES),
    help="Only environments of this type (writes a per-environment override).",
)
@click.option("--school", "schools", multiple=True, help="Only this school (repeatable).")
@branch_options()
def bump(
    repo: Path,
    supplier: str,
    oke_version: str,
    environment: str | None,
    schools: tuple[str, ...],
    branch: str | None,
    author: str | None,
) -> int:
    """Move a supplier's connections to another OKE version, editing the school files in place."""
    from okectl.engine.workspace import load_workspace
    from okectl.gitops.bump import bump as run_bump
    from okectl.views.bump import render_bump

    result = run_bump(
        load_workspace(repo),
        supplier=supplier,
        oke_version=oke_version,
        environment=environment,
        schools=list(schools),
        branch=branch,
        author=author,
    )
    click.echo(render_bump(result), nl=False)
    return EXIT_OK


@click.command()
@repo_option
@output_option("text", "json")
def releases(repo: Path, output: str) -> int:
    """Per supplier and school: environments behind the newest OKE version the supplier
    supports (its release feed) and policy allows (the version catalogue)."""
    from okectl.engine.workspace import load_workspace
    from okectl.gitops.releases import collect_releases
    from okectl.views.progress import read_progress
    from okectl.views.releases import render

    ws = load_workspace(repo)
    with read_progress(sys.stderr.isatty() and output == "text") as hook:
        report = collect_releases(ws, progress=hook)
    emit(render(report, output))
    return EXIT_ERROR if report.errors else EXIT_OK


@click.command()
@repo_option
@output_option("html")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write index.html into.",
)
@click.option("--no-plan", is_flag=True, help="Do not contact the suppliers; leave out the plan figures.")
def report(repo: Path, output: str, out_dir: Path, no_plan: bool) -> int:
    """Write the static harmonisation report (one HTML file, works offline)."""
    from okectl.engine.workspace import load_workspace
    from okectl.gitops.report import build_report, write_report
    from okectl.views.report import render_html

    data = build_report(load_workspace(repo), with_plan=not no_plan)
    path = write_report(render_html(data), out_dir)
    click.echo(f"Wrote {path}")
    return EXIT_OK
