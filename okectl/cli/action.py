"""The GitHub Action's steps that talk to GitHub: `python -m okectl.cli.action
comment|drift-issue|drift-pull-request|incidents`, and `reviewed-plan` in the apply workflow.

They run inside a GitHub Actions job and read what the runner provides: ``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, ``GITHUB_EVENT_PATH``, ``GITHUB_SERVER_URL``, ``GITHUB_RUN_ID``,
``GITHUB_SHA``, ``GITHUB_REF_NAME`` and ``GITHUB_STEP_SUMMARY``; the token comes in
``GITHUB_TOKEN``. What goes wrong is reported as a workflow annotation
(``::error::``/``::warning::``), one line each.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from okectl.cli.incidents import derive, source_options
from okectl.cli.options import repo_option
from okectl.errors import EXIT_ERROR, OkectlError
from okectl.files import read_regular
from okectl.gitops.github import (
    BODY_LIMIT,
    DEFAULT_API_URL,
    ForgeError,
    GitHub,
    Verification,
    add_to_summary,
    comment_body,
    cut,
    drift_body,
    keep_drift_issue,
    keep_pull_request,
    upsert_comment,
)

EVENT_LIMIT = 16 << 20
RESULT_LIMIT = 16 << 20


def annotate(level: str, text: str) -> None:
    """A workflow command on one line: GitHub's escapes keep a message from ending it early."""
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    click.echo(f"::{level}::{escaped}")


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise OkectlError(f"{name} is not set: this step runs in a GitHub Actions job")
    return value


def _run_url() -> str:
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    return f"{server}/{_env('GITHUB_REPOSITORY')}/actions/runs/{_env('GITHUB_RUN_ID')}"


def _read(path: Path, what: str) -> str | None:
    if not os.path.lexists(path):
        return None
    return read_regular(path, what=what, limit=RESULT_LIMIT).decode("utf-8", "replace")


def _pull_request() -> tuple[int, str]:
    """The pull request's number and head commit, from the event that started the job."""
    raw = read_regular(Path(_env("GITHUB_EVENT_PATH")), what="the event payload", limit=EVENT_LIMIT)
    try:
        event: Any = json.loads(raw)
    except ValueError:
        raise OkectlError("GITHUB_EVENT_PATH: the event payload is not JSON") from None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    number = pr.get("number") if isinstance(pr, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise OkectlError("the event is not a pull request: there is no pull request to comment on")
    head = pr.get("head") if isinstance(pr, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return number, sha if isinstance(sha, str) else os.environ.get("GITHUB_SHA", "")


def _api() -> GitHub:
    return GitHub(os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL, os.environ.get("GITHUB_TOKEN", ""))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def action() -> None:
    """Steps of okectl's GitHub Action that talk to GitHub."""


@action.command()
@click.option(
    "--results",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder with okectl-plan.md and okectl-verify.txt.",
)
@click.option("--comment-id", default="okectl-plan", show_default=True, help="The hidden marker's name.")
@click.option("--artifact", default="", help="The artifact the plan is kept in, named in the footer.")
@click.option("--verify-level", default="", help="The level okectl verify ran at.")
@click.option("--verify-exit", default="", help="okectl verify's exit code.")
def comment(results: Path, comment_id: str, artifact: str, verify_level: str, verify_exit: str) -> int:
    """Keep one plan comment on the pull request up to date.

    When the token may not write (a pull request from a fork gets a read-only one), the
    comment goes to the job summary instead and the step succeeds with a warning."""
    number, sha = _pull_request()
    verify = _read(results / "okectl-verify.txt", "okectl verify's output")
    body = comment_body(
        comment_id=comment_id,
        plan=_read(results / "okectl-plan.md", "the plan"),
        verification=Verification(verify_level, verify_exit, verify) if verify is not None else None,
        sha=sha,
        run_url=_run_url(),
        artifact=artifact,
    )
    try:
        with _api() as api:
            done = upsert_comment(api, _env("GITHUB_REPOSITORY"), number, comment_id, body)
    except ForgeError as exc:
        if not exc.forbidden:
            raise
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            add_to_summary(Path(summary), body)
        where = "the job summary" if summary else "the job log above"
        annotate(
            "warning",
            f"okectl: the token may not comment on pull request #{number} ({exc}); a pull request "
            f"from a fork gets a read-only token. The plan is in {where}.",
        )
        return 0
    click.echo(f"okectl: {done} the plan comment on pull request #{number}")
    return 0


@action.command("drift-issue")
@click.option("--plan-exit", default="", help="okectl plan --detailed-exitcode's exit code.")
@click.option(
    "--plan-markdown", type=click.Path(dir_okay=False, path_type=Path), help="The plan in Markdown."
)
@click.option("--verify-exit", default="", help="okectl verify's exit code.")
@click.option(
    "--verify-output", type=click.Path(dir_okay=False, path_type=Path), help="okectl verify's output."
)
@click.option(
    "--drift-markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="okectl drift's report in Markdown, shown before the plan.",
)
def drift_issue(
    plan_exit: str,
    plan_markdown: Path | None,
    verify_exit: str,
    verify_output: Path | None,
    drift_markdown: Path | None,
) -> int:
    """Open or update the one open issue labelled okectl-drift, or close it after a clean run."""
    run_url = _run_url()
    body = drift_body(
        plan_exit=plan_exit,
        plan=_read(plan_markdown, "the plan") if plan_markdown else None,
        verify_exit=verify_exit,
        verify=_read(verify_output, "okectl verify's output") if verify_output else None,
        run_url=run_url,
        drift=_read(drift_markdown, "okectl drift's report") if drift_markdown else None,
    )
    with _api() as api:
        done = keep_drift_issue(
            api, _env("GITHUB_REPOSITORY"), plan_exit=plan_exit, body=body, run_url=run_url
        )
    messages = {
        "opened": "opened the drift issue",
        "updated": "updated the drift issue",
        "closed": "closed the drift issue: the plan is clean again",
        "clean": "no drift, and no drift issue open",
        "unknown": f"left the drift issue alone: the plan did not finish (exit {plan_exit or 'none'})",
    }
    click.echo(f"okectl: {messages[done]}")
    return 0


@action.command("drift-pull-request")
@click.option("--branch", required=True, help="The branch accepted drift was committed on (pushed already).")
@click.option("--base", default="", help="The branch to merge into [default: the branch the job runs on].")
@click.option(
    "--body",
    "body_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The pull request's text (okectl drift --pr-body).",
)
def drift_pull_request(branch: str, base: str, body_file: Path) -> int:
    """Open the pull request of accepted drift, or update the one open from the branch."""
    body = _read(body_file, "the pull request's text")
    if body is None:
        raise OkectlError(f"{body_file}: no such file; okectl drift --accept --pr-body FILE writes it")
    with _api() as api:
        done, number = keep_pull_request(
            api,
            _env("GITHUB_REPOSITORY"),
            branch=branch,
            base=base or _env("GITHUB_REF_NAME"),
            body=cut(body, BODY_LIMIT - 1000),
        )
    click.echo(f"okectl: {done} pull request #{number} of accepted drift from {branch}")
    return 0


@action.command("incidents")
@repo_option
@source_options
def incidents(repo: Path, sources: tuple[str, ...], plan_file: Path | None) -> int:
    """Open, update or close one issue per incident (label okectl-incident), found again by
    the key in its hidden marker; issues of checks this run did not see are left alone."""
    from okectl.gitops.incidents import reconcile_issues

    _, found = derive(repo, sources, plan_file)
    with _api() as api:
        done = reconcile_issues(api, _env("GITHUB_REPOSITORY"), found, run_url=_run_url())
    for item in done.actions:
        click.echo(f"okectl: {item.done} incident #{item.number}: {item.key}")
    click.echo(
        f"okectl: {len(found.open)} open incident(s) from {', '.join(found.sources)}; "
        f"{len(done.actions)} issue(s) changed, {done.unchanged} unchanged, "
        f"{done.unseen} of checks this run did not see left as they are"
    )
    return 0


@action.command("reviewed-plan")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Where to write the plan."
)
@click.option(
    "--prefix",
    default="okectl-plan-",
    show_default=True,
    help="The pull request workflow's artifact name, before the pull request's number.",
)
def reviewed_plan(out: Path, prefix: str) -> int:
    """On the push that merged a pull request: fetch the plan its review saw (the artifact
    its workflow kept for its last commit), for okectl apply --reviewed."""
    from okectl.files import write_atomic
    from okectl.gitops.reviewed import reviewed_plan as find

    with _api() as api:
        number, plan = find(api, _env("GITHUB_REPOSITORY"), _env("GITHUB_SHA"), prefix=prefix)
    write_atomic(out, plan, what="the reviewed plan", mode=0o600)
    click.echo(f"okectl: the plan reviewed on pull request #{number} is in {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from okectl.cli import _crash_log

    try:
        result: Any = action.main(
            args=list(argv) if argv is not None else None,
            prog_name="python -m okectl.cli.action",
            standalone_mode=False,
        )
    except OkectlError as exc:
        for line in exc.lines():
            annotate("error", line)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except Exception as exc:
        annotate("error", f"internal error: {type(exc).__name__}; details written to {_crash_log(exc)}")
        return EXIT_ERROR
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
