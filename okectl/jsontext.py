"""The one form of every JSON document okectl prints or saves, and of the text a checksum
is taken over.

Printed and saved documents are indented with sorted keys, and everything outside ASCII
is escaped: a supplier's string can carry no terminal control or bidirectional character
into a terminal or a CI log through them. A value JSON has no form for (a date) is
written as its text.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(doc: Any) -> str:
    """A document as printed or saved, ending with a newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True, default=str) + "\n"


def canonical(doc: Any) -> str:
    """The one text of a document that a checksum is taken over: compact, keys sorted."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)


def line(doc: Any) -> str:
    """A document as one line of a JSON-lines file (journals, the apply lock)."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=True, default=str) + "\n"
