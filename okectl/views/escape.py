"""Escaping what okectl did not write itself, for the medium it is shown in: one helper per
medium, used by every view.

Whatever came from a supplier (values, labels, error texts, the version its `GET /`
reports) or from a file (YAML values, a record of verifications, names in git) is shown
through one of these, at the place it is shown, never the whole output: the view's own
colours, line breaks and markup stay intact.

- ``terminal``: control characters (an ANSI escape, a carriage return, a new line) and
  the characters that reorder text on screen are shown as escapes (``\\x1b``, ``\\n``,
  ``\\u202e``), so a string can neither restyle the terminal nor start a line of its own.
- ``markdown``: as for the terminal (a new line would let it start a heading or a list),
  and every character Markdown or GitHub gives a meaning inside a line is backslashed:
  no link, image, HTML, code, emphasis or table cell can be forged. ``markdown_code``
  gives an inline code span instead, whose fence no backtick in the text can close.
- HTML: the templates' environment (``html_templates``) escapes every value it is given,
  in text and in (quoted) attributes alike; nothing is marked safe.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

# C0 and C1 controls, DEL, and the bidirectional and invisible formatting characters
# (U+061C, U+200B-U+200F, U+2028-U+202E, U+2060-U+206F, U+FEFF).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What Markdown (CommonMark with GitHub's extensions) reads as markup inside a line.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#!|~&$])")
TEMPLATES = Path(__file__).parent / "templates"


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: object) -> str:
    """``text`` as it may be shown on a terminal or in a log."""
    return _UNSAFE.sub(_visible, str(text))


def markdown(text: object) -> str:
    """``text`` as plain text inside a Markdown line (a table cell included)."""
    return _MARKDOWN.sub(r"\\\1", terminal(text))


def markdown_code(text: object) -> str:
    """``text`` as an inline code span: shown as it is, nothing in it read as markup.

    A code span ends at a run of backticks as long as its fence, so the fence is longer
    than any run inside; a pipe is backslashed even there, or a table cell would end."""
    shown = terminal(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def html_templates() -> jinja2.Environment:
    """The one environment HTML is rendered in: every value escaped (autoescape), an
    unknown name an error rather than an empty string."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
