"""The scrubber cannot miss a form: whatever a supplier does to a secret it echoes (raw,
escaped, URL-encoded, base64 at any byte offset, hex, HTML entities), the secret does not
come back out. The checks decode what is left with their own decoders, independently of
the scrubber's."""

from __future__ import annotations

import base64
import binascii
import html
import html.entities
import json
import re
import urllib.parse
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from okectl.model.secrets import MIN_SCRUB_CHARS, SENSITIVE_TEXT, WITHHELD_TEXT, Scrubber, scrub

Encoding = Callable[[str], str]


def _b64(alphabet: str, padded: bool) -> Encoding:
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
    "base64": _b64("std", True),
    "base64-unpadded": _b64("std", False),
    "base64url": _b64("url", True),
    "base64url-unpadded": _b64("url", False),
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


# --- every encoding, every offset ------------------------------------------------------

SECRET = 'Pa ss+wo/rd"é?~>&=x'
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJva2VjdGwifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("prefix", ["", "x", "xy", "Authorization: Bearer ", "body=", "client_secret="])
def test_a_secret_behind_any_prefix_in_any_encoding_is_cut_out(encoding: str, prefix: str) -> None:
    echoed = ENCODINGS[encoding](prefix + SECRET + "&next=1")
    assert readable(SECRET, echoed), "the test's own decoders must see the planted secret"
    out = scrub(f"supplier says: {echoed} (end)", [SECRET])
    assert not readable(SECRET, out), out
    assert out.startswith("supplier says: ") and out.endswith(" (end)"), out
    assert SENSITIVE_TEXT in out


@pytest.mark.parametrize("offset", [0, 1, 2])
@pytest.mark.parametrize("alphabet", ["std", "url"])
@pytest.mark.parametrize("padded", [True, False])
def test_base64_at_each_byte_offset_is_found_whole(offset: int, alphabet: str, padded: bool) -> None:
    echoed = _b64(alphabet, padded)("#" * offset + TOKEN)
    out = scrub(f"[{echoed}]", [TOKEN])
    # The whole run goes: its edge characters carry bits of the token too.
    assert out == f"[{SENSITIVE_TEXT}]"


def test_every_form_at_once_in_one_text() -> None:
    """A supplier that echoes the request in every encoding at once, in one body."""
    body = "client_secret=" + urllib.parse.quote_plus(SECRET)
    request = f"POST /oauth/token\r\nAuthorization: Bearer {TOKEN}\r\n\r\n{body}"
    forms = [enc(p + request) for enc in ENCODINGS.values() for p in ("", "a", "ab")]
    text = json.dumps({"title": "Bad Request", "detail": " | ".join(forms)})
    scrubber = Scrubber([SECRET, TOKEN])
    out = scrubber(text)
    assert out != WITHHELD_TEXT
    assert not readable(SECRET, out) and not readable(TOKEN, out)
    assert not scrubber.reveals(out)
    assert '"title": "Bad Request"' in out


def test_a_form_only_nested_decoding_shows_is_withheld_whole() -> None:
    # URL-encoded inside HTML entities inside base64 of a JSON string: no single pattern
    # matches it, but decoding the text shows it.
    nested = "".join(f"&#{ord(c)};" for c in urllib.parse.quote(urllib.parse.quote(SECRET, safe=""), safe=""))
    out = scrub(f"detail: {nested}", [SECRET])
    assert not readable(SECRET, out)


# --- property tests --------------------------------------------------------------------

secrets_ = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=MIN_SCRUB_CHARS,
    max_size=40,
).filter(lambda s: s.strip() == s and len(s.strip()) >= MIN_SCRUB_CHARS)
around = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    secret=secrets_,
    prefix=around,
    suffix=around,
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
@example(secret="s3cr3t-value", prefix="Authorization: Bearer ", suffix="", encoding="base64")
@example(secret="api+s3cr3t/value&more=x", prefix="body=", suffix="&a=b", encoding="base64url-unpadded")
def test_property_no_secret_survives_any_encoding(
    secret: str, prefix: str, suffix: str, encoding: str
) -> None:
    echoed = ENCODINGS[encoding](prefix + secret + suffix)
    assume(readable(secret, echoed))
    # A value that is part of the marker's own words would be "shown" by the marker.
    assume(not readable(secret, WITHHELD_TEXT) and not readable(secret, "said:  :end"))
    out = scrub(f"said: {echoed} :end", [secret])
    assert not readable(secret, out), (echoed, out)


WORDS = [
    "supplier", "delta", "listing", "tenants", "failed:", "500", "Internal", "Server", "Error",
    "contact", "support@delta.example", '{"title":', '"detail":', "page_size=1000", "21RC",
    "production", "eduplan", "YWJj", "0123abcd", "&amp;", "%2F", "\\u0041",
]
TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet=TOKEN_CHARS, min_size=16, max_size=48),
    words=st.lists(st.sampled_from(WORDS), max_size=30),
)
def test_property_text_without_the_secret_is_left_alone(secret: str, words: list[str]) -> None:
    text = " ".join(words)
    assume(secret not in text)
    assert scrub(text, [secret]) == text


def test_a_short_value_is_hidden_only_as_a_whole_word() -> None:
    """Encoded forms of a value under MIN_SCRUB_CHARS would match unrelated text."""
    short = "ab1"
    text = f"ab1 xab1 ab12 [ab1] {base64.b64encode(b'ab1').decode()}"
    assert scrub(text, [short]) == f"{SENSITIVE_TEXT} xab1 ab12 [{SENSITIVE_TEXT}] YWIx"


def test_a_scrubber_is_built_once_and_grows() -> None:
    scrubber = Scrubber([SECRET, None, ""])
    assert scrubber.secrets == (SECRET,)
    grown = scrubber.with_secrets([TOKEN])
    assert grown(f"{SECRET} {TOKEN}") == f"{SENSITIVE_TEXT} {SENSITIVE_TEXT}"
    assert scrubber(TOKEN) == TOKEN
