"""A supplier's product release, as its release feed tells it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Release:
    product_version: str
    oke_versions: tuple[str, ...]
    released: date | None
    end_of_support: date | None
    notes_url: str | None
