"""`okectl promote`'s view: the gates per school with their evidence, what moved, and the
pull request's body (Markdown) that lists them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.views.bump import render_bump
from okectl.views.escape import markdown, markdown_code, terminal
from okectl.views.rendered import Rendered

if TYPE_CHECKING:
    from okectl.gitops.promote import Gate, Promotion

OUTPUTS = ("text", "markdown")


def _gate_lines(gate: Gate) -> list[str]:
    lines = [f"    {'pass' if gate.passed else 'FAIL'}  {gate.name:<10} {terminal(gate.evidence)}"]
    if gate.remedy is not None:
        lines.append(f"          {'':<10} → {terminal(gate.remedy)}")
    return lines


def _summary(p: Promotion) -> str:
    failing = p.failing
    if failing:
        where = ", ".join(f"{w}: {g.name}" for w, g in failing)
        dates = [g.passes_on for _, g in failing]
        # Said only when waiting is all it takes: every failing gate has its day.
        wait = (
            f"; waiting is all it takes: every gate passes on {max(d for d in dates if d is not None)}"
            if all(d is not None for d in dates)
            else ""
        )
        return f"Refused: {len(failing)} gate(s) fail ({terminal(where)}); nothing was changed{wait}."
    if not p.moving:
        return f"Nothing to promote: every school of wave {terminal(p.wave)} is there already."
    if p.dry_run:
        return "Every gate passes. --dry-run: nothing was changed."
    return "Every gate passes."


def render_text(p: Promotion) -> str:
    out = [terminal(p.title), "  wave order"]
    for gate in p.order:
        out += _gate_lines(gate)
    for school in p.schools:
        if not school.targets:
            out.append(f"  {terminal(school.code)}  {terminal(school.note or '')}")
            continue
        moves = ", ".join(f"{a}: OKE {v} → {p.oke_version}" for a, v in school.targets)
        out.append(f"  {terminal(school.code)}  {terminal(moves)}")
        for gate in school.gates:
            out += _gate_lines(gate)
    out.append(_summary(p))
    text = "\n".join(out) + "\n"
    if p.passed and p.bump is not None:
        text += render_bump(p.bump)
    if p.body_file is not None and p.bump is not None and p.bump.written:
        text += f"Pull request body: {terminal(p.body_file)}\n"
    return text


def pull_request_body(p: Promotion) -> str:
    """The gates and their evidence, for the pull request (and the commit's message)."""
    lines = [
        f"Promotes {markdown_code(p.supplier)} to OKE {markdown(p.oke_version)} in {markdown(p.stage)} "
        f"for the schools of wave {markdown_code(p.wave)}. Gates weighed on {p.day}; made with "
        f"{markdown_code(p.command)}.",
        "",
        "| where | gate | result | evidence |",
        "|---|---|---|---|",
    ]
    rows = [(f"wave {p.wave}", g) for g in p.order] + [(s.code, g) for s in p.moving for g in s.gates]
    for where, gate in rows:
        result = "pass" if gate.passed else f"**fail**: {markdown(gate.remedy or '')}"
        lines.append(f"| {markdown(where)} | {gate.name} | {result} | {markdown(gate.evidence)} |")
    if p.bump is not None and p.bump.changes:
        lines += ["", "Changes:", ""]
        lines += [
            f"- {markdown_code(a)}: OKE {markdown(old)} → {markdown(new)}" for a, old, new in p.bump.changes
        ]
        lines += ["", "Files:", ""]
        lines += [f"- {markdown_code(path)}" for path in sorted(p.bump.files)]
    unmoved = [s for s in p.schools if not s.targets]
    if unmoved:
        lines += ["", "Not moved:", ""]
        lines += [f"- {markdown(s.code)}: {markdown(s.note or '')}" for s in unmoved]
    return "\n".join(lines) + "\n"


def render_promotion(p: Promotion | None, output: str, *, nothing: str = "") -> Rendered:
    """The promotion as ``output`` (text, or the pull request's body in Markdown)."""
    if p is None:
        return Rendered(f"{terminal(nothing)}\n")
    if output == "markdown":
        return Rendered(pull_request_body(p))
    return Rendered(render_text(p))
