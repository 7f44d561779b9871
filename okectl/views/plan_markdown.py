"""The plan as a pull-request comment: a summary table, details collapsed per supplier."""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

from okectl.model.redaction import SENSITIVE_CHANGE
from okectl.plans.changes import REQUESTED, TO_REQUEST
from okectl.views.escape import markdown, markdown_code, terminal
from okectl.views.plan_text import desk, label
from okectl.views.values import show

if TYPE_CHECKING:
    from okectl.plans.changes import Awaiting, Change
    from okectl.plans.run import PlanRun

SYMBOL = {"create": "+", "update": "~", "delete": "-"}
LIMIT = 60_000
MARKER = "<!-- okectl-plan -->"
CUT_NOTE = "\n\n_The plan is too long for one comment and was cut; the full plan is in the job's artifact._\n"


def _change_md(ch: Change) -> list[str]:
    """The change's lines in a ```diff block: nothing is markup there, and each line
    starts with okectl's own text, so a value (escaped as for a terminal: no new line)
    cannot close the block."""
    sym = SYMBOL[ch.action]
    lines = [f"{sym} {terminal(ch.address)}  ({label(ch)})"]
    # A to-request mark is said once, in its supplier's summary line.
    lines.extend(f"    {m.kind}: {terminal(m.reason)}" for m in ch.marks if m.kind != TO_REQUEST)
    for d in ch.diff:
        path = terminal(d.path)
        if d.sensitive:
            lines.append(f"    {path}: {SENSITIVE_CHANGE}")
        elif d.by_element:
            # The sign in the first column, so GitHub colours the line in a diff block.
            lines.append(f"    {path}:")
            lines.extend(f"+     {show(v)}" for v in d.added or ())
            lines.extend(f"-     {show(v)}" for v in d.removed or ())
        else:
            lines.append(f"    {path}: {show(d.before)} → {show(d.after)}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _warnings_md(warnings: list[str]) -> list[str]:
    """The warnings of the text plan in one alert box: twenty unset secrets are one thing
    to read, not twenty boxes in front of the changes."""
    if not warnings:
        return []
    lines = ["> [!WARNING]", f"> **{_count(len(warnings), 'warning')}**", ">"]
    lines.extend(f"> - {markdown(w)}" for w in warnings)
    return [*lines, ""]


def _awaiting_md(awaiting: list[Awaiting]) -> list[str]:
    """Changes open requests already ask for, per request, collapsed: not changes of
    this plan, but what a support desk still has to do."""
    if not awaiting:
        return []
    late = sum(1 for a in awaiting if a.standing != "awaiting")
    body = [
        f"<details{' open' if late else ''}><summary><b>Requested, awaiting confirmation</b>: "
        f"{_count(len(awaiting), 'change')} in {_count(len({a.request for a in awaiting}), 'request')}"
        f"{f', {late} past the SLA' if late else ''}</summary>\n",
        "```diff",
    ]
    for rid, grouped in groupby(awaiting, key=lambda a: a.request):
        items = list(grouped)
        reason = next((m.reason for m in items[0].change.marks if m.kind == REQUESTED), rid)
        body.append(f"# {terminal(reason)}")
        body.extend(
            f"{SYMBOL[a.change.action]} {terminal(a.change.address)}  ({a.change.action})"
            for a in items
        )
    body.append("```\n</details>\n")
    return body


def render_markdown(run: PlanRun) -> str:
    plan = run.plan
    c = plan.counts()
    head = [
        MARKER,
        "### okectl plan",
        "",
        f"Commit {markdown_code((run.commit or 'unknown')[:12])}{' (dirty tree)' if run.dirty else ''}"
        + (f" · {markdown(run.scope.describe())}" if run.scope.describe() else ""),
        "",
        "| create | adopt | update | delete | in sync | unmanaged |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {c['create']} | {plan.adoptions} | {c['update'] - plan.adoptions} | {c['delete']} "
        f"| {plan.in_sync} | {len(plan.unmanaged)} |",
        "",
    ]
    head.extend(f"_{markdown(reason)}_  " for reason in run.scope.reasons)
    if not plan.changes:
        head.append(
            "**No changes.** The suppliers match the configuration"
            + (
                f", but for {_count(len(plan.awaiting), 'requested change')} awaiting confirmation."
                if plan.awaiting
                else "."
            )
        )
    if plan.to_request:
        head.append(
            f"{_count(plan.to_request, 'change')} of this plan {'is' if plan.to_request == 1 else 'are'} "
            "carried out by change requests to suppliers' support desks.\n"
        )
    if plan.warnings:
        # Named before the changes, so a cut comment still says they exist; listed after them.
        head.append(f"**{_count(len(plan.warnings), 'warning')}**, listed after the changes.\n")
    body: list[str] = []
    for supplier, changes in groupby(plan.changes, key=lambda ch: ch.address.supplier):
        items = list(changes)
        counts = {a: sum(1 for ch in items if ch.action == a) for a in ("create", "update", "delete")}
        adopt = sum(1 for ch in items if ch.adopt)
        adopting = f"{adopt} adopt, " if adopt else ""
        by_desk = " (by change request)" if desk(items) else ""
        # Inside HTML, where Markdown's escapes do not apply: a supplier id is a slug.
        body.append(
            f"<details><summary><b>{supplier}</b>: {counts['create']} create, {adopting}"
            f"{counts['update'] - adopt} update, {counts['delete']} delete{by_desk}</summary>\n"
        )
        if by_desk:
            body.append(f"_{markdown(desk(items) or '')}_\n")
        body.append("```diff")
        for ch in items:
            body.extend(_change_md(ch))
        body.append("```\n</details>\n")
    body.extend(_awaiting_md(plan.awaiting))
    body.extend(_warnings_md(plan.warnings))
    if run.policy is not None:
        findings = [f for f in run.policy.findings if f.waived_by is None]
        if findings:
            errors = sum(1 for f in findings if f.severity == "error")
            body.append(
                f"<details{' open' if errors else ''}><summary><b>Policy findings</b>: "
                f"{errors} error(s), {len(findings) - errors} warning(s)</summary>\n"
            )
            body.append("| severity | policy | address | where | message |")
            body.append("|---|---|---|---|---|")
            for f in findings:
                body.append(
                    f"| {f.severity} | {markdown_code(f.policy)} | {markdown_code(f.address)} | "
                    f"{markdown_code(f'{f.path}:{f.line}')} | {markdown(f.message)} |"
                )
            body.append("\n</details>\n")
    if plan.unmanaged:
        body.append(f"<details><summary>Unmanaged, left alone ({len(plan.unmanaged)})</summary>\n")
        body.extend(f"- {markdown_code(u.address)}: {markdown(u.reason)}" for u in plan.unmanaged)
        body.append("\n</details>")
    text = "\n".join(head) + "\n" + "\n".join(body) + "\n"
    if len(text) <= LIMIT:
        return text
    cut = text[: LIMIT - len(CUT_NOTE) - 16]
    cut = cut[: cut.rfind("\n")]
    # Close an open code block and details so the comment still renders.
    if cut.count("```") % 2:
        cut += "\n```"
    if cut.count("<details>") > cut.count("</details>"):
        cut += "\n</details>"
    return cut + CUT_NOTE
