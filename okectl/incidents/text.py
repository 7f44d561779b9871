"""Incidents in Markdown, as a forge renders them: an issue's body, a comment, a report.

A forge renders Markdown and some HTML, turns ``@name`` into a notification and ``#12``
into a link. What okectl writes itself is escaped; someone else's words (a supplier's
answer, a support desk's reason) are shown as inline code, where nothing renders.
"""

from __future__ import annotations

import re

from okectl.incidents.model import Fact, Incident, Recovery, plain

# What renders inline anywhere in a line; ( ) only after [ ], which is escaped too.
_SPECIAL = re.compile(r"([\\`*_\[\]!|~#@])")
# What renders only at the start of a line: a list item, a numbered item, a heading rule.
_LEADING = re.compile(r"^(?:([-+=])|(\d+)([.)]))")
_STATUS_PAGE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?")


def _escaped(text: str) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = _SPECIAL.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return _LEADING.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def escape(text: str) -> str:
    """Text that renders as itself, on one line: no emphasis, link, heading, HTML, list,
    mention or reference."""
    return _escaped(plain(text, 10_000))


def code(text: str) -> str:
    """``text`` as inline code, fenced longer than any run of backticks it holds."""
    text = plain(text, 10_000)
    if not text:
        return "(empty)"
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _value(fact: Fact) -> str:
    return code(fact.value) if fact.quoted else escape(fact.value)


def status_page(url: str) -> str:
    """A link when it is a plain http(s) address; otherwise shown, not followed."""
    return f"<{url}>" if _STATUS_PAGE.fullmatch(url) else code(url)


def facts_markdown(incident: Incident) -> list[str]:
    return [f"- **{escape(f.label)}:** {_value(f)}" for f in incident.facts]


def incident_markdown(incident: Incident, *, heading: str = "###") -> str:
    """One incident: what failed, the evidence, when it was seen, what to do, and the
    supplier's status page as context (okectl never reads it; it decides nothing)."""
    lines = [
        f"{heading} {escape(incident.title)}",
        "",
        f"- **check:** {code(incident.check)} of {code(incident.subject)}",
        *facts_markdown(incident),
    ]
    if incident.environments and incident.environments != (incident.subject,):
        lines.append(f"- **environments:** {', '.join(code(e) for e in incident.environments)}")
    if incident.seen:
        lines.append(f"- **seen:** {escape(incident.seen)}")
    context = []
    if incident.status_page:
        context.append(f"status page {status_page(incident.status_page)}")
    if incident.support:
        context.append(f"support {code(incident.support)}")
    if context:
        lines.append(
            f"- **the supplier's own channels** (context; okectl reads none of them): {'; '.join(context)}"
        )
    if incident.advice:
        lines += ["", escape_advice(incident.advice)]
    return "\n".join(lines) + "\n"


def escape_advice(text: str) -> str:
    """okectl's own advice, with its `commands` kept as code and the rest escaped."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(code(p[1:-1]) if p.startswith("`") and p.endswith("`") else _escaped(p) for p in parts)


def recovery_markdown(recovery: Recovery) -> str:
    return f"**Healthy again:** {escape(recovery.passed)} ({escape(recovery.when)})."
