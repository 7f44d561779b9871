"""`okectl plan`, `okectl apply` and `okectl import`."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from okectl.cli.options import emit, output_option, repo_option
from okectl.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_POLICY,
    EXIT_TERMINATED,
    OkectlError,
)

if TYPE_CHECKING:
    from okectl.cli.signals import Stop
    from okectl.commands.apply import Applied
    from okectl.plans.outcomes import Outcome, WriteProgress
    from okectl.plans.run import PlanRun


@click.command()
@repo_option
@output_option("text", "json", "markdown")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan (with a checksum and the observed ETags) for okectl apply FILE.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (not those only awaiting a supplier's confirmation), "
    "3 when policy errors would stop apply.",
)
@click.option("--school", "schools", multiple=True, help="Only this school (repeatable).")
@click.option("--supplier", "suppliers", multiple=True, help="Only this supplier (repeatable).")
@click.option("--changed-since", metavar="REF", help="Only what a change since this git ref touches.")
@click.option("--force", is_flag=True, help="Allow deleting more than a supplier's safety fraction.")
def plan(
    repo: Path,
    output: str,
    out_file: Path | None,
    detailed_exitcode: bool,
    schools: tuple[str, ...],
    suppliers: tuple[str, ...],
    changed_since: str | None,
    force: bool,
) -> int:
    """Show what apply would change at the suppliers."""
    from okectl.commands.plan import plan as make
    from okectl.commands.plan import plan_scope
    from okectl.engine.workspace import load_workspace
    from okectl.views.plan import render_plan
    from okectl.views.progress import read_progress

    ws = load_workspace(repo)
    scope = plan_scope(
        ws, schools=set(schools) or None, suppliers=set(suppliers) or None, changed_since=changed_since
    )
    with read_progress(sys.stderr.isatty() and output == "text") as hook:
        planned = make(ws, scope=scope, force=force, out=out_file, progress=hook)
    emit(render_plan(planned, output, color=sys.stdout.isatty()))
    run = planned.run
    if detailed_exitcode and run.policy is not None and run.policy.errors:
        # CI learns from the plan already that apply would refuse.
        return EXIT_POLICY
    return EXIT_CHANGES if detailed_exitcode and run.plan.has_changes else EXIT_OK


class TerminalApply:
    """What apply shows and asks, on the command line. SIGTERM and Ctrl-C stop the run
    gently from the moment the writes start (``stop``); before that, they end it at once."""

    def __init__(self, progress: WriteProgress, stop: Stop, during: ExitStack, *, auto_approve: bool) -> None:
        self.progress = progress
        self.stop = stop
        self.during = during
        self.auto_approve = auto_approve

    def note(self, line: str) -> None:
        from okectl.views.escape import terminal

        click.echo(terminal(line), err=True)

    def planned(self, run: PlanRun) -> None:
        from okectl.views.plan_text import render_text

        click.echo(render_text(run, color=sys.stdout.isatty()), nl=False)

    def confirm(self, run: PlanRun) -> bool:
        return self.auto_approve or _confirmed()

    def start(self, total: int) -> None:
        self.during.enter_context(self.stop.installed())
        self.progress.start(total)

    def written(self, outcome: Outcome) -> None:
        self.progress(outcome)


def _confirmed() -> bool:
    """Ask for 'yes'. Standard input that is not a terminal may carry the answer
    (`echo yes | okectl apply`), as with Terraform; empty input is no answer."""
    from okectl.views.apply import CONFIRM_PROMPT

    if sys.stdin is not None and sys.stdin.isatty():
        answer: str = click.prompt(CONFIRM_PROMPT, default="", show_default=False)
    else:
        click.echo(f"{CONFIRM_PROMPT}: ", nl=False)
        answer = sys.stdin.readline() if sys.stdin is not None else ""
        if not answer:
            raise OkectlError(
                "refusing to apply without confirmation: standard input is empty; "
                "answer 'yes' on it or pass --auto-approve (for CI)"
            )
        # The answer was not echoed by a terminal; end the prompt's line.
        click.echo(answer.strip())
    return answer.strip() == "yes"


@click.command()
@repo_option
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option("--force", is_flag=True, help="Allow deleting more than a supplier's safety fraction.")
@click.option(
    "--allow-partial",
    is_flag=True,
    help="With a saved plan: apply its changes that are still current and refuse only the stale "
    "ones (by default a stale change refuses the whole plan).",
)
@click.option(
    "--reviewed",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A saved plan a review approved: plan now, and apply only when that makes no change the "
    "reviewed plan does not (fewer is fine); otherwise stop before any write and show the difference.",
)
@click.option(
    "--break-glass",
    is_flag=True,
    help="Write changes a freeze window holds back (policies/calendar.yaml); needs --reason.",
)
@click.option("--reason", metavar="TEXT", help="Why --break-glass: kept in the journal with the user.")
@click.option(
    "--send",
    is_flag=True,
    help="Send the change requests written (and any open one never sent) through the SMTP server "
    "in okectl.yaml (smtp:); without it nothing leaves the machine.",
)
def apply(
    repo: Path,
    plan_file: Path | None,
    auto_approve: bool,
    force: bool,
    allow_partial: bool,
    reviewed: Path | None,
    break_glass: bool,
    reason: str | None,
    send: bool,
) -> int:
    """Apply a saved plan, or plan now, show it, and apply after confirmation."""
    from okectl.cli.signals import Stop
    from okectl.commands.apply import apply as run_apply
    from okectl.commands.apply import check_can_send, deliver
    from okectl.engine.workspace import load_workspace
    from okectl.views.apply import render_applied
    from okectl.views.progress import apply_progress

    if break_glass != (reason is not None):
        raise click.UsageError("--break-glass and --reason go together: --break-glass --reason TEXT")
    ws = load_workspace(repo)
    if send:
        check_can_send(ws)
    stop = Stop()
    with apply_progress(terminal=sys.stdout.isatty()) as progress, ExitStack() as during:
        view = TerminalApply(progress, stop, during, auto_approve=auto_approve)
        applied = run_apply(
            ws, plan_file=plan_file, force=force, allow_partial=allow_partial, view=view, stopped=stop,
            break_glass=reason, reviewed=reviewed,
        )
    if applied.status != "cancelled" and stop() is None:
        applied = deliver(ws, applied, send=send)
    emit(render_applied(applied))
    return _exit_code(applied)


def _exit_code(applied: Applied) -> int:
    if applied.status == "cancelled":
        # As Terraform does: a declined apply did not do what was asked, so it is not a success.
        return EXIT_ERROR
    stopped_by = applied.result.stopped_by if applied.result is not None else None
    if stopped_by is not None:
        return EXIT_TERMINATED if stopped_by == "SIGTERM" else EXIT_INTERRUPTED
    return EXIT_OK if applied.ok else EXIT_ERROR


@click.command("import")
@repo_option
@click.option("--supplier", required=True, help="The supplier to import from.")
@click.option("--school", "schools", multiple=True, help="Only this school (repeatable).")
@click.option("--write", is_flag=True, help="Write the YAML; without it, print what would be written.")
@click.option(
    "--from",
    "export",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A supplier's export (CSV, JSON, YAML) to record as its state (change-request suppliers).",
)
def import_(repo: Path, supplier: str, schools: tuple[str, ...], write: bool, export: Path | None) -> int:
    """Adopt what already exists at a supplier into the YAML, keeping comments and formatting."""
    if export is not None:
        from okectl.cli.requests import import_export

        return import_export(repo, supplier, schools, write, export)
    from okectl.engine.importer import import_supplier
    from okectl.engine.workspace import load_workspace
    from okectl.views.importer import render_import
    from okectl.views.progress import read_progress

    ws = load_workspace(repo)
    with read_progress(sys.stderr.isatty()) as hook:
        result = import_supplier(ws, supplier, schools=set(schools) or None, write=write, progress=hook)
    click.echo(render_import(result), nl=False)
    # Like a partial apply: what could be imported was, the rest needs the user.
    return EXIT_ERROR if result.blocked else EXIT_OK
