"""`okectl sandbox serve|seed`: the reference supplier as a real server, and its state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from okectl.adapters.sandbox import EMBEDDED_DB, EMBEDDED_SEED, SANDBOX_URL_ENV
from okectl.cli.options import repo_option
from okectl.errors import OkectlError


@click.group()
def sandbox() -> None:
    """The sandbox supplier: a reference implementation of the supplier admin API."""


DB_HELP = "SQLite database (created when missing) [default: <repo>/.okectl/sandbox.db, the embedded one]."


def _reset_command(db: Path | None, repo: Path) -> str:
    """The command that resets the database serve was given."""
    return "okectl sandbox seed" + (f" --db {db}" if db is not None else "")


def _database(db: Path | None, repo: Path) -> Path:
    # The database the embedded sandbox of the repository uses, so serve and seed work on
    # what plan and apply see without OKECTL_SANDBOX_URL.
    return db if db is not None else repo / EMBEDDED_DB


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
@repo_option
@click.option(
    "--seed",
    "seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed file loaded into a new database [default: <repo>/sandbox/seed.yaml, as the embedded "
    "sandbox]; a database seeded from another is refused.",
)
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0, help="Added to every API request.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0, help="Fraction answered 503.")
@click.option("--throttle-rate", type=click.FloatRange(0, 1), default=0, help="Fraction answered 429.")
@click.option(
    "--retry-after",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Seconds in Retry-After of injected 429s.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    default=0,
    help="Requests per second per supplier before 429 (0: unlimited).",
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0,
    help="Fraction of connections dropped mid-response.",
)
@click.option("--slow-rate", type=click.FloatRange(0, 1), default=0, help="Fraction of slow responses.")
@click.option("--slow-ms", type=click.FloatRange(min=0), default=0, help="How slow a slow response is.")
@click.option(
    "--control",
    is_flag=True,
    help="Serve the /_sandbox/* endpoints (faults, statistics, token revocation) too: "
    "anyone who can reach the server can use them.",
)
def serve(
    host: str, port: int, db: Path | None, repo: Path, seed: Path | None, control: bool, **faults: Any
) -> int:
    """Serve the sandbox over HTTP until interrupted.

    Each supplier's API is at /s/<supplier>/; with --control, faults can also be changed
    while it runs with POST /_sandbox/faults (see docs/sandbox.md).
    """
    from okectl.sandbox.faults import Faults
    from okectl.sandbox.server import serve as run

    # The fault options, by the names Faults takes them under.
    injected = Faults(**faults)
    db_path = _database(db, repo)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # A new database starts as the embedded sandbox's does, so a plan against this server
    # and one without it see the same suppliers.
    default_seed = repo / EMBEDDED_SEED
    chosen = seed if seed is not None else default_seed if default_seed.is_file() else None

    def listening(url: str) -> None:
        click.echo(f"Sandbox supplier at {url} (database {db_path}); Ctrl-C stops it.")
        click.echo("To plan and apply against it, set in your shell:")
        click.echo(f"  export {SANDBOX_URL_ENV}={url}")

    run(
        host=host,
        port=port,
        db_path=db_path,
        seed=chosen,
        faults=injected,
        control=control,
        on_listening=listening,
        insist_on_seed=seed is not None,
        reset=_reset_command(db, repo),
    )
    return 0


@sandbox.command()
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--in-sync",
    is_flag=True,
    help="Write the repository's desired resources as already applied and owned by it.",
)
@repo_option
def seed(db: Path | None, file: Path | None, in_sync: bool, repo: Path) -> int:
    """Reset the database to a seed FILE (default: <repo>/sandbox/seed.yaml), or to the
    repository's desired state as applied (--in-sync): what it held before is removed."""
    from okectl.sandbox.seed import seed_file, seed_in_sync
    from okectl.sandbox.store import Store

    db = _database(db, repo)
    db.parent.mkdir(parents=True, exist_ok=True)
    if in_sync:
        if file is not None:
            raise OkectlError("give either a seed FILE or --in-sync, not both")
        from okectl.engine.workspace import load_workspace

        ws = load_workspace(repo)
        repository = ws.repository
        count = seed_in_sync(db, ws.resources, repository)
        click.echo(f"{db}: {count} resources written in sync with {repo} (repository id {repository})")
        return 0
    path = file or repo / "sandbox" / "seed.yaml"
    if not path.is_file():
        raise OkectlError(f"{path}: no seed file; give one, or use --in-sync")
    store = Store(db)
    try:
        count = seed_file(store, path, reset=True)
    finally:
        store.close()
    click.echo(f"{db}: {count} resources loaded from {path}")
    return 0
