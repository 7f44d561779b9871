"""`okectl plan`'s view: the plan in every output the command offers, from one entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from okectl.views.escape import markdown, markdown_code, terminal
from okectl.views.rendered import Rendered, lines

if TYPE_CHECKING:
    from okectl.commands.plan import Drift, Planned

OUTPUTS = ("text", "json", "markdown")


def render_plan(planned: Planned, output: str, *, color: bool = False) -> Rendered:
    """The plan as ``output`` (text, json or markdown); notes about writes an interrupted
    apply left in flight go to standard error."""
    # Each output's module is loaded only when asked for.
    notes = lines([terminal(line) for line in planned.in_flight])
    if output == "json":
        from okectl.jsontext import dumps
        from okectl.plans.document import plan_document

        return Rendered(dumps(plan_document(planned.run)), notes)
    if output == "markdown":
        from okectl.views.plan_markdown import render_markdown

        return Rendered(render_markdown(planned.run) + drift_markdown(planned.drift), notes)
    from okectl.views.plan_text import render_text

    text = render_text(planned.run, color=color) + drift_text(planned.drift)
    if planned.saved_to is not None:
        saved = terminal(planned.saved_to)
        text += f"Saved the plan to {saved}; apply it with: okectl apply {saved}\n"
    return Rendered(text, notes)


def _when(drift: list[Drift]) -> str:
    dates = sorted({d for *_, d in drift})
    return dates[-1] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


def drift_text(drift: list[Drift]) -> str:
    """Recorded version drift, after a plan for a terminal. The served version is what a
    supplier's endpoint said: shown escaped, as everything it says."""
    if not drift:
        return ""
    out = [f"\nVersion drift found by okectl verify ({terminal(_when(drift))}):"]
    out += [
        f"  {terminal(a)}: declares OKE {terminal(want)}, GET / says OKE {terminal(got)}"
        for a, want, got, _ in drift
    ]
    return lines(out)


def drift_markdown(drift: list[Drift]) -> str:
    """Recorded version drift, after a plan as a pull-request comment."""
    if not drift:
        return ""
    out = [f"\n### Version drift (okectl verify, {markdown(_when(drift))})\n"]
    out += [
        f"- {markdown_code(a)}: declares OKE {markdown(want)}, `GET /` says OKE {markdown(got)}"
        for a, want, got, _ in drift
    ]
    return lines(out)
