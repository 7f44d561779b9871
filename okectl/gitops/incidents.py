"""Keeping the forge's issues in step with the incidents: open, update, close, by key.

The forge's issues are where an incident lives between runs: the nightly job has the
verification record and the requests but no apply journal, the apply job has its own
journal only. Each issue carries the incident's key and the digest of its evidence in a
hidden marker on its first line, and the label ``okectl-incident``. A run

- opens an issue for an incident that has no open one;
- updates it (body, title, and a comment saying what changed) when the evidence changed,
  and leaves it alone when it did not;
- closes it, with a "healthy again" comment naming what passed and when, when its check
  was seen passing;
- leaves alone every issue whose check it did not see (another job's source), and every
  issue without the marker on its first line and the label.

Running it twice in a row changes nothing the second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import quote, unquote

from okectl.gitops.github import BODY_LIMIT, GitHub, check_repository, cut
from okectl.incidents.model import TITLE_LIMIT, Incident, Incidents, Recovery, plain, when
from okectl.incidents.text import code, escape, facts_markdown, incident_markdown, recovery_markdown

INCIDENT_LABEL = "okectl-incident"
_MARKER = re.compile(r"<!-- okectl-incident key=(\S{1,600}) evidence=([0-9a-f]{16}) -->")

Done = Literal["opened", "updated", "closed", "duplicate"]


def marker(incident: Incident) -> str:
    # An HTML comment ends at the first "--": the key is written so it cannot hold one.
    key = quote(incident.key, safe="/#@._-").replace("--", "-%2D")
    return f"<!-- okectl-incident key={key} evidence={incident.digest} -->"


def read_marker(body: str) -> tuple[str, str] | None:
    """The key and evidence digest of an issue okectl opened, from its first line only:
    nothing a supplier wrote can stand there."""
    first = body.split("\n", 1)[0].rstrip("\r")
    found = _MARKER.fullmatch(first)
    return (unquote(found.group(1)), found.group(2)) if found else None


def issue_title(incident: Incident) -> str:
    return plain(f"okectl incident: {incident.title}", TITLE_LIMIT)


def issue_body(incident: Incident, run_url: str) -> str:
    body = (
        f"{marker(incident)}\n"
        + incident_markdown(incident)
        + f"\n<sub>Incident key {code(incident.key)}, kept by okectl ([run]({run_url})). "
        "It is closed when the check passes again; editing this text changes nothing.</sub>\n"
    )
    return cut(body, BODY_LIMIT - 1024)


def changed_comment(incident: Incident, run_url: str) -> str:
    lines = [f"**The evidence changed** ([run]({run_url})):", "", *facts_markdown(incident)]
    if incident.seen:
        lines.append(f"- **seen:** {escape(incident.seen)}")
    return cut("\n".join(lines) + "\n", BODY_LIMIT - 1024)


def healthy_comment(recovery: Recovery, run_url: str) -> str:
    return f"{recovery_markdown(recovery)} Closing ([run]({run_url}))."


@dataclass(frozen=True, slots=True)
class Action:
    done: Done
    number: int
    key: str


@dataclass
class Reconciled:
    actions: list[Action] = field(default_factory=list)
    unchanged: int = 0
    # Open issues of checks this run did not see: left as they are.
    unseen: int = 0


@dataclass(frozen=True, slots=True)
class _Issue:
    number: int
    key: str
    digest: str
    # When it was last written: what it reports had happened by then.
    written: datetime | None


def _ours(listed: list[object]) -> list[_Issue]:
    found: list[_Issue] = []
    for item in listed:
        if not isinstance(item, dict) or "pull_request" in item:
            continue
        number, body = item.get("number"), item.get("body")
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(body, str):
            continue
        labels = item.get("labels")
        names = (
            {lab.get("name") for lab in labels if isinstance(lab, dict)}
            if isinstance(labels, list)
            else set()
        )
        parsed = read_marker(body)
        if parsed is None or INCIDENT_LABEL not in names:
            continue
        found.append(_Issue(number, *parsed, when(item.get("updated_at")) or when(item.get("created_at"))))
    return sorted(found, key=lambda i: i.number)


def reconcile_issues(api: GitHub, repo: str, incidents: Incidents, *, run_url: str) -> Reconciled:
    """Bring the open issues labelled okectl-incident in step with ``incidents``."""
    repo = check_repository(repo)
    listed = api.pages(f"/repos/{repo}/issues", {"labels": INCIDENT_LABEL, "state": "open", "per_page": 100})
    out = Reconciled()
    issues: dict[str, _Issue] = {}
    for issue in _ours(listed):
        first = issues.setdefault(issue.key, issue)
        if first is not issue:
            # Two runs at once can each open one; the oldest is kept, the others point at it.
            _close(
                api,
                repo,
                issue.number,
                f"Duplicate of #{first.number}; okectl keeps that one up to date.",
                "not_planned",
            )
            out.actions.append(Action("duplicate", issue.number, issue.key))
    now = {i.key: i for i in incidents.open}
    for key, incident in now.items():
        existing = issues.get(key)
        if existing is None:
            made, _ = api.call(
                "POST",
                f"/repos/{repo}/issues",
                body={
                    "title": issue_title(incident),
                    "body": issue_body(incident, run_url),
                    "labels": [INCIDENT_LABEL],
                },
            )
            number = made.get("number") if isinstance(made, dict) else None
            out.actions.append(Action("opened", number if isinstance(number, int) else 0, key))
        elif existing.digest == incident.digest:
            out.unchanged += 1
        else:
            api.call(
                "PATCH",
                f"/repos/{repo}/issues/{existing.number}",
                body={"title": issue_title(incident), "body": issue_body(incident, run_url)},
            )
            api.call(
                "POST",
                f"/repos/{repo}/issues/{existing.number}/comments",
                body={"body": changed_comment(incident, run_url)},
            )
            out.actions.append(Action("updated", existing.number, key))
    for key, existing in sorted(issues.items()):
        if key in now:
            continue
        recovery = incidents.recovery(key, existing.written)
        if recovery is None:
            out.unseen += 1
            continue
        _close(api, repo, existing.number, healthy_comment(recovery, run_url), "completed")
        out.actions.append(Action("closed", existing.number, key))
    return out


def _close(api: GitHub, repo: str, number: int, comment: str, reason: str) -> None:
    # The comment first: a run cut off between the two leaves the issue open, and the
    # next run closes it with the comment again.
    api.call("POST", f"/repos/{repo}/issues/{number}/comments", body={"body": comment})
    api.call("PATCH", f"/repos/{repo}/issues/{number}", body={"state": "closed", "state_reason": reason})
