"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from okectl.config.settings import SETTINGS_FILE

if TYPE_CHECKING:
    from okectl.views.rendered import Rendered

F = TypeVar("F", bound=Callable[..., Any])


def find_repository(start: Path) -> Path | None:
    """The nearest folder from ``start`` upward that holds okectl.yaml, as git looks for .git."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    return None


def _default_repository(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    # Only when nothing was given: an explicit --repo or OKECTL_REPO is taken as it is.
    if param.name is not None and ctx.get_parameter_source(param.name) is ParameterSource.DEFAULT:
        found = find_repository(Path.cwd())
        if found is not None:
            return found
    return value


def repo_option(func: F) -> F:
    return click.option(
        "--repo",
        "repo",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        envvar="OKECTL_REPO",
        callback=_default_repository,
        help=f"The configuration repository [default: the nearest folder upward holding {SETTINGS_FILE}, "
        "else the current one].",
    )(func)


def output_option(*choices: str) -> Callable[[F], F]:
    def deco(func: F) -> F:
        return click.option(
            "--output",
            "-o",
            "output",
            type=click.Choice(choices),
            default=choices[0],
            show_default=True,
            help="Output format.",
        )(func)

    return deco


def branch_options(
    branch_help: str = "Commit the change on this new branch and stay on it.",
) -> Callable[[F], F]:
    """``--branch`` and ``--author``: the new branch a command that edits the configuration
    commits on, and who the commit is by."""

    def deco(func: F) -> F:
        func = click.option(
            "--author",
            metavar='"NAME <EMAIL>"',
            help="Who the --branch commit is by, when not git's own user.name and user.email.",
        )(func)
        return click.option("--branch", help=branch_help)(func)

    return deco


def emit(rendered: Rendered) -> None:
    """Print a view's output: its notes and problems on standard error, first."""
    if rendered.err:
        click.echo(rendered.err, err=True, nl=False)
    if rendered.out:
        click.echo(rendered.out, nl=False)
