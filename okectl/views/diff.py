"""The desired-state difference between two refs, as text (``okectl diff``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from okectl.model.secrets import SENSITIVE_CHANGE, redact_spec

if TYPE_CHECKING:
    from okectl.gitops.diff import StateDiff


def render_state_diff(diff: StateDiff) -> str:
    if diff.empty:
        return f"No differences in the desired state between {diff.base} and {diff.target}.\n"
    lines = [f"Desired-state difference from {diff.base} to {diff.target}:"]
    for res in diff.added:
        lines.append(f"+ {res.address}  (added)")
        lines.extend(f"    {k}: {_show(v)}" for k, v in _flatten(redact_spec(res.kind, res.spec) or {}))
    for res in diff.removed:
        lines.append(f"- {res.address}  (removed)")
    for address, fields in diff.changed:
        lines.append(f"~ {address}")
        for f in fields:
            shown = SENSITIVE_CHANGE if f.sensitive else f"{_show(f.before)} → {_show(f.after)}"
            lines.append(f"    {f.path}: {shown}")
    lines.append(f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed.")
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _flatten(spec: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key in sorted(spec):
        value = spec[key]
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, path + "."))
        else:
            out.append((path, value))
    return out
