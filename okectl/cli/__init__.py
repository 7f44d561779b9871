"""The command line: a thin edge over the core. Commands live in one module per area.

Commands are imported only when used, so `okectl validate` does not pay for the HTTP
client, the sandbox server or the policy engine; the root group (``root``), and click with
it, only when a command runs: `okectl --version` is answered before either.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import Any

from okectl import __version__

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
    "promote": "okectl.cli.promote:promote",
    "diff": "okectl.cli.gitops:diff",
    "report": "okectl.cli.gitops:report",
    "verify": "okectl.cli.verify:verify",
    "requests": "okectl.cli.requests:requests",
    "incidents": "okectl.cli.incidents:incidents",
    "drift": "okectl.cli.drift:drift",
}


def _crash_log(exc: BaseException) -> str:
    import secrets
    import tempfile
    import traceback
    from pathlib import Path

    from okectl.files import write_atomic

    # A fresh unguessable name in the temporary folder, written like every other file
    # (never through a link planted there), readable by its owner only.
    path = Path(tempfile.gettempdir()) / f"okectl-crash-{secrets.token_hex(8)}.log"
    write_atomic(path, "".join(traceback.format_exception(exc)), what="the crash log", mode=0o600)
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    import click

    from okectl.cli.root import cli
    from okectl.errors import EXIT_ERROR, EXIT_INTERRUPTED, OkectlError

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
    if sys.argv[1:] == ["--version"]:
        # As click's --version says it, without loading click for it.
        sys.stdout.write(f"okectl, version {__version__}\n")
        sys.exit(0)
    sys.exit(main())
