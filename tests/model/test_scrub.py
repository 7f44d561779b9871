"""The scrubber cannot miss a form: whatever a supplier does to a secret it echoes (raw,
escaped, URL-encoded, base64 at any byte offset, hex, HTML entities), the secret does not
come back out. The checks decode what is left with their own decoders, independently of
the scrubber's."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from okectl.model.redaction import MIN_SCRUB_CHARS, SENSITIVE_TEXT, WITHHELD_TEXT, Scrubber, scrub
from tests.support.encodings import ENCODINGS, b64, readable

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
    echoed = b64(alphabet, padded)("#" * offset + TOKEN)
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
