"""The plan as a pull-request comment: a summary table, details collapsed per supplier."""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

from okectl.model.secrets import SENSITIVE_CHANGE
from okectl.views.values import element, show

if TYPE_CHECKING:
    from okectl.plans.changes import Change
    from okectl.plans.run import PlanRun

LIMIT = 60_000
MARKER = "<!-- okectl-plan -->"
CUT_NOTE = "\n\n_The plan is too long for one comment and was cut; the full plan is in the job's artifact._\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _change_md(ch: Change) -> list[str]:
    sym = {"create": "+", "update": "~", "delete": "-"}[ch.action]
    label = "adopt and update" if ch.adopt else ch.action
    lines = [f"{sym} {ch.address}  ({label})"]
    for d in ch.diff:
        if d.sensitive:
            lines.append(f"    {d.path}: {SENSITIVE_CHANGE}")
        elif d.by_element:
            # The sign in the first column, so GitHub colours the line in a diff block.
            lines.append(f"    {d.path}:")
            lines.extend(f"+     {element(v)}" for v in d.added or ())
            lines.extend(f"-     {element(v)}" for v in d.removed or ())
        else:
            lines.append(f"    {d.path}: {show(d.before)} → {show(d.after)}")
    return lines


def render_markdown(run: PlanRun) -> str:
    plan = run.plan
    c = plan.counts()
    head = [
        MARKER,
        "### okectl plan",
        "",
        f"Commit `{(run.commit or 'unknown')[:12]}`{' (dirty tree)' if run.dirty else ''}"
        + (f" · {run.scope.describe()}" if run.scope.describe() else ""),
        "",
        "| create | adopt | update | delete | in sync | unmanaged |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {c['create']} | {plan.adoptions} | {c['update'] - plan.adoptions} | {c['delete']} "
        f"| {plan.in_sync} | {len(plan.unmanaged)} |",
        "",
    ]
    head.extend(f"_{_cell(reason)}_  " for reason in run.scope.reasons)
    if not plan.changes:
        head.append("**No changes.** The suppliers match the configuration.")
    # The same warnings the text plan prints, where a reviewer cannot miss them.
    head.extend(f"> [!WARNING]\n> {_cell(w)}\n" for w in plan.warnings)
    body: list[str] = []
    for supplier, changes in groupby(plan.changes, key=lambda ch: ch.address.supplier):
        items = list(changes)
        counts = {a: sum(1 for ch in items if ch.action == a) for a in ("create", "update", "delete")}
        adopt = sum(1 for ch in items if ch.adopt)
        adopting = f"{adopt} adopt, " if adopt else ""
        body.append(
            f"<details><summary><b>{supplier}</b>: {counts['create']} create, {adopting}"
            f"{counts['update'] - adopt} update, {counts['delete']} delete</summary>\n"
        )
        body.append("```diff")
        for ch in items:
            body.extend(_change_md(ch))
        body.append("```\n</details>\n")
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
                    f"| {f.severity} | `{f.policy}` | `{_cell(f.address)}` | "
                    f"`{f.path}:{f.line}` | {_cell(f.message)} |"
                )
            body.append("\n</details>\n")
    if plan.unmanaged:
        body.append(f"<details><summary>Unmanaged, left alone ({len(plan.unmanaged)})</summary>\n")
        body.extend(f"- `{u.address}`: {u.reason}" for u in plan.unmanaged)
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
