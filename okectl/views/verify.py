"""Verification results as text, JSON, JUnit XML and HTML. Strings only; no I/O."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

from okectl.verify.model import LEVELS, CheckResult, EnvironmentResult, VerifyReport, rule_label

MARK = {"pass": "ok", "fail": "FAIL", "skip": "skip", "error": "ERROR"}
# Worst first: the order environments are listed in where failures must come first.
SEVERITY = {"error": 0, "fail": 1, "skip": 2, "pass": 3}
COLOUR = {"pass": "green", "fail": "red", "skip": "yellow", "error": "red"}

Paint = Callable[[str, str], str]


def _plain(text: str, _colour: str) -> str:
    return text


def _requires(check: CheckResult) -> str:
    label = rule_label(check.rule)
    return check.requires + (f" [{label}]" if label else "")


def _failure_line(env: EnvironmentResult, check: CheckResult) -> str:
    parts = [f"{env.address}: L{check.level} {check.check}: {check.message}"]
    if check.request:
        parts.append(f"request: {check.request}")
    if check.requires:
        parts.append(f"requires: {_requires(check)}")
    return "; ".join(parts)


def text(report: VerifyReport, *, paint: Paint = _plain, verbose: bool = False) -> str:
    """One block per environment: a line per level, then every failure in full."""
    lines: list[str] = []
    for env in report.environments:
        status = env.status
        head = (
            f"{env.address}  {'/'.join(env.roles)}  OKE {env.oke_version} (OOAPI {env.ooapi_version})  "
            + paint(MARK[status], COLOUR[status])
        )
        lines.append(head)
        if env.profile:
            overlays = f"; overlays: {', '.join(env.overlays)}" if env.overlays else ""
            lines.append(f"  profile {env.profile}{overlays}")
        if env.base_url and env.located_by:
            lines.append(f"  base URL {env.base_url} ({env.located_by})")
        for note in env.notes:
            lines.append(f"  note: {note}")
        for level, name in LEVELS.items():
            at = [c for c in env.checks if c.level == level]
            if not at:
                continue
            counts = {s: sum(1 for c in at if c.status == s) for s in ("pass", "fail", "skip", "error")}
            worst = next((s for s in ("error", "fail") if counts[s]), "pass")
            summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            lines.append(f"  L{level} {name:<15} {paint(MARK[worst], COLOUR[worst]):<6} {summary}")
            for check in at:
                if check.status in ("fail", "error") or (verbose and check.status != "pass"):
                    lines.append(f"    {MARK[check.status]} {check.check}: {check.message}")
                    if check.request:
                        lines.append(f"      request: {check.request}")
                    if check.requires:
                        lines.append(f"      requires: {_requires(check)}")
                elif check.status == "skip" and check.level == 0:
                    lines.append(f"    note: {check.message}")
    for error in report.errors:
        lines.append(paint("error: ", "red") + error)
    counts = report.counts()
    drift = [e for e in report.environments if e.drift]
    lines.append("")
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
    if report.status == "skip":
        # Nothing was proven: saying "verified" here would certify what was never checked.
        lines.append(
            f"nothing verified in {len(report.environments)} environment(s) at level {report.level}: "
            f"every check was skipped ({tally})"
        )
    else:
        lines.append(
            f"verified {len(report.environments)} environment(s) at level {report.level}: "
            + tally
            + (f"; version drift in {len(drift)}" if drift else "")
        )
    return "\n".join(lines) + "\n"


def failures(report: VerifyReport) -> list[str]:
    """Every failed or erroneous check as one line naming environment, check, request and
    what the profile requires."""
    return [
        _failure_line(env, check)
        for env in report.environments
        for check in env.checks
        if check.status in ("fail", "error")
    ]


def as_json(report: VerifyReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def junit(report: VerifyReport) -> str:
    """One test suite per environment, one test case per check."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    counts = report.counts()
    out.append(
        f'<testsuites name="okectl verify" tests="{sum(counts.values())}" '
        f'failures="{counts["fail"]}" errors="{counts["error"]}" skipped="{counts["skip"]}">'
    )
    for env in report.environments:
        at = {s: sum(1 for c in env.checks if c.status == s) for s in ("fail", "error", "skip")}
        out.append(
            f'  <testsuite name={quoteattr(env.address)} tests="{len(env.checks)}" '
            f'failures="{at["fail"]}" errors="{at["error"]}" skipped="{at["skip"]}">'
        )
        for i, check in enumerate(env.checks):
            name = quoteattr(f"L{check.level} {check.check} #{i + 1}")
            classname = quoteattr(f"{env.address}.L{check.level}")
            out.append(f"    <testcase classname={classname} name={name}>")
            if check.status in ("fail", "error"):
                tag = "failure" if check.status == "fail" else "error"
                body = escape(_failure_line(env, check))
                out.append(f"      <{tag} message={quoteattr(check.message)}>{body}</{tag}>")
            elif check.status == "skip":
                out.append(f"      <skipped message={quoteattr(check.message)}/>")
            out.append("    </testcase>")
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
.pass{color:#176b2c}.fail,.error{color:#b00020;font-weight:bold}.skip{color:#8a6d00}
code,pre{font-size:.8rem;white-space:pre-wrap;word-break:break-all}
"""


def page(report: VerifyReport, *, title: str = "OKE verification") -> str:
    """A self-contained HTML page (no scripts, no external resources)."""
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>okectl {e(report.okectl_version)} · level {report.level} · {e(report.started)} – "
        f"{e(report.finished)} · <span class={report.status}>{report.status}</span></p>",
    ]
    for env in report.environments:
        parts.append(
            f"<h2 id={quoteattr(anchor(env.address))}>{e(env.address)} "
            f"<span class={env.status}>{env.status}</span></h2>"
        )
        parts.append(
            f"<p>roles {e(', '.join(env.roles))} · flows {e(', '.join(map(str, env.flows)))} · "
            f"OKE {e(env.oke_version)} · OOAPI {e(env.ooapi_version)} · profile {e(env.profile or '-')}"
            + (f" · overlays {e(', '.join(env.overlays))}" if env.overlays else "")
            + (f" · <span class=fail>version drift: GET / says {e(env.drift)}</span>" if env.drift else "")
            + (
                f" · base URL <code>{e(env.base_url)}</code> ({e(env.located_by or '')})"
                if env.base_url
                else ""
            )
            + "</p>"
        )
        for note in env.notes:
            parts.append(f"<p class=note>note: {e(note)}</p>")
        parts.append(
            "<table><tr><th>level</th><th>check</th><th>status</th><th>finding</th><th>request</th></tr>"
        )
        for check in env.checks:
            detail = e(check.message)
            if check.requires:
                detail += f"<br><small>requires: {e(_requires(check))}</small>"
            if check.excerpt is not None:
                ex = check.excerpt
                detail += f"<pre>{e(str(ex.status))} {e(ex.content_type or '')}\n{e(ex.body)}</pre>"
            parts.append(
                f"<tr><td>L{check.level}</td><td>{e(check.check)}</td>"
                f"<td class={check.status}>{check.status}</td><td>{detail}</td>"
                f"<td><code>{e(check.request)}</code></td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def anchor(address: str) -> str:
    """An environment's fragment identifier in its pack's page."""
    return "env-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in address)


def _level_status(env: EnvironmentResult, level: int) -> str:
    at = {c.status for c in env.checks if c.level == level}
    return next((s for s in ("error", "fail", "pass", "skip") if s in at), "")


def index(report: VerifyReport, links: dict[str, str], *, title: str = "OKE verification") -> str:
    """The page over the evidence packs: environments × levels, failures first, each row
    linking to its environment in its pack (``links``: address → relative URL)."""
    e = html.escape
    rows = sorted(report.environments, key=lambda env: (SEVERITY[env.status], env.address))
    counts = {s: sum(1 for env in report.environments if env.status == s) for s in SEVERITY}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(title)}</title><style>{_STYLE}td.c{{text-align:center}}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>okectl {e(report.okectl_version)} · level {report.level} · {e(report.started)} – "
        f"{e(report.finished)} · <span class={report.status}>{report.status}</span> · "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + "</p>",
        "<table><tr><th>environment</th><th>OKE</th><th>status</th>"
        + "".join(f"<th>L{level} {e(name)}</th>" for level, name in LEVELS.items() if level <= report.level)
        + "</tr>",
    ]
    for env in rows:
        link = links.get(env.address)
        name = f"<a href={quoteattr(link)}>{e(env.address)}</a>" if link else e(env.address)
        cells = "".join(
            f"<td class='c {_level_status(env, level)}'>{_level_status(env, level) or '–'}</td>"
            for level in LEVELS
            if level <= report.level
        )
        parts.append(
            f"<tr><td>{name}</td><td>{e(env.oke_version)}</td>"
            f"<td class={env.status}>{env.status}</td>{cells}</tr>"
        )
    parts.append("</table>")
    failing = failures(report)
    if failing:
        parts.append("<h2>Failures</h2><ul>")
        parts += [f"<li><code>{e(line)}</code></li>" for line in failing]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
