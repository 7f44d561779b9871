"""`okectl promote`: an OKE version one stage forward for a wave of schools, gated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from okectl.cli.options import branch_options, emit, output_option, repo_option
from okectl.errors import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from okectl.config.rollout import Stage


@click.command()
@repo_option
@output_option("text", "markdown")
@click.option("--supplier", required=True, help="The supplier whose version moves.")
@click.option("--oke-version", required=True, help='The OKE version to promote, e.g. "1.1".')
@click.option(
    "--to",
    "to",
    type=click.Choice(["acceptance", "production"]),
    help="The stage to move it to [default: the wave's next stage].",
)
@click.option("--wave", help="The wave of policies/rollout.yaml [default: the first wave not there yet].")
@branch_options()
@click.option(
    "--body-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the pull request's body (the gates and their evidence) to this file.",
)
@click.option("--dry-run", is_flag=True, help="Weigh the gates and show what would change; change nothing.")
def promote(
    repo: Path,
    output: str,
    supplier: str,
    oke_version: str,
    to: str | None,
    wave: str | None,
    branch: str | None,
    author: str | None,
    body_file: Path | None,
    dry_run: bool,
) -> int:
    """Move an OKE version one stage forward (test → acceptance → production) for the schools
    of a wave, when verify, soak time, incidents, freeze windows and the wave order allow.

    Every gate is shown per school with its evidence; one that fails says the day it
    passes or the command to run. Exit 0 when promoted (or nothing to promote), 1 when a
    gate fails (nothing is changed then).
    """
    from okectl.engine.workspace import load_workspace
    from okectl.gitops.promote import promote as run_promote
    from okectl.views.promote import pull_request_body, render_promotion

    if dry_run and (branch is not None or body_file is not None):
        raise click.UsageError("--dry-run changes nothing: it takes no --branch or --body-file")
    result = run_promote(
        load_workspace(repo),
        supplier=supplier,
        oke_version=oke_version,
        to=cast("Stage | None", to),
        wave=wave,
        branch=branch,
        author=author,
        dry_run=dry_run,
        body_file=body_file,
        describe=pull_request_body,
    )
    nothing = f"Nothing to promote: every wave runs OKE {oke_version} of {supplier} there already."
    emit(render_promotion(result, output, nothing=nothing))
    return EXIT_OK if result is None or result.passed else EXIT_ERROR
