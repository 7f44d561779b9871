"""What ``okectl bump`` changed, or would change, as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.views.escape import terminal

if TYPE_CHECKING:
    from okectl.gitops.bump import BumpResult


def render_bump(result: BumpResult) -> str:
    if not result.changes:
        return (
            f"Nothing to bump: every affected environment already runs OKE {terminal(result.oke_version)}.\n"
        )
    out = [f"{terminal(result.title)}:"]
    out += [
        f"  {terminal(address)}: OKE {terminal(old)} → {terminal(new)}"
        for address, old, new in result.changes
    ]
    out += [f"skipped: {terminal(line)}" for line in result.skipped]
    out += [f"warning: {terminal(line)}" for line in result.warnings]
    verb = "Changed" if result.written else "Would change"
    out.append(f"{verb} {len(result.changes)} environment(s) in {len(result.files)} file(s).")
    if result.branch:
        out.append(
            f"Committed {result.commit[:7] if result.commit else ''} on branch {result.branch} "
            f"(you are on it now); open a pull request with: git push -u origin {result.branch}"
        )
    return "\n".join(out) + "\n"
