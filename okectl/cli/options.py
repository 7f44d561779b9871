"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def repo_option(func: F) -> F:
    return click.option(
        "--repo",
        "repo",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        envvar="OKECTL_REPO",
        show_default=True,
        help="The configuration repository.",
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
