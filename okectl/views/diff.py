"""`okectl diff`'s view: the desired-state difference between two refs, as text or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.jsontext import dumps
from okectl.model.redaction import SENSITIVE_CHANGE, redact_spec
from okectl.views.escape import terminal
from okectl.views.rendered import Rendered
from okectl.views.values import flatten, show

if TYPE_CHECKING:
    from okectl.gitops.diff import StateDiff

OUTPUTS = ("text", "json")


def render_diff(diff: StateDiff, output: str) -> Rendered:
    """The difference as ``output`` (text or json)."""
    if output == "json":
        return Rendered(dumps(diff.to_json()))
    return Rendered(render_state_diff(diff))


def render_state_diff(diff: StateDiff) -> str:
    base, target = terminal(diff.base), terminal(diff.target)
    if diff.empty:
        return f"No differences in the desired state between {base} and {target}.\n"
    lines = [f"Desired-state difference from {base} to {target}:"]
    for res in diff.added:
        lines.append(f"+ {terminal(res.address)}  (added)")
        lines.extend(f"    {terminal(k)}: {show(v)}" for k, v in flatten(redact_spec(res.kind, res.spec)))
    for res in diff.removed:
        lines.append(f"- {terminal(res.address)}  (removed)")
    for address, fields in diff.changed:
        lines.append(f"~ {terminal(address)}")
        for f in fields:
            shown = SENSITIVE_CHANGE if f.sensitive else f"{show(f.before)} → {show(f.after)}"
            lines.append(f"    {terminal(f.path)}: {shown}")
    lines.append(f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed.")
    return "\n".join(lines) + "\n"
