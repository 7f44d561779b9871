"""`okectl policy check` and `okectl policy kinds`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from okectl.cli.options import emit, output_option, repo_option
from okectl.errors import EXIT_OK, EXIT_POLICY


@click.group()
def policy() -> None:
    """Harmonisation rules (policies/rules.yaml) and their waivers (policies/waivers.yaml)."""


@policy.command()
@repo_option
@output_option("text", "json", "sarif")
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    hidden=True,
    help="Evaluate as of this date (YYYY-MM-DD): waiver expiry, end of support.",
)
@click.option(
    "--release-feeds",
    is_flag=True,
    help="Also read each supplier's release feed (its admin API) for the supplier-supports-version rule.",
)
@click.option(
    "--changed-since",
    metavar="REF",
    help="While a freeze window lasts: weigh what changed since this git ref (a pull request's base), "
    "not since the window began.",
)
def check(
    repo: Path, output: str, today: datetime | None, release_feeds: bool, changed_since: str | None
) -> int:
    """Check the desired state against the rules; exit 3 while an error finding is not waived.

    Each finding names the rule, its severity, the resource address and the file:line:col
    of the value that causes it. Invalid configuration or rules exit 1.
    """
    from okectl.commands.policy import check as run_check
    from okectl.engine.workspace import load_workspace
    from okectl.model.clock import Clock
    from okectl.views.policy import render_policy

    ws = load_workspace(repo, clock=Clock(day=today.date()) if today is not None else None)
    checked = run_check(ws, release_feeds=release_feeds, changed_since=changed_since)
    emit(render_policy(checked.report, output, color=sys.stdout.isatty(), warnings=checked.feed_failures))
    return EXIT_POLICY if checked.report.errors else EXIT_OK


@policy.command()
def kinds() -> int:
    """List the rule kinds with their parameters, and the variables CEL expressions see."""
    from okectl.policy.cel.expressions import VARIABLES
    from okectl.policy.engine import KINDS

    for name, cls in sorted(KINDS.items()):
        click.echo(f"{name}: {cls.summary}")
        for pname, field in cls.params_model.model_fields.items():
            default = (
                "" if field.is_required() else f" (default {field.get_default(call_default_factory=True)!r})"
            )
            click.echo(f"    {pname}: {field.description or ''}{default}")
        if cls.default_environment_types:
            types = ", ".join(cls.default_environment_types)
            click.echo(f"    (environment types when the selector names none: {types})")
    click.echo("\nCEL variables (kind cel; the expression must be true for each selected environment):")
    for var, text in VARIABLES.items():
        click.echo(f"    {var}: {text}")
    return EXIT_OK
