"""Keeping a secret's value out of everything okectl shows or keeps: the ``(sensitive)``
markers, redacting a resource's secret fields, and scrubbing a text of every form a
supplier may echo a value back in. Pure functions of text: no I/O, so the plan's types
and every view may use them (reading a secret reference is ``okectl.model.secrets``).
"""

from __future__ import annotations

import base64
import functools
import html
import html.entities
import json
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from okectl.model.resources import SENSITIVE, Kind

SENSITIVE_TEXT = "(sensitive)"
SENSITIVE_CHANGE = "(sensitive) changed"


def redact_spec(kind: Kind, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy fit for output: secret fields replaced by the marker, never their value."""
    if spec is None:
        return None
    hidden = SENSITIVE[kind]
    if not hidden and "secret_fingerprint" not in spec:
        return spec
    return {
        k: (SENSITIVE_TEXT if v is not None else None) if (k in hidden or k == "secret_fingerprint") else v
        for k, v in spec.items()
    }


# --- scrubbing: a secret never comes back out, in any form a supplier may echo it in ------
#
# Two steps, so that no form is missed however it is written:
#
# 1. Detection over decoded views. The text is decoded step by step (backslash escapes such
#    as \uXXXX and \/, HTML entities, percent-encoding), round after round until nothing
#    changes, and every view on the way is searched for each secret's forms: the value,
#    base64 (standard and URL-safe, the value at each of the three byte offsets a prefix can
#    put it at, so base64 of "Authorization: Bearer <token>" is found), hex, and those of
#    its URL-encoded, JSON- and HTML-escaped spellings (a form body, a JSON body encoded
#    whole). Whitespace is ignored inside base64 and hex (wrapped lines).
# 2. Cutting out. Each form found is matched in the original text with a pattern that
#    accepts each character in any of its escapes (%2F, &#47;, &sol;, \u002f, \/, …); a
#    base64 match is widened to its whole run, whose edge characters carry bits of the
#    value too. The result is checked again, and a text that still reveals a secret (a
#    form only nested decoding shows, such as a value URL-encoded twice) is withheld whole.
#
# A value shorter than MIN_SCRUB_CHARS is no secret worth the name, and its encoded forms
# are a handful of characters that occur in unrelated text (four base64 characters match
# one word in ~17 million): it is hidden only where it stands as a whole word, raw or
# escaped. Secrets okectl sends are expected to be far longer (an OAuth client secret or
# an access token).

MIN_SCRUB_CHARS = 6
WITHHELD_TEXT = f"{SENSITIVE_TEXT} withheld whole: it echoes a secret in a form okectl cannot cut out"

_B64_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_CHARS = frozenset(_B64_STD + "-_=")
# Characters a base64 run may be written with once escaped (JSON's \/, URL-encoding).
_B64_ESCAPES = ("\\/", "%2B", "%2b", "%2F", "%2f", "%3D", "%3d")
# Between two characters of a base64 or hex form: wrapped lines, raw or JSON-escaped.
_GAP = r"(?:\s|\\[rnt])*"
_BACKSLASH = re.compile(
    r"\\u([0-9a-fA-F]{4})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?|\\x([0-9a-fA-F]{2})|\\([\\/\"'bfnrt])"
)
_SHORT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MAX_ROUNDS = 4


def _unbackslash_one(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        high = int(m.group(1), 16)
        if m.group(2) is not None and 0xD800 <= high < 0xDC00:
            low = int(m.group(2), 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        return chr(high) + (chr(int(m.group(2), 16)) if m.group(2) is not None else "")
    if m.group(3) is not None:
        return chr(int(m.group(3), 16))
    c = m.group(4)
    return _SHORT_ESCAPES.get(c, c)


# Backslash escapes other than \" and \\: those two alone change nothing a search needs, as
# each secret's JSON spelling is searched as it is (and a JSON body has them in every ETag).
_RARE_ESCAPE = re.compile(r"\\[uUxX/bfnrt]")


def _unbackslash(text: str) -> str:
    if "\\" not in text or not _RARE_ESCAPE.search(text):
        return text
    return _BACKSLASH.sub(_unbackslash_one, text)


def _compact(text: str) -> str:
    # str.replace, not a regular expression: this runs over whole answers.
    for c in " \r\n\t\f\v":
        if c in text:
            text = text.replace(c, "")
    return text


def _unpercent(text: str) -> str:
    return urllib.parse.unquote(text) if "%" in text else text


def _unentity(text: str) -> str:
    return html.unescape(text) if "&" in text else text


_DECODERS = (_unbackslash, _unentity, _unpercent)


def _views(text: str) -> list[str]:
    """The text and every decoding of it on the way to a fixed point."""
    views = [text]
    current = text
    for _ in range(_MAX_ROUNDS):
        before = current
        for decode in _DECODERS:
            decoded = decode(current)
            if decoded != current:
                views.append(decoded)
                current = decoded
        if current == before:
            break
    return views


@functools.cache
def _entity_names() -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {}
    for name, value in html.entities.html5.items():
        if len(value) == 1:
            names.setdefault(value, []).append(name)
    return {c: tuple(n) for c, n in names.items()}


def _char_pattern(c: str) -> str:
    """Every way one character may be written in echoed text, as a regular expression."""
    code = ord(c)
    forms = [re.escape(c)]
    utf8 = c.encode("utf-8", "surrogatepass")
    forms.append("(?i:" + "".join(f"%{b:02x}" for b in utf8) + ")")
    if c == " ":
        forms.append(r"\+")
    forms.append(f"&#0*{code};?")
    forms.append(f"(?i:&#x0*{code:x};?)")
    forms.extend(re.escape("&" + name) for name in _entity_names().get(c, ()))
    # Backslash escapes, themselves escaped any number of times (\\u0041 in a raw JSON body).
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(f"(?i:\\\\+u{high:04x}\\\\+u{low:04x})")
    else:
        forms.append(f"(?i:\\\\+u{code:04x})")
    if code < 0x100:
        forms.append(f"(?i:\\\\+x{code:02x})")
    if c in "\\/\"'":
        forms.append("\\\\+" + re.escape(c))
    short = {v: k for k, v in _SHORT_ESCAPES.items()}.get(c)
    if short is not None:
        forms.append("\\\\+" + short)
    return "(?:" + "|".join(forms) + ")"


def _spellings(secret: str) -> tuple[str, ...]:
    """What a request may carry a value as before a supplier encodes it again: the value,
    URL-encoded (a form or query), JSON- or HTML-escaped (a JSON or HTML body)."""
    quoted = urllib.parse.quote(secret, safe="")
    forms = (
        secret,
        urllib.parse.quote_plus(secret),
        quoted,
        urllib.parse.quote(secret, safe="/"),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        html.escape(secret),
    )
    return tuple(dict.fromkeys(forms))


def _base64_cores(data: bytes) -> list[str]:
    """For each of the three byte offsets ``data`` can start at in a longer string, the
    base64 characters that depend on ``data`` alone (standard and URL-safe alphabets)."""
    cores: list[str] = []
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data).decode("ascii")
        # Character i holds bits 6i..6i+5: it is the value's alone when those bits lie
        # within the value's bytes (from bit 8k to bit 8(k+len)).
        start, end = -(-8 * k // 6), 8 * (k + len(data)) // 6
        core = encoded[start:end]
        cores.append(core)
        cores.append(core.replace("+", "-").replace("/", "_"))
    return cores


@dataclass(frozen=True, slots=True)
class _Forms:
    """One secret's forms, computed once per value (see the section's comment)."""

    plain: tuple[str, ...]  # searched in every view
    compact: tuple[str, ...]  # base64, searched in views without whitespace
    hexes: tuple[str, ...]  # lower-case hex, searched in lower-cased compact views
    word: re.Pattern[str] | None  # a short value: as a whole word only

    def found_in(self, views: list[str], compact: list[str]) -> list[str]:
        if self.word is not None:
            return ["word"] if any(self.word.search(v) for v in views) else []
        found = [f for f in self.plain if any(f in v for v in views)]
        found += [f for f in self.compact if any(f in v for v in compact)]
        if self.hexes:
            lowered = [v.lower() for v in compact]
            found += [f for f in self.hexes if any(f in v for v in lowered)]
        return found


@functools.lru_cache(maxsize=4096)
def _forms(secret: str) -> _Forms:
    if len(secret) < MIN_SCRUB_CHARS:
        edge = r"[A-Za-z0-9]"
        word = re.compile(f"(?<!{edge}){re.escape(secret)}(?!{edge})")
        return _Forms((), (), (), word)
    spellings = _spellings(secret)
    plain = tuple(dict.fromkeys((*spellings, secret.replace(" ", "+"))))
    compact: list[str] = []
    hexes: list[str] = []
    for s in spellings:
        data = s.encode("utf-8", "surrogatepass")
        compact.extend(_base64_cores(data))
        hexes.append(data.hex())
    return _Forms(plain, tuple(dict.fromkeys(compact)), tuple(dict.fromkeys(hexes)), None)


@functools.lru_cache(maxsize=16384)
def _cut_pattern(form: str, kind: str) -> re.Pattern[str]:
    """``form`` with each character in any of its escapes; in base64 and hex, with line
    breaks between characters, and hex in either case."""
    if kind == "hex":
        parts = [
            f"(?:{_char_pattern(c)}|{_char_pattern(c.upper())})" if c.isalpha() else _char_pattern(c)
            for c in form
        ]
    else:
        parts = [_char_pattern(c) for c in form]
    return re.compile((_GAP if kind != "plain" else "").join(parts))


def _widen_base64(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole base64 run around text[start:end]: its edge characters carry bits of the
    value too."""
    while start > 0:
        if text[start - 1] in _B64_CHARS:
            start -= 1
        elif text[max(0, start - 2):start] == "\\/":
            start -= 2
        elif text[max(0, start - 3):start] in _B64_ESCAPES:
            start -= 3
        else:
            break
    n = len(text)
    while end < n:
        if text[end] in _B64_CHARS:
            end += 1
        elif text.startswith("\\/", end):
            end += 2
        elif text[end:end + 3] in _B64_ESCAPES:
            end += 3
        else:
            break
    return start, end


# Above this many forms (some fifty secrets' worth), a text is searched for all of them in
# one pass over an index, not form by form: an apply that writes thousands of client secrets
# checks every answer against all of them. Searching form by form costs per form and per
# character, the index per character alone (more, in Python, than a form's substring
# search): a long text (a listing page) takes the index only from several times as many.
_INDEXED_FROM = 256
_INDEXED_FROM_LONG = 2048
_LONG_TEXT = 4096


def _size(forms: tuple[_Forms, ...]) -> int:
    return sum(len(f.plain) + len(f.compact) + len(f.hexes) for f in forms)


class _Index:
    """Every form of a growing list of secrets, by its first MIN_SCRUB_CHARS characters
    (no form of a secret that long is shorter). Append-only, so the scrubbers of one
    ``with_secrets`` chain share it: each reads only the entries of its own first
    ``count`` secrets."""

    __slots__ = ("compact", "count", "hexes", "plain")

    def __init__(self) -> None:
        self.plain: dict[str, list[tuple[int, str]]] = {}
        self.compact: dict[str, list[tuple[int, str]]] = {}
        self.hexes: dict[str, list[tuple[int, str]]] = {}
        self.count = 0

    def add(self, forms: _Forms) -> None:
        ordinal = self.count
        self.count += 1
        tables = ((self.plain, forms.plain), (self.compact, forms.compact), (self.hexes, forms.hexes))
        for table, found in tables:
            for form in found:
                table.setdefault(form[:MIN_SCRUB_CHARS], []).append((ordinal, form))

    @staticmethod
    def search(
        table: dict[str, list[tuple[int, str]]], views: list[str], count: int, found: dict[int, list[str]]
    ) -> None:
        """Each form of ``table`` (of the first ``count`` secrets) that occurs in a view,
        added to ``found`` under its secret's ordinal."""
        n = MIN_SCRUB_CHARS
        for view in views:
            for gram in {view[i:i + n] for i in range(len(view) - n + 1)}:
                for ordinal, form in table.get(gram, ()):
                    if ordinal < count and form not in found.get(ordinal, ()) and form in view:
                        found.setdefault(ordinal, []).append(form)


class Scrubber:
    """Hides a fixed set of secrets in any text, in every form a supplier may echo them
    in. Build one per set of secrets and call it on every text: each value's forms are
    computed once (and cached across scrubbers)."""

    __slots__ = ("_forms", "_index", "_secrets", "_size")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = tuple(dict.fromkeys(s for s in secrets if s))
        self._forms = tuple(_forms(s) for s in self._secrets)
        self._size = _size(self._forms)
        self._index: _Index | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def with_secrets(self, more: Iterable[str | None]) -> Scrubber:
        """A scrubber that hides these values as well."""
        known = set(self._secrets)
        added = tuple(dict.fromkeys(s for s in more if s and s not in known))
        # Built from this one's forms, not afresh: a provider widens its scrubber with each
        # secret it writes, thousands in an apply.
        wider = Scrubber()
        wider._secrets = self._secrets + added
        wider._forms = self._forms + tuple(_forms(s) for s in added)
        wider._size = self._size + _size(wider._forms[len(self._forms):])
        index = self._index
        if index is not None and index.count == len(self._forms):
            # This scrubber's secrets come first in the wider one: its index grows.
            for forms in wider._forms[len(self._forms):]:
                index.add(forms)
            wider._index = index
        return wider

    def reveals(self, text: str) -> bool:
        """Whether ``text`` shows any of the secrets, in any form this scrubber knows."""
        return bool(self._found(text))

    def _found(self, text: str) -> list[tuple[_Forms, list[str]]]:
        if not self._forms or not text:
            return []
        views = _views(text)
        compact = [_compact(v) for v in views]
        if self._size >= (_INDEXED_FROM if len(text) < _LONG_TEXT else _INDEXED_FROM_LONG):
            return self._found_indexed(views, compact)
        found = []
        for forms in self._forms:
            hits = forms.found_in(views, compact)
            if hits:
                found.append((forms, hits))
        return found

    def _found_indexed(self, views: list[str], compact: list[str]) -> list[tuple[_Forms, list[str]]]:
        index = self._index
        if index is None or index.count < len(self._forms):
            index = _Index()
            for forms in self._forms:
                index.add(forms)
            self._index = index
        count = len(self._forms)
        hits: dict[int, list[str]] = {}
        index.search(index.plain, views, count, hits)
        index.search(index.compact, compact, count, hits)
        if index.hexes:
            index.search(index.hexes, [v.lower() for v in compact], count, hits)
        for ordinal, forms in enumerate(self._forms):
            if forms.word is not None and any(forms.word.search(v) for v in views):
                hits[ordinal] = ["word"]
        return [(self._forms[ordinal], found) for ordinal, found in sorted(hits.items())]

    def __call__(self, text: str) -> str:
        found = self._found(text)
        if not found:
            return text
        spans: list[tuple[int, int]] = []
        for forms, hits in found:
            if forms.word is not None:
                spans.extend(m.span() for m in forms.word.finditer(text))
                continue
            for form in hits:
                kind = "b64" if form in forms.compact else "hex" if form in forms.hexes else "plain"
                for m in _cut_pattern(form, kind).finditer(text):
                    spans.append(_widen_base64(text, *m.span()) if kind == "b64" else m.span())
        out = _replace(text, spans)
        # Checked again: a form only nested decoding shows is not cut out above.
        return WITHHELD_TEXT if self._found(out) else out


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (overlapping or touching ones as one) replaced by the marker."""
    parts: list[str] = []
    pos = 0
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        parts.append(text[pos:start])
        parts.append(SENSITIVE_TEXT)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by the marker, in any form it may be echoed in
    (see Scrubber; build one Scrubber for many texts)."""
    return Scrubber(secrets)(text)
