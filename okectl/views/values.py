"""How a value looks in human-facing output: one form for every view, so `okectl diff` and
`okectl plan` show the same field alike.

A value is shown as JSON (strings quoted, so "1.10" and 1.1 differ on screen as they do
in YAML); a missing one as (none). Shown values are escaped for the terminal; a view for
another medium escapes them for its own.
"""

from __future__ import annotations

import json
from typing import Any

from okectl.views.escape import terminal


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    return terminal(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": ")))


def flatten(spec: dict[str, Any] | None, prefix: str = "") -> list[tuple[str, Any]]:
    """The fields of a spec as (dotted path, value), by path; nested mappings are walked,
    an empty one is a value, and a field without a value is left out."""
    out: list[tuple[str, Any]] = []
    for key in sorted(spec or {}):
        value = (spec or {})[key]
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(flatten(value, path + "."))
        elif value is not None:
            out.append((path, value))
    return out
