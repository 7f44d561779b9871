"""Drift as text, JSON and Markdown (``okectl drift``), and the pull request's text for
accepted drift.

Every value a supplier reported, and every reason (it may quote one), is shown through
the medium's escape; a value is formatted by ``views.values.show`` as in the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from okectl import jsontext
from okectl.views.apply import render_applied
from okectl.views.escape import markdown, markdown_code, terminal
from okectl.views.rendered import Rendered
from okectl.views.values import show

if TYPE_CHECKING:
    from okectl.commands.drift import DriftRun
    from okectl.gitops.drift.accept import Accepted
    from okectl.gitops.drift.detect import Finding, Place

# Found again in a pull request's body: the one pull request of accepted drift.
PR_MARKER = "<!-- okectl-drift-accept -->"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def cause(finding: Finding, escape: Any = terminal) -> str:
    """A finding's cause in words: what moved where, as the supplier has it."""
    if finding.moved:
        moved = ", ".join(
            f"{escape(m.path)} {'changed (sensitive)' if m.sensitive else '→ ' + escape(show(m.actual))}"
            for m in finding.moved
        )
        return f"{escape(finding.supplier)}: {finding.kind} {moved}, {finding.what}"
    return f"{escape(finding.supplier)}: {finding.kind} {escape(finding.name)} {finding.what}"


def _children(place: Place) -> str:
    """What went with an environment removed at the supplier, and whether the place also
    holds a change of the configuration's."""
    n = len(place.children)
    said = f" (and the {n} client(s) and role(s) in it)" if n else ""
    return said + (" [also changed in the configuration]" if place.mixed else "")


def _configured(place: Place) -> str:
    said = ", ".join(f"{path} {show(value)}" for path, value in sorted(place.configured.items()))
    return f"the configuration says {said}" if said else ""


def _summary(run: DriftRun) -> str:
    report = run.report
    if not report.findings:
        head = "No drift at the suppliers."
    else:
        schools = {s for f in report.findings for s in f.schools}
        head = (
            f"Drift at the suppliers: {_plural(len(report.findings), 'finding')} at "
            f"{_plural(report.places, 'place')} in {_plural(len(schools), 'school')}; "
            f"{len(run.unresolved)} not settled by this run."
        )
    extra = []
    if report.configured:
        extra.append(
            f"{_plural(len(report.configured), 'change')} the configuration made, not applied yet (not drift)"
        )
    if report.undetermined:
        extra.append(
            f"{_plural(len(report.undetermined), 'change')} okectl cannot place (never healed or accepted)"
        )
    return head + (" " + "; ".join(extra) + "." if extra else "")


def render_text(run: DriftRun) -> str:
    out: list[str] = []
    for finding in run.report.findings:
        outcome = run.outcome(finding)
        out.append(f"{cause(finding)}  [{finding.mode}: {outcome.status}]")
        for place in finding.places:
            where = (
                f"{place.change.source[0]}:{place.change.source[1]}:{place.change.source[2]}"
                if place.change.source
                else ""
            )
            said = "; ".join(x for x in (_configured(place), terminal(where)) if x)
            out.append(f"    {terminal(place.address)}{_children(place)}" + (f"  ({said})" if said else ""))
        out.extend(f"    {outcome.status}: {terminal(line)}" for line in outcome.detail)
    if run.report.configured:
        out.append(
            "Not drift, the configuration's own changes (okectl plan shows them; okectl apply applies them):"
        )
        out.extend(f"    {terminal(c.address)} ({c.action})" for c in run.report.configured)
    if run.report.undetermined:
        out.append("Undetermined, never healed or accepted:")
        out.extend(
            f"    {terminal(u.change.address)} ({u.change.action}): {terminal(u.reason)}"
            for u in run.report.undetermined
        )
    out.extend(_accepted_text(run.accepted))
    out.append(_summary(run))
    return "\n".join(out) + "\n"


def _accepted_text(accepted: Accepted | None) -> list[str]:
    if accepted is None:
        return []
    lines = [f"warning: the accepted drift brings a policy warning: {terminal(w)}" for w in accepted.warnings]
    if accepted.branch:
        branch = terminal(accepted.branch)
        lines.append(
            f"Committed {accepted.commit[:7] if accepted.commit else ''} on branch {branch} "
            f"(you are on it now); open a pull request with: git push -u origin {branch}"
        )
    elif accepted.written:
        lines.append(f"Wrote {_plural(len(accepted.files), 'file')}: {', '.join(sorted(accepted.files))}")
    return lines


def _finding_json(run: DriftRun, finding: Finding) -> dict[str, Any]:
    outcome = run.outcome(finding)
    return {
        "key": finding.key,
        "supplier": finding.supplier,
        "kind": finding.kind,
        "action": finding.action,
        "what": finding.what,
        "name": finding.name or None,
        "moved": [{"path": m.path, "supplier": m.actual, "sensitive": m.sensitive} for m in finding.moved],
        "mode": finding.mode,
        "outcome": {"status": outcome.status, "detail": list(outcome.detail)},
        "schools": finding.schools,
        "places": [
            {
                "address": str(p.address),
                "school": p.address.school,
                "configured": p.configured,
                "source": list(p.change.source) if p.change.source else None,
                "with": [str(c.address) for c in p.children],
                "also_configuration": p.mixed,
            }
            for p in finding.places
        ],
    }


def _healed_json(run: DriftRun) -> dict[str, Any] | None:
    healed = run.healed
    if healed is None:
        return None
    result = healed.applied.result if healed.applied is not None else None
    return {
        "refused": healed.refused,
        "writes": None if result is None else {**result.counts(), "journal": result.journal},
        "stopped_by": None if result is None else result.stopped_by,
    }


def render_json(run: DriftRun) -> str:
    report = run.report
    accepted = run.accepted
    doc: dict[str, Any] = {
        "commit": report.run.commit,
        "findings": [_finding_json(run, f) for f in report.findings],
        "configured": [{"address": str(c.address), "action": c.action} for c in report.configured],
        "undetermined": [
            {"address": str(u.change.address), "action": u.change.action, "reason": u.reason}
            for u in report.undetermined
        ],
        "summary": {
            "findings": len(report.findings),
            "places": report.places,
            "unresolved": len(run.unresolved),
            "configured": len(report.configured),
            "undetermined": len(report.undetermined),
        },
        "healed": _healed_json(run),
        "accepted": None
        if accepted is None
        else {
            "branch": accepted.branch,
            "commit": accepted.commit,
            "files": sorted(accepted.files),
            "written": accepted.written,
            "warnings": accepted.warnings,
        },
    }
    return jsontext.dumps(doc)


def _places_md(finding: Finding) -> list[str]:
    lines = []
    for place in finding.places:
        said = ", ".join(
            f"{markdown(p)} {markdown_code(show(v))}" for p, v in sorted(place.configured.items())
        )
        lines.append(
            f"- {markdown_code(place.address)}{_children(place)}"
            + (f": the configuration says {said}" if said else "")
        )
    return lines


def render_markdown(run: DriftRun) -> str:
    out = ["## okectl drift", "", markdown(_summary(run)), ""]
    if run.report.findings:
        out += ["| cause | mode | places | outcome |", "|---|---|---|---|"]
        for finding in run.report.findings:
            outcome = run.outcome(finding)
            out.append(
                f"| {cause(finding, markdown)} | {finding.mode} | {len(finding.places)} "
                f"({markdown(', '.join(finding.schools))}) | {outcome.status} |"
            )
        out.append("")
        for finding in run.report.findings:
            outcome = run.outcome(finding)
            out += ["<details>", f"<summary>{cause(finding, markdown)}</summary>", ""]
            out += _places_md(finding)
            out += [f"- {outcome.status}: {markdown(line)}" for line in outcome.detail]
            out += ["", "</details>", ""]
    if run.report.undetermined:
        out += ["**Undetermined** (never healed or accepted):", ""]
        out += [
            f"- {markdown_code(u.change.address)} ({u.change.action}): {markdown(u.reason)}"
            for u in run.report.undetermined
        ]
        out.append("")
    return "\n".join(out)


def _healing(run: DriftRun) -> Rendered:
    """Apply's own account of the writes healing made (as okectl apply gives it)."""
    healed = run.healed
    if healed is None or healed.applied is None or healed.applied.result is None:
        return Rendered()
    return render_applied(healed.applied)


def render_drift(run: DriftRun, output: str) -> Rendered:
    healing = _healing(run)
    if output == "json":
        return Rendered(render_json(run), healing.err)
    if output == "markdown":
        return Rendered(render_markdown(run), healing.err)
    return Rendered(render_text(run) + healing.out, healing.err)


def render_pull_request(run: DriftRun) -> str:
    """The pull request's text for drift accepted on a branch: what the suppliers have,
    where, why some was not accepted, and the warnings it brings."""
    accepted = run.accepted
    assert accepted is not None
    out = [
        PR_MARKER,
        f"## {markdown(accepted.title)}",
        "",
        "The suppliers changed these by hand; their drift mode is `accept`, so `okectl drift --accept` "
        "wrote what they have into the configuration. Merged, the configuration plans to a no-op at "
        "these places. Review it as any change: close this pull request to heal them instead.",
        "",
    ]
    for finding in accepted.findings:
        out += [f"### {cause(finding, markdown)}", "", *_places_md(finding), ""]
    if accepted.refused:
        out += ["### Not accepted", ""]
        for finding, reasons in accepted.refused:
            out.append(f"- {cause(finding, markdown)}")
            out += [f"  - {markdown(r)}" for r in reasons]
        out.append("")
    if accepted.warnings:
        out += ["> [!WARNING]", "> Policy warnings the accepted drift brings:", ">"]
        out += [f"> - {markdown(w)}" for w in accepted.warnings]
        out.append("")
    out += ["Files:", ""] + [f"- {markdown_code(path)}" for path in sorted(accepted.files)]
    return "\n".join(out) + "\n"
