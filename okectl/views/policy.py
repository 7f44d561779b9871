"""A policy report as text (for people), JSON (for scripts) and SARIF 2.1.0 (for code scanning)."""

from __future__ import annotations

import hashlib
import io
import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from okectl.config.policies import Rule
from okectl.jsontext import dumps
from okectl.policy.findings import Finding, PolicyReport, StaleWaiver
from okectl.views.escape import markdown, markdown_code, terminal
from okectl.views.rendered import Rendered, lines

JSON_FORMAT_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}
# Reports about the waivers file itself, so code scanning shows them next to the rules.
WAIVER_EXPIRED = "waiver-expired"
WAIVER_UNUSED = "waiver-unused"


def _tool_version() -> str:
    try:
        return version("okectl")
    except PackageNotFoundError:
        return "0"


def rule_summary(rule: Rule) -> str:
    from okectl.policy.engine import KINDS

    if rule.description:
        return " ".join(rule.description.split())
    cls = KINDS.get(rule.kind)
    return cls.summary if cls is not None else rule.kind


# --- text --------------------------------------------------------------------------------


class _Out:
    """Text lines, through rich markup only when colour is wanted: a report of a large
    fleet has thousands of lines, and markup parsing would cost more than the check."""

    def __init__(self, color: bool) -> None:
        self.lines: list[str] = []
        self.buf = io.StringIO()
        self.console: Any = None
        if color:
            from rich.console import Console

            self.console = Console(
                file=self.buf, force_terminal=True, highlight=False, width=200, soft_wrap=True
            )

    def add(self, text: str, style: str | None = None) -> str:
        if self.console is None or style is None:
            return text
        return f"[{style}]{self.plain(text)}[/{style}]"

    def plain(self, text: str) -> str:
        if self.console is None:
            return text
        from rich.markup import escape

        return escape(text)

    def line(self, *parts: str) -> None:
        text = "".join(parts)
        if self.console is not None:
            self.console.print(text)
        else:
            self.lines.append(text)

    def text(self) -> str:
        if self.console is not None:
            return self.buf.getvalue()
        return "".join(line + "\n" for line in self.lines)


def _finding_line(out: _Out, f: Finding) -> None:
    out.line(
        out.plain(f"{terminal(f.location)}: "),
        out.add(f.severity, STYLE[f.severity]),
        out.plain(f"[{terminal(f.policy)}] "),
        out.add(terminal(f.address), "bold"),
        out.plain(f": {terminal(f.message)}"),
    )


def render_text(report: PolicyReport, *, color: bool) -> str:
    out = _Out(color)
    order = {"error": 0, "warning": 1}
    active = sorted(report.active, key=lambda f: (order[f.severity], f.path, f.line, f.col, f.address))
    for f in active:
        _finding_line(out, f)
    waived = report.waived
    if waived:
        out.line()
        out.line(out.add(f"waived ({len(waived)}):", "dim"))
        for f in sorted(waived, key=lambda f: (f.path, f.line, f.col, f.address)):
            ref = f.waived_by
            assert ref is not None
            w = ref.waiver
            shown = f"  {f.location}: {f.severity}[{f.policy}] {f.address}: {f.message}"
            out.line(out.add(terminal(shown), "dim"))
            waiver = (
                f"    waived by {ref.path}:{ref.line}:{ref.col} until {w.expires.isoformat()} "
                f"({w.owner}): {' '.join(w.reason.split())}"
            )
            out.line(out.add(terminal(waiver), "dim"))
    stale = [*report.expired_waivers, *report.unused_waivers]
    if stale:
        out.line()
        for sw in stale:
            label = "warning" if sw.reason == "expired" else "note"
            out.line(
                out.plain(terminal(f"{sw.ref.path}:{sw.ref.line}:{sw.ref.col}: ")),
                out.add(label, STYLE[label]),
                out.plain(f"[waiver] {terminal(sw.message)}"),
            )
    out.line()
    out.line(out.add(report.summary(), "bold green" if report.passed else "bold red"))
    return out.text()


# --- JSON --------------------------------------------------------------------------------


def _stale_json(w: StaleWaiver) -> dict[str, Any]:
    return {
        "policy": w.ref.policy,
        "path": w.ref.path,
        "line": w.ref.line,
        "col": w.ref.col,
        "owner": w.ref.waiver.owner,
        "expires": w.ref.waiver.expires.isoformat(),
        "message": w.message,
    }


def report_json(report: PolicyReport) -> dict[str, Any]:
    return {
        "format_version": JSON_FORMAT_VERSION,
        "today": report.today.isoformat(),
        "passed": report.passed,
        "summary": report.summary(),
        "counts": {
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "waived": len(report.waived),
            "expired_waivers": len(report.expired_waivers),
            "unused_waivers": len(report.unused_waivers),
        },
        "rules": [
            {"id": r.id, "kind": r.kind, "severity": r.severity, "description": rule_summary(r)}
            for r in report.rules
        ],
        "findings": [f.to_json() for f in report.active],
        "waived": [f.to_json() for f in report.waived],
        "expired_waivers": [_stale_json(w) for w in report.expired_waivers],
        "unused_waivers": [_stale_json(w) for w in report.unused_waivers],
    }


def render_json(report: PolicyReport) -> str:
    return dumps(report_json(report))


# --- SARIF -------------------------------------------------------------------------------


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    summary = rule_summary(rule)
    help_text = " ".join((rule.help or summary).split())
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": f"{summary} (rule kind {rule.kind})"},
        "help": {
            "text": help_text,
            "markdown": f"**{markdown(summary)}**\n\n{markdown(help_text)}\n\nRule kind "
            f"{markdown_code(rule.kind)}, defined in `policies/rules.yaml`; an accepted exception goes "
            "in `policies/waivers.yaml`.",
        },
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"tags": ["okectl", rule.kind]},
    }


_WAIVER_RULES: list[dict[str, Any]] = [
    {
        "id": WAIVER_EXPIRED,
        "name": "WaiverExpired",
        "shortDescription": {"text": "A waiver has expired and no longer applies"},
        "help": {"text": "Renew the waiver with a new expiry date, or fix the findings it covered."},
        "defaultConfiguration": {"level": "warning"},
    },
    {
        "id": WAIVER_UNUSED,
        "name": "WaiverUnused",
        "shortDescription": {"text": "A waiver matches no finding"},
        "help": {"text": "Remove the waiver: what it excused has been fixed."},
        "defaultConfiguration": {"level": "note"},
    },
]


def _location(path: str, line: int, col: int, address: str | None = None) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line, "startColumn": col},
        }
    }
    if address is not None:
        loc["logicalLocations"] = [{"fullyQualifiedName": address, "kind": "resource"}]
    return loc


_DIGITS = re.compile(r"\d+")


def _fingerprint(*parts: str) -> str:
    # Stable across edits that only move lines, and across days ("in 398 days"), so code
    # scanning keeps one alert per problem.
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]


def report_sarif(report: PolicyReport) -> dict[str, Any]:
    rules = [_rule_descriptor(r) for r in report.rules] + _WAIVER_RULES
    index = {r["id"]: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.policy,
            "ruleIndex": index[f.policy],
            "level": f.severity,
            "message": {"text": f"{f.address}: {f.message}"},
            "locations": [_location(f.path, f.line, f.col, f.address)],
            "partialFingerprints": {
                "okectlFinding/v1": _fingerprint(f.policy, f.address, f.path, _DIGITS.sub("#", f.message))
            },
        }
        if f.waived_by is not None:
            w = f.waived_by.waiver
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{' '.join(w.reason.split())} (owner: {w.owner}; "
                    f"expires {w.expires.isoformat()})",
                    "location": _location(f.waived_by.path, f.waived_by.line, f.waived_by.col),
                }
            ]
        results.append(result)
    for stale in [*report.expired_waivers, *report.unused_waivers]:
        rule_id = WAIVER_EXPIRED if stale.reason == "expired" else WAIVER_UNUSED
        ref = stale.ref
        results.append(
            {
                "ruleId": rule_id,
                "ruleIndex": index[rule_id],
                "level": "warning" if stale.reason == "expired" else "note",
                "message": {"text": stale.message},
                "locations": [_location(ref.path, ref.line, ref.col)],
                "partialFingerprints": {
                    "okectlFinding/v1": _fingerprint(rule_id, ref.policy, str(ref.index))
                },
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "okectl",
                        "version": _tool_version(),
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": "okectl/policy/"},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render_sarif(report: PolicyReport) -> str:
    return dumps(report_sarif(report))


OUTPUTS = ("text", "json", "sarif")


def render_policy(
    report: PolicyReport, output: str, *, color: bool = False, warnings: list[str] | None = None
) -> Rendered:
    """The report as ``output`` (text, json or sarif); ``warnings`` (release feeds that
    could not be read) go to standard error."""
    err = lines([f"warning: {terminal(w)}" for w in warnings or []])
    if output == "json":
        return Rendered(render_json(report), err)
    if output == "sarif":
        return Rendered(render_sarif(report), err)
    return Rendered(render_text(report, color=color), err)
