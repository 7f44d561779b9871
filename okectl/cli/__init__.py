"""The command line: a thin edge over the core. Commands live in one module per area.

Commands are imported only when used, so `okectl validate` does not pay for the HTTP
client, the sandbox server or the policy engine.
"""

from __future__ import annotations

import difflib
import gc
import importlib
import importlib.util
import secrets
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from okectl.errors import EXIT_ERROR, EXIT_INTERRUPTED, OkectlError
from okectl.files import write_atomic

# name → "module:attribute"; an area whose module is not installed simply has no command.
COMMANDS: dict[str, str] = {
    "validate": "okectl.cli.validate:validate",
    "schema": "okectl.cli.validate:schema",
    "sandbox": "okectl.cli.sandbox:sandbox",
    "plan": "okectl.cli.plan:plan",
    "apply": "okectl.cli.plan:apply",
    "import": "okectl.cli.plan:import_",
    "policy": "okectl.cli.policy:policy",
    "releases": "okectl.cli.gitops:releases",
    "bump": "okectl.cli.gitops:bump",
    "diff": "okectl.cli.gitops:diff",
    "report": "okectl.cli.gitops:report",
    "verify": "okectl.cli.verify:verify",
    "requests": "okectl.cli.requests:requests",
    "incidents": "okectl.cli.incidents:incidents",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._available(name))

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not self._available(cmd_name):
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            # click suggests from the commands it has loaded; these load lazily, so the
            # suggestion comes from the table.
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx=ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="okectl")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Show retries, throttling, token renewals and each write (-vv: every request), on stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How -v writes its lines: text, or one JSON object a line.",
)
def cli(verbose: int, log_format: str) -> None:
    """Configuration as code for OKE: validate, policy-check, plan and apply.

    Exit codes: 0 success or no changes, 1 error or declined confirmation, 2 changes
    present (plan --detailed-exitcode), 3 policy violations of severity error,
    4 conformance failures (verify).
    """
    from okectl import logs

    logs.configure(verbose, "json" if log_format == "json" else "text")


def _crash_log(exc: BaseException) -> str:
    # A fresh unguessable name in the temporary folder, written like every other file
    # (never through a link planted there), readable by its owner only.
    path = Path(tempfile.gettempdir()) / f"okectl-crash-{secrets.token_hex(8)}.log"
    write_atomic(path, "".join(traceback.format_exception(exc)), what="the crash log", mode=0o600)
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        result: Any = cli.main(
            args=list(argv) if argv is not None else None, prog_name="okectl", standalone_mode=False
        )
    except OkectlError as exc:
        from okectl.views.escape import terminal

        # An error's lines carry what a supplier or a file said: one line each, escaped.
        for line in exc.lines():
            click.echo(terminal(line), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        # Usage errors exit 1, not click's 2: 2 means "changes present" here.
        exc.show()
        return EXIT_ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:
        try:
            path = _crash_log(exc)
        except OkectlError as unwritten:
            click.echo(f"internal error: {type(exc).__name__}; {unwritten}", err=True)
            return EXIT_ERROR
        click.echo(f"internal error: {type(exc).__name__}; details written to {path}", err=True)
        return EXIT_ERROR
    return result if isinstance(result, int) else 0


def run() -> None:
    # A command builds tens of thousands of small objects that live until it exits; with
    # the default threshold the collector rescans them all again and again (a third of
    # a fleet-sized validate). Collect far less often: cycles are rare here and memory
    # stays bounded by the data.
    gc.set_threshold(100_000, 50, 100)
    sys.exit(main())
