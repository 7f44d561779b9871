"""Every form a supplier may echo text in, and decoders of them that owe nothing to
okectl's scrubber: the hostile supplier double echoes with ENCODINGS, and tests check
with ``readable`` that no secret can be read back out of what okectl shows or keeps."""

from __future__ import annotations

import base64
import binascii
import html
import html.entities
import json
import re
import urllib.parse
from collections.abc import Callable

Encoding = Callable[[str], str]


def b64(alphabet: str, padded: bool) -> Encoding:
    def encode(text: str) -> str:
        raw = text.encode("utf-8")
        out = base64.urlsafe_b64encode(raw) if alphabet == "url" else base64.b64encode(raw)
        return out.decode().rstrip("=" if not padded else "")

    return encode


def _entities(kind: str) -> Encoding:
    names = {v: k for k, v in html.entities.html5.items() if len(v) == 1 and k.endswith(";")}

    def encode(text: str) -> str:
        if kind == "named":
            return "".join(f"&{names[c]}" if c in names else c for c in text)
        if kind == "decimal":
            return "".join(f"&#{ord(c)};" for c in text)
        return "".join(f"&#x{ord(c):X};" for c in text)

    return encode


def _backslash_u(text: str) -> str:
    # Every character as \uXXXX (a surrogate pair beyond the basic plane), as JSON allows.
    return "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else json.dumps(c)[1:-1] for c in text)


ENCODINGS: dict[str, Encoding] = {
    "raw": lambda t: t,
    "json": lambda t: json.dumps(t)[1:-1],
    "json-slash": lambda t: json.dumps(t)[1:-1].replace("/", "\\/"),
    "json-unicode": lambda t: json.dumps(t, ensure_ascii=False)[1:-1],
    "backslash-u": _backslash_u,
    "url-plus": urllib.parse.quote_plus,
    "url-%20": lambda t: urllib.parse.quote(t, safe=""),
    "url-slash-kept": lambda t: urllib.parse.quote(t, safe="/"),
    "url-lower-hex": lambda t: re.sub(
        r"%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(t, safe="")
    ),
    "base64": b64("std", True),
    "base64-unpadded": b64("std", False),
    "base64url": b64("url", True),
    "base64url-unpadded": b64("url", False),
    "base64-of-url-encoded": lambda t: base64.b64encode(urllib.parse.quote_plus(t).encode()).decode(),
    "base64-of-json": lambda t: base64.b64encode(json.dumps({"secret": t}).encode()).decode(),
    "base64-wrapped": lambda t: "\n".join(re.findall(".{1,76}", base64.b64encode(t.encode()).decode())),
    "hex": lambda t: t.encode().hex(),
    "HEX": lambda t: t.encode().hex().upper(),
    "html-named": _entities("named"),
    "html-decimal": _entities("decimal"),
    "html-hex": _entities("hex"),
    "html-escape": lambda t: html.escape(t),
}


# --- independent decoders: what an attacker could read back out of the scrubbed text ----

_B64_RUN = re.compile(r"[A-Za-z0-9+/=_\-\s]{4,}")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{2,}")


def _base64_decodings(text: str) -> list[bytes]:
    out = []
    for run in _B64_RUN.findall(text.replace("\\/", "/")):
        run = re.sub(r"\s", "", run).replace("-", "+").replace("_", "/").rstrip("=")
        for start in range(4):
            part = run[start:]
            part = part[: len(part) - len(part) % 4] if len(part) % 4 == 1 else part
            try:
                out.append(base64.b64decode(part + "=" * (-len(part) % 4)))
            except (binascii.Error, ValueError):
                continue
    return out


def _hex_decodings(text: str) -> list[bytes]:
    out = []
    for run in _HEX_RUN.findall(text):
        for start in range(2):
            part = run[start:]
            out.append(bytes.fromhex(part[: len(part) - len(part) % 2]))
    return out


def _text_decodings(text: str) -> list[str]:
    unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    unescaped = unescaped.replace("\\/", "/").replace('\\"', '"').replace("\\\\", "\\")
    return [
        text,
        unescaped,
        urllib.parse.unquote(text),
        urllib.parse.unquote_plus(text),
        html.unescape(text),
    ]


def readable(secret: str, text: str) -> bool:
    """Whether the secret can be read back out of ``text`` by decoding it."""
    raw = secret.encode()
    if any(secret in t for t in _text_decodings(text)):
        return True
    for t in _text_decodings(text):
        blobs = _base64_decodings(t) + _hex_decodings(t)
        if any(raw in b or urllib.parse.quote_plus(secret).encode() in b for b in blobs):
            return True
        if any(json.dumps(secret)[1:-1].encode() in b for b in blobs):
            return True
    return False
