"""`okectl plan`, `okectl apply` and `okectl import`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from okectl.cli.options import output_option, repo_option
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
    from okectl.policy.findings import PolicyReport


def _scope(
    repo: Path, schools: tuple[str, ...], suppliers: tuple[str, ...], changed_since: str | None
) -> Any:
    from okectl.model.scope import Scope

    school_set = set(schools) if schools else None
    supplier_set = set(suppliers) if suppliers else None
    reasons: tuple[str, ...] = ()
    if changed_since is not None:
        from okectl.gitops.scope import changed_scope

        changed = changed_scope(repo, changed_since)
        reasons = tuple(changed.reasons)
        if changed.schools is not None:
            school_set = changed.schools if school_set is None else school_set & changed.schools
        if changed.suppliers is not None:
            supplier_set = changed.suppliers if supplier_set is None else supplier_set & changed.suppliers
    return Scope(
        schools=school_set, suppliers=supplier_set, reasons=reasons, named_schools=frozenset(schools)
    )


def _render(run: Any, output: str) -> str:
    if output == "json":
        from okectl.jsontext import dumps
        from okectl.plans.document import plan_document

        return dumps(plan_document(run))
    if output == "markdown":
        from okectl.views.plan_markdown import render_markdown

        return render_markdown(run)
    from okectl.views.plan_text import render_text

    return render_text(run, color=sys.stdout.isatty())


def _version_drift(repo: Path, ws: Any, scope: Any, *, markdown: bool) -> str:
    """What okectl verify recorded (verification/) about environments serving another OKE
    version than they declare: the admin API cannot see that, only the OKE endpoint can."""
    from okectl.config.verification import RECORD_DIR

    if not os.path.lexists(repo / RECORD_DIR):
        # No record, nothing to show: not worth loading verify's modules for.
        return ""
    from okectl.verify.evidence import recorded_drift
    from okectl.views.verify import drift_notes

    declared = {
        str(r.address): str(r.spec.get("oke_version"))
        for r in ws.resources
        if r.address.kind == "environment"
        and (scope.schools is None or r.address.school in scope.schools)
    }
    return drift_notes(recorded_drift(repo, declared, suppliers=scope.suppliers), markdown=markdown)


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
    help="Exit 2 when there are changes, 3 when policy errors would stop apply.",
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
    from okectl.engine.planner import guard, make_plan, with_policy
    from okectl.engine.workspace import load_workspace
    from okectl.files import check_target

    if out_file is not None:
        check_target(out_file)  # before reading every supplier, not after
    ws = load_workspace(repo)
    scope = _scope(ws.root, schools, suppliers, changed_since)
    from okectl.views.progress import read_progress

    _report_in_flight(ws)
    with read_progress(sys.stderr.isatty() and output == "text") as hook:
        run = guard(with_policy(ws, make_plan(ws, scope=scope, force=force, progress=hook)))
    if out_file is not None:
        from okectl.engine.planner import saved_secrets
        from okectl.files import write_atomic
        from okectl.jsontext import dumps
        from okectl.plans.document import plan_document

        # Readable by its owner only: it holds digests of the secret values it writes.
        doc = plan_document(run, saved_secrets(ws, run))
        write_atomic(out_file, dumps(doc), what="the plan file", mode=0o600)
    click.echo(_render(run, output), nl=False)
    if output != "json":
        click.echo(_version_drift(ws.root, ws, scope, markdown=output == "markdown"), nl=False)
    if out_file is not None and output == "text":
        click.echo(f"Saved the plan to {out_file}; apply it with: okectl apply {out_file}")
    if detailed_exitcode and run.policy is not None and run.policy.errors:
        # CI learns from the plan already that apply would refuse.
        return EXIT_POLICY
    if detailed_exitcode and run.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


CONFIRM_PROMPT = "Apply these changes? Only 'yes' is accepted"


def _confirmed() -> bool:
    """Ask for 'yes'. Standard input that is not a terminal may carry the answer
    (`echo yes | okectl apply`), as with Terraform; empty input is no answer."""
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
def apply(repo: Path, plan_file: Path | None, auto_approve: bool, force: bool, allow_partial: bool) -> int:
    """Apply a saved plan, or plan now, show it, and apply after confirmation."""
    from okectl.engine.apply import apply_lock
    from okectl.engine.workspace import load_workspace

    if allow_partial and plan_file is None:
        raise OkectlError("--allow-partial is for a saved plan: okectl apply FILE --allow-partial")
    ws = load_workspace(repo)
    # One apply per repository: the check against the suppliers and the writes after it
    # must not interleave with another apply's.
    with apply_lock(ws.root, ws.clock) as note:
        if note is not None:
            click.echo(note, err=True)
        _report_in_flight(ws)
        return _apply(ws, plan_file, auto_approve, force, allow_partial)


def _report_in_flight(ws: Any) -> None:
    """Say which writes an interrupted apply left in flight, as a read finds them now."""
    from okectl.engine.apply import RUNS_DIR

    if not os.path.lexists(ws.root / RUNS_DIR):
        return
    from okectl.engine.apply import confirm_in_flight, in_flight

    if not in_flight(ws.root):
        return
    for line in confirm_in_flight(ws):
        click.echo(line, err=True)


def _apply(ws: Any, plan_file: Path | None, auto_approve: bool, force: bool, allow_partial: bool) -> int:
    from okectl.engine.apply import Journal, Stop, apply_changes
    from okectl.engine.planner import evaluate_policy, guard, make_plan, scoped_policy, with_policy
    from okectl.plans.document import plan_document
    from okectl.plans.saved import touched
    from okectl.views.plan_text import render_text
    from okectl.views.progress import apply_progress

    if plan_file is not None:
        saved = _load_plan(plan_file)
        # Decided from the suppliers and the desired state, never from the file alone.
        verified = _verify(ws, saved, allow_partial=allow_partial, force=force)
        if verified.already_applied:
            click.echo(f"{plan_file}: the plan was applied already: every change it makes is done")
            return EXIT_OK
        changes = verified.changes
        refused = verified.refused
        plan_checksum = saved.checksum
        # As the plan that made the file: the findings about what it writes, and those about
        # the repository as a whole (taken from the changes, not from the file's own claim).
        policy: PolicyReport | None = scoped_policy(evaluate_policy(ws), touched(saved))
    else:
        run = guard(with_policy(ws, make_plan(ws, force=force)))
        changes = run.plan.changes
        refused = {}
        plan_checksum = str(plan_document(run)["checksum"])
        policy = run.policy
        click.echo(render_text(run, color=sys.stdout.isatty()), nl=False)
    if policy is not None and policy.errors:
        for f in policy.errors:
            click.echo(f"{f.path}:{f.line}:{f.col}: [{f.policy}] {f.address}: {f.message}", err=True)
        click.echo(
            f"refusing to apply: {len(policy.errors)} policy error(s) stand; fix them or add a waiver",
            err=True,
        )
        return EXIT_POLICY
    if not changes:
        click.echo("Nothing to apply.")
        return EXIT_OK
    if not auto_approve and plan_file is None and not _confirmed():
        # As Terraform does: a declined apply did not do what was asked, so it is not a success.
        click.echo("Apply cancelled.")
        return EXIT_ERROR
    journal = Journal(ws, plan_checksum=plan_checksum)
    stop = Stop()
    result = None
    try:
        with stop.installed(), apply_progress(len(changes), terminal=sys.stdout.isatty()) as on_outcome:
            result = asyncio.run(
                apply_changes(
                    ws,
                    changes,
                    journal=journal,
                    refused=refused,
                    on_outcome=on_outcome,
                    stopped=stop,
                )
            )
    finally:
        # The journal ends with what is known, even when the run is interrupted.
        journal.close(result, stopped_by=stop.signal)
    for status in ("failed", "unknown", "refused", "not-attempted"):
        for o in result.by_status(status):
            click.echo(f"{status}: {o.address} ({o.action}): {o.message}", err=True)
    click.echo(result.summary())
    click.echo(f"Journal: {result.journal}")
    if stop.signal is not None:
        click.echo(f"stopped by {stop.signal}: the writes under way finished, no others started", err=True)
        return EXIT_TERMINATED if stop.signal == "SIGTERM" else EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_ERROR


def _load_plan(path: Path) -> Any:
    from okectl.files import read_regular
    from okectl.plans.document import MAX_PLAN_BYTES, PlanFileError, read_plan

    try:
        raw = read_regular(path, what="the plan file", limit=MAX_PLAN_BYTES)
    except OkectlError as exc:
        raise PlanFileError(str(exc)) from None
    return read_plan(raw, str(path))


def _verify(ws: Any, saved: Any, *, allow_partial: bool, force: bool) -> Any:
    from okectl.engine.planner import make_plan, written_secrets
    from okectl.engine.safety import UnsafePlan, check_safety
    from okectl.plans.changes import Plan
    from okectl.plans.document import secret_digests
    from okectl.plans.saved import check_against, check_claims, touched

    check_claims(saved, repository=ws.repository, suppliers=ws.state.suppliers)
    # Reads only the tenants the plan touches; the guards run below, on the file's changes.
    fresh = make_plan(ws, scope=touched(saved), force=force)
    salt = saved.secret_salt
    secrets_now = (
        secret_digests(written_secrets(ws, [c.change for c in saved.changes]), salt) if salt else {}
    )
    verified = check_against(saved, fresh, ws.desired, secrets_now=secrets_now, allow_partial=allow_partial)
    to_apply = [c for c in verified.changes if c.address not in verified.refused]
    safety = check_safety(Plan(changes=to_apply), ws.state, fresh.owned_envs, force=force)
    if safety:
        raise UnsafePlan(safety)
    return verified


@click.command("import")
@repo_option
@click.option("--supplier", required=True, help="The supplier to import from.")
@click.option("--school", "schools", multiple=True, help="Only this school (repeatable).")
@click.option("--write", is_flag=True, help="Write the YAML; without it, print what would be written.")
def import_(repo: Path, supplier: str, schools: tuple[str, ...], write: bool) -> int:
    """Adopt what already exists at a supplier into the YAML, keeping comments and formatting."""
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
