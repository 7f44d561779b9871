"""How a value looks in human-facing output."""

from __future__ import annotations

import json
from typing import Any


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def element(value: Any) -> str:
    """An element of a list, as it appears in the list: strings quoted."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
