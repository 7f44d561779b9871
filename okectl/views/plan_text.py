"""The plan for a terminal: grouped by supplier and school, colour only on a terminal.

Plain click styling rather than rich: the plan is a list of lines, and importing rich
costs a no-op plan more than rendering it does.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

import click

from okectl.model.redaction import SENSITIVE_CHANGE, redact_spec
from okectl.plans.changes import REQUESTED, TO_REQUEST
from okectl.views.escape import terminal
from okectl.views.values import flatten, show

if TYPE_CHECKING:
    from okectl.plans.changes import Awaiting, Change
    from okectl.plans.run import PlanRun

SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
LEGEND = {"create": "create", "update": "update in place", "delete": "delete"}


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, fg: str | None = None, *, bold: bool = False, dim: bool = False) -> str:
        if not self.color:
            return text
        return click.style(text, fg=fg, bold=bold or None, dim=dim or None)


def label(ch: Change) -> str:
    """The change's action as a reader should take it: a change for a supplier whose
    support desk makes it is asked for, not written."""
    text = "adopt and update" if ch.adopt else ch.action
    return f"{text}, to request" if any(m.kind == TO_REQUEST for m in ch.marks) else text


def desk(changes: list[Change]) -> str | None:
    """Who carries a supplier's changes out, when it is its support desk (the reason of
    the first to-request mark)."""
    for ch in changes:
        for m in ch.marks:
            if m.kind == TO_REQUEST:
                return m.reason
    return None


def _change_lines(ch: Change, paint: _Painter) -> list[str]:
    sym, colour = SYMBOL[ch.action]
    lines = [f"    {paint(f'{sym} {terminal(ch.address)}', colour)}  {paint(label(ch), dim=True)}"]
    # A to-request mark is said once, in its supplier's heading.
    marks = [m for m in ch.marks if m.kind != TO_REQUEST]
    lines.extend(f"        {paint(f'{m.kind}: {terminal(m.reason)}', 'cyan')}" for m in marks)
    if ch.action == "create":
        for path, value in flatten(redact_spec(ch.address.kind, ch.after)):
            lines.append(f"        {terminal(path)}: {show(value)}")
    elif ch.action == "update":
        for d in ch.diff:
            path = terminal(d.path)
            if d.sensitive:
                lines.append(f"        {path}: {paint(SENSITIVE_CHANGE, 'magenta')}")
            elif d.by_element:
                lines.append(f"        {path}:")
                lines.extend(f"          {paint(f'+ {show(v)}', 'green')}" for v in d.added or ())
                lines.extend(f"          {paint(f'- {show(v)}', 'red')}" for v in d.removed or ())
            else:
                lines.append(
                    f"        {path}: {paint(show(d.before), 'red')} → {paint(show(d.after), 'green')}"
                )
        if ch.adopt:
            lines.append(f"        labels: {paint('take ownership (managed-by: okectl)', 'cyan')}")
    return lines


def _header(run: PlanRun, paint: _Painter) -> list[str]:
    where = f"commit {terminal(run.commit[:12])}" if run.commit else "not a git checkout"
    if run.dirty:
        where += " with uncommitted changes"
    lines = [paint(f"okectl plan · repository {terminal(run.repository)} · {where}", bold=True)]
    plan = run.plan
    if not plan.changes:
        return lines
    # A legend of the symbols this plan uses, as Terraform prints one.
    used = {ch.action for ch in plan.changes}
    lines.append("Actions are shown with these symbols:")
    for action in ("create", "update", "delete"):
        if action not in used:
            continue
        sym, colour = SYMBOL[action]
        meaning = LEGEND[action]
        if action == "update" and plan.adoptions:
            meaning += " (adopt and update: also take ownership of what was made by hand)"
        lines.append(f"  {paint(sym, colour)} {meaning}")
    lines.append("")
    return lines


def _awaiting_lines(awaiting: list[Awaiting], paint: _Painter) -> list[str]:
    """Changes open requests already ask for, per request: when, its age against the
    supplier's SLA, and what it asks (the request itself has the details)."""
    if not awaiting:
        return []
    requests = len({a.request for a in awaiting})
    out = [
        paint(
            f"Requested, awaiting confirmation ({len(awaiting)} change{'s' if len(awaiting) != 1 else ''} "
            f"in {requests} request{'s' if requests != 1 else ''}; not proposed again)",
            bold=True,
        )
    ]
    colour = {"awaiting": "cyan", "overdue": "yellow", "escalated": "red"}
    for rid, grouped in groupby(awaiting, key=lambda a: a.request):
        items = list(grouped)
        reason = next((m.reason for m in items[0].change.marks if m.kind == REQUESTED), rid)
        out.append(f"  {paint(terminal(reason), colour[items[0].standing])}")
        for a in items:
            sym, sym_colour = SYMBOL[a.change.action]
            change = paint(f"{sym} {terminal(a.change.address)}", sym_colour)
            out.append(f"    {change}  {paint(a.change.action, dim=True)}")
    return out


def render_text(run: PlanRun, *, color: bool) -> str:
    paint = _Painter(color)
    out: list[str] = _header(run, paint)
    plan = run.plan
    scope = run.scope.describe()
    if scope:
        out.append(paint(terminal(scope), dim=True))
        out.extend(paint(f"  {terminal(reason)}", dim=True) for reason in run.scope.reasons)
    for supplier, grouped in groupby(plan.changes, key=lambda c: c.address.supplier):
        by_supplier = list(grouped)
        by_desk = desk(by_supplier)
        heading = paint(terminal(supplier), bold=True)
        out.append(heading + (paint(f"  ({terminal(by_desk)})", "cyan") if by_desk else ""))
        for school, by_school in groupby(by_supplier, key=lambda c: c.address.school):
            out.append(paint(f"  {terminal(school)}", bold=True))
            for ch in by_school:
                out.extend(_change_lines(ch, paint))
    out.extend(_awaiting_lines(plan.awaiting, paint))
    if plan.unmanaged:
        out.append(paint(f"Unmanaged, left alone ({len(plan.unmanaged)})", bold=True))
        out.extend(
            paint(f"  ? {terminal(u.address)}: {terminal(u.reason)}", dim=True) for u in plan.unmanaged
        )
    out.extend(f"{paint('warning:', 'yellow')} {terminal(w)}" for w in plan.warnings)
    if run.policy is not None:
        active = [f for f in run.policy.findings if f.waived_by is None]
        errors = [f for f in active if f.severity == "error"]
        if errors:
            out.append(
                paint(f"Policy errors ({len(errors)}): apply refuses to run while they stand", bold=True)
            )
            out.extend(
                f"  {paint('error', 'red')} "
                + terminal(f"{f.path}:{f.line}:{f.col}: [{f.policy}] {f.address}: {f.message}")
                for f in errors
            )
        warnings = len(active) - len(errors)
        if warnings:
            # The plan is what a reviewer reads here; the warnings have their own command.
            out.append(f"{paint(f'{warnings} policy warning(s)', 'yellow')}; see okectl policy check")
    out.append(paint(plan.summary(), bold=True))
    return "\n".join(out) + "\n"
