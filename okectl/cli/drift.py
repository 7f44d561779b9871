"""`okectl drift`."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from okectl.cli.options import branch_options, emit, output_option, repo_option
from okectl.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED

if TYPE_CHECKING:
    from okectl.commands.drift import DriftRun
    from okectl.engine.workspace import Workspace
    from okectl.model.scope import Scope


@click.command()
@repo_option
@output_option("text", "json", "markdown")
@click.option("--school", "schools", multiple=True, help="Only this school (repeatable).")
@click.option("--supplier", "suppliers", multiple=True, help="Only this supplier (repeatable).")
@click.option("--heal", is_flag=True, help="Apply the configuration again where heal-mode suppliers drifted.")
@click.option("--accept", is_flag=True, help="Write what accept-mode suppliers have into the YAML.")
@branch_options("With --accept: commit it on this new branch and stay on it.")
@click.option(
    "--pr-body",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --accept: write the pull request's text (Markdown) for the accepted drift to this file.",
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when drift is left that this run did not settle."
)
def drift(
    repo: Path,
    output: str,
    schools: tuple[str, ...],
    suppliers: tuple[str, ...],
    heal: bool,
    accept: bool,
    branch: str | None,
    author: str | None,
    pr_body: Path | None,
    detailed_exitcode: bool,
) -> int:
    """Report drift at the suppliers, grouped by cause, and act on each supplier's drift mode.

    Drift is what a supplier changed that the configuration did not. Without --heal or
    --accept nothing is written. --heal applies the configuration again where heal-mode
    suppliers drifted (through apply: every guard holds); --accept writes what accept-mode
    suppliers have into the YAML, policy-checked (with --branch on a new branch).
    """
    from okectl.commands.plan import plan_scope
    from okectl.engine.workspace import load_workspace
    from okectl.views.drift import render_drift

    if pr_body is not None and not accept:
        raise click.UsageError(
            "--pr-body is for accepted drift: okectl drift --accept --branch NAME --pr-body FILE"
        )
    ws = load_workspace(repo)
    scope = plan_scope(ws, schools=set(schools) or None, suppliers=set(suppliers) or None)
    run = _run(ws, scope, heal=heal, accept=accept, branch=branch, author=author, show=output == "text")
    emit(render_drift(run, output))
    if pr_body is not None and run.accepted is not None and run.accepted.written:
        _write_body(run, pr_body)
    return _exit_code(run, detailed_exitcode)


def _run(
    ws: Workspace,
    scope: Scope,
    *,
    heal: bool,
    accept: bool,
    branch: str | None,
    author: str | None,
    show: bool,
) -> DriftRun:
    """Find drift and act on it, telling the reads and each write on standard error (the
    report is standard output); SIGTERM and Ctrl-C stop healing as they stop apply."""
    from okectl.cli.plan import TerminalApply
    from okectl.cli.signals import Stop
    from okectl.commands.drift import drift
    from okectl.views.progress import apply_progress, read_progress

    stop = Stop()
    with (
        read_progress(sys.stderr.isatty() and show) as hook,
        apply_progress(terminal=sys.stderr.isatty(), stream=sys.stderr) as progress,
        ExitStack() as during,
    ):
        view = TerminalApply(progress, stop, during, auto_approve=True)
        return drift(
            ws, scope=scope, heal=heal, accept=accept, branch=branch, author=author, view=view,
            stopped=stop, progress=hook,
        )  # fmt: skip


def _write_body(run: DriftRun, path: Path) -> None:
    from okectl.files import write_atomic
    from okectl.views.drift import render_pull_request

    write_atomic(path, render_pull_request(run), what="the pull request's text")


def _exit_code(run: DriftRun, detailed: bool) -> int:
    healed = run.healed
    result = healed.applied.result if healed is not None and healed.applied is not None else None
    if result is not None and result.stopped_by is not None:
        # As apply: healing stopped by a signal says which.
        return EXIT_TERMINATED if result.stopped_by == "SIGTERM" else EXIT_INTERRUPTED
    if not run.ok:
        return healed.refused_exit if healed is not None and healed.refused else EXIT_ERROR
    return EXIT_CHANGES if detailed and run.unresolved else EXIT_OK
