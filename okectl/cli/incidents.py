"""`okectl incidents`: what fails at the suppliers now, one incident per supplier, subject
and check (docs/incidents.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from okectl.cli.options import output_option, repo_option
from okectl.errors import EXIT_CHANGES, EXIT_OK
from okectl.incidents.model import SOURCES

if TYPE_CHECKING:
    from okectl.engine.validate import Validated
    from okectl.incidents.model import Incidents

F = TypeVar("F", bound=Callable[..., Any])


def source_options(func: F) -> F:
    """--source and --plan: what a run reads, for `okectl incidents` and the action's step."""
    func = click.option(
        "--plan",
        "plan_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A plan made after the writes (plan --out FILE, or --output json): an address it has "
        "nothing left to do at settles a failed or 'outcome unknown' write.",
    )(func)
    return click.option(
        "--source",
        "sources",
        multiple=True,
        type=click.Choice(SOURCES),
        help="Read only this source (repeatable): verify (verification/), writes (.okectl/runs/), "
        "requests (requests/) [default: all].",
    )(func)


def derive(repo: Path, sources: tuple[str, ...], plan_file: Path | None) -> tuple[Validated, Incidents]:
    from okectl.engine.workspace import load_workspace
    from okectl.incidents.derive import derive_incidents
    from okectl.incidents.sources import read_plan

    validated = load_workspace(repo).validated
    plan = read_plan(plan_file) if plan_file is not None else None
    chosen = [s for s in SOURCES if not sources or s in sources]
    return validated, derive_incidents(validated, sources=chosen, plan=plan)


@click.command()
@repo_option
@output_option("text", "json", "markdown")
@source_options
@click.option("--supplier", "suppliers", multiple=True, help="Only incidents of this supplier (repeatable).")
@click.option(
    "--environment",
    help="Only incidents that concern this environment (supplier/school/environment), its supplier's "
    "supplier-wide ones included.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when an incident is open.")
def incidents(
    repo: Path,
    output: str,
    sources: tuple[str, ...],
    plan_file: Path | None,
    suppliers: tuple[str, ...],
    environment: str | None,
    detailed_exitcode: bool,
) -> int:
    """The open incidents: failed verifications, failed or "outcome unknown" writes, and
    change requests past their SLA or rejected."""
    from okectl.views.incidents import render_json, render_markdown, render_text

    _, found = derive(repo, sources, plan_file)
    found.open = [
        i
        for i in found.open
        if (not suppliers or i.supplier in suppliers)
        and (environment is None or i.concerns(environment.split("/", 1)[0], environment))
    ]
    render = {"json": render_json, "markdown": render_markdown}.get(output, render_text)
    click.echo(render(found), nl=False)
    return EXIT_CHANGES if detailed_exitcode and found.open else EXIT_OK
