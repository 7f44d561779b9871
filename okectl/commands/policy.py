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


def check(ws: Workspace, *, release_feeds: bool = False) -> Checked:
    """Every rule over the workspace's desired state, as of its clock's day; with
    ``release_feeds``, each supplier's release feed is read for the rules that use it."""
    from okectl.policy.engine import evaluate

    releases = None
    failures: list[str] = []
    if release_feeds:
        from okectl.engine.refresh import readable_feeds

        releases, failures = readable_feeds(ws.state, ws.root, ws.settings)
    report = evaluate(ws.state, today=ws.clock.today(), releases=releases, resources=ws.resources)
    return Checked(report, failures)
