"""The plan for a terminal: grouped by supplier and school, colour only on a terminal."""

from __future__ import annotations

import io
from itertools import groupby
from typing import Any

from rich.console import Console
from rich.markup import escape

from okectl.plan import SENSITIVE_TEXT, Change, redact
from okectl.planner import PlanRun
from okectl.render.values import show

SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def _flatten(spec: dict[str, Any] | None, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in (spec or {}).items():
        if isinstance(v, dict):
            out.extend(_flatten(v, f"{prefix}{k}."))
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _change_lines(ch: Change) -> list[str]:
    sym, style = SYMBOL[ch.action]
    label = "adopt and update" if ch.adopt else ch.action
    lines = [f"    [{style}]{sym} {escape(str(ch.address))}[/{style}]  [dim]{label}[/dim]"]
    if ch.action == "create":
        for path, value in _flatten(redact(ch.address, ch.after)):
            if value is not None:
                lines.append(f"        {escape(path)}: {escape(show(value))}")
    elif ch.action == "update":
        for d in ch.diff:
            if d.sensitive:
                lines.append(f"        {escape(d.path)}: [magenta]{SENSITIVE_TEXT} changed[/magenta]")
            else:
                lines.append(
                    f"        {escape(d.path)}: [red]{escape(show(d.before))}[/red] → "
                    f"[green]{escape(show(d.after))}[/green]"
                )
        if ch.adopt:
            lines.append("        labels: [cyan]take ownership (managed-by: okectl)[/cyan]")
    return lines


def render_text(run: PlanRun, *, color: bool) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf, force_terminal=color, no_color=not color, highlight=False, width=200, soft_wrap=True
    )
    plan = run.plan
    scope = run.scope.describe()
    if scope:
        console.print(f"[dim]{escape(scope)}[/dim]")
        for reason in run.scope.reasons:
            console.print(f"[dim]  {escape(reason)}[/dim]")
    for supplier, by_supplier in groupby(plan.changes, key=lambda c: c.address.supplier):
        console.print(f"[bold]{escape(supplier)}[/bold]")
        for school, by_school in groupby(by_supplier, key=lambda c: c.address.school):
            console.print(f"  [bold]{escape(school)}[/bold]")
            for ch in by_school:
                for line in _change_lines(ch):
                    console.print(line)
    if plan.unmanaged:
        console.print(f"[bold]Unmanaged, left alone ({len(plan.unmanaged)})[/bold]")
        for u in plan.unmanaged:
            console.print(f"  [dim]? {escape(str(u.address))}: {escape(u.reason)}[/dim]")
    for w in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if run.policy is not None:
        findings = [f for f in run.policy.findings if f.waived_by is None]
        if findings:
            console.print(f"[bold]Policy findings ({len(findings)})[/bold]")
            for f in findings:
                style = "red" if f.severity == "error" else "yellow"
                console.print(
                    f"  [{style}]{f.severity}[/{style}] {escape(f.path)}:{f.line}:{f.col}: "
                    f"\\[{escape(f.policy)}] {escape(f.address)}: {escape(f.message)}"
                )
    console.print(f"[bold]{escape(plan.summary())}[/bold]")
    return buf.getvalue()
