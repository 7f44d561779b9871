"""`okectl policy check`: the desired state against the rules, with their waivers."""

from __future__ import annotations

from dataclasses import dataclass, field

from okectl.engine.workspace import Workspace
from okectl.policy.findings import PolicyReport


@dataclass
class Checked:
    report: PolicyReport
    # Suppliers whose release feed could not be read: checked against their YAML only.
    feed_failures: list[str] = field(default_factory=list)


def check(ws: Workspace, *, release_feeds: bool = False, changed_since: str | None = None) -> Checked:
    """Every rule over the workspace's desired state, as of its clock's day; with
    ``release_feeds``, each supplier's release feed is read for the rules that use it.

    While a freeze window lasts, the ``freeze`` rule weighs what changed: since the git
    ref ``changed_since`` when given (a pull request's base), else since the window began."""
    from okectl.policy.engine import evaluate

    releases = None
    failures: list[str] = []
    if release_feeds:
        from okectl.engine.refresh import readable_feeds

        releases, failures = readable_feeds(ws.state, ws.root, ws.settings)
    today = ws.clock.today()
    changed = None
    calendar = ws.state.calendar
    if calendar is not None and any(w.covers(today) for w in calendar.windows):
        from okectl.gitops.history import changes_since

        changed = changes_since(ws, changed_since)
    report = evaluate(ws.state, today=today, releases=releases, resources=ws.resources, changed=changed)
    return Checked(report, failures)
