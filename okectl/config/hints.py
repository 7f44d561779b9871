"""'Did you mean …?': the one way a message suggests a name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_match(written: str, existing: Iterable[object]) -> str | None:
    """The existing name closest to what was written, if one is close; never what was written
    itself. Pass only names that exist: a suggestion that is itself a typo sends the reader
    from one mistake to another."""
    options = sorted({str(name) for name in existing} - {written})
    close = difflib.get_close_matches(written, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(written: str, existing: Iterable[object]) -> str:
    """``; did you mean 'name'?`` for a message's end, or nothing."""
    close = close_match(written, existing)
    return f"; did you mean {close!r}?" if close is not None else ""
