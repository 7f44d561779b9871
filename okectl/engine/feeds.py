"""Reading the suppliers' release feeds for the supplier-supports-version rule."""

from __future__ import annotations

import asyncio
from pathlib import Path

from okectl.config.repository import DesiredState
from okectl.engine.refresh import read_release_feeds as read_feeds
from okectl.model.releases import Release


def read_release_feeds(state: DesiredState, root: Path) -> tuple[dict[str, list[Release]], list[str]]:
    """Every supplier's releases, and one line per supplier whose feed could not be read.

    A supplier whose feed is unreadable is checked against its YAML alone: an outage at
    one supplier must not fail every school's check.
    """
    return asyncio.run(_read(state, root))


async def _read(state: DesiredState, root: Path) -> tuple[dict[str, list[Release]], list[str]]:
    feeds: dict[str, list[Release]] = {}
    failures: list[str] = []
    for sid, got in sorted((await read_feeds(state, root)).items()):
        if isinstance(got, str):
            failures.append(f"{sid}: {got}; checked against its YAML only")
        else:
            feeds[sid] = got
    return feeds, failures
