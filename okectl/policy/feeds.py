"""Reading the suppliers' release feeds for the supplier-supports-version rule."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

from okectl.config.repository import DesiredState
from okectl.providers.base import Provider, Release


def read_release_feeds(state: DesiredState, root: Path) -> tuple[dict[str, list[Release]], list[str]]:
    """Every supplier's releases, and one line per supplier whose feed could not be read.

    A supplier whose feed is unreadable is checked against its YAML alone: an outage at
    one supplier must not fail every school's check.
    """
    return asyncio.run(_read(state, root))


async def _read(state: DesiredState, root: Path) -> tuple[dict[str, list[Release]], list[str]]:
    registry: Any = importlib.import_module("okectl.providers.registry")
    feeds: dict[str, list[Release]] = {}
    failures: dict[str, str] = {}

    async def one(sid: str) -> None:
        provider: Provider | None = None
        try:
            provider = registry.make_provider(state.suppliers[sid], repo_root=root)
            feeds[sid] = list(await provider.releases())
        except Exception as exc:
            failures[sid] = f"{sid}: cannot read the release feed ({exc}); checked against its YAML only"
        finally:
            if provider is not None:
                await provider.aclose()

    await asyncio.gather(*(one(sid) for sid in sorted(state.suppliers)))
    return feeds, [failures[sid] for sid in sorted(failures)]
