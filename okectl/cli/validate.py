"""`okectl validate` and `okectl schema`."""

from __future__ import annotations

from pathlib import Path

import click

from okectl.cli.options import repo_option
from okectl.config.repository import SCHEMA_KINDS
from okectl.errors import EXIT_OK


@click.command()
@repo_option
def validate(repo: Path) -> int:
    """Check every YAML file and cross-reference; print a summary or every problem."""
    from okectl.engine.workspace import load_workspace

    click.echo(load_workspace(repo).validated.summary())
    return EXIT_OK


@click.command()
@click.option("--kind", type=click.Choice(sorted(SCHEMA_KINDS)), help="Only this kind of file.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one <kind>.schema.json per kind into this folder.",
)
def schema(kind: str | None, out_dir: Path | None) -> int:
    """Print the JSON Schema of the configuration files (for editors and CI)."""
    from okectl.config import schema as schemas

    if out_dir is not None:
        for path in schemas.write_all(out_dir):
            click.echo(f"wrote {path}")
    elif kind is not None:
        click.echo(schemas.render(kind), nl=False)
    else:
        from okectl.jsontext import dumps

        click.echo(dumps({k: schemas.schema_for(k) for k in SCHEMA_KINDS}), nl=False)
    return EXIT_OK
