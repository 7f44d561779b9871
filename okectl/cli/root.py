"""The root click group: options every command shares, commands loaded when used."""

from __future__ import annotations

import difflib
import importlib
import importlib.util

import click

from okectl import __version__
from okectl.cli import COMMANDS


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
@click.version_option(__version__, prog_name="okectl")
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
