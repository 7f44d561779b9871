"""`okectl policy check` and `okectl policy kinds`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from okectl.cli.options import output_option, repo_option
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
def check(repo: Path, output: str, today: datetime | None, release_feeds: bool) -> int:
    """Check the desired state against the rules; exit 3 while an error finding is not waived.

    Each finding names the rule, its severity, the resource address and the file:line:col
    of the value that causes it. Invalid configuration or rules exit 1.
    """
    from okectl.engine.workspace import load_workspace
    from okectl.policy.engine import evaluate
    from okectl.views.policy import render_json, render_sarif, render_text

    ws = load_workspace(repo)
    releases = None
    if release_feeds:
        from okectl.engine.refresh import readable_feeds

        releases, failures = readable_feeds(ws.state, ws.root, ws.secret_roots)
        for line in failures:
            click.echo(f"warning: {line}", err=True)
    report = evaluate(
        ws.state,
        today=today.date() if today is not None else ws.clock.today(),
        releases=releases,
        resources=ws.resources,
    )
    if output == "json":
        click.echo(render_json(report), nl=False)
    elif output == "sarif":
        click.echo(render_sarif(report), nl=False)
    else:
        click.echo(render_text(report, color=sys.stdout.isatty()), nl=False)
    return EXIT_POLICY if report.errors else EXIT_OK


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
