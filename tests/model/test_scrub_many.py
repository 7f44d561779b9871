"""A scrubber of thousands of secrets (an apply that writes as many client secrets) finds
and cuts each of them as one of a single secret does, in every encoding; each scrubber of a
``with_secrets`` chain knows its own secrets and no later one."""

from __future__ import annotations

import pytest

from okectl.model.redaction import SENSITIVE_TEXT, Scrubber
from tests.support.encodings import ENCODINGS, readable

MANY = [f"client-secret-{i:04d}-Zq7/+x" for i in range(2000)]


@pytest.fixture(scope="module")
def many() -> Scrubber:
    return Scrubber(MANY)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("which", [0, 1234, 1999])
def test_each_of_many_secrets_is_cut_out_in_any_encoding_as_by_a_scrubber_of_it_alone(
    many: Scrubber, encoding: str, which: int
) -> None:
    secret = MANY[which]
    text = "supplier says: " + ENCODINGS[encoding]("client_secret=" + secret + "&next=1") + " (end)"
    assert readable(secret, text)
    assert many.reveals(text)
    out = many(text)
    assert out == Scrubber([secret])(text)
    assert not readable(secret, out) and SENSITIVE_TEXT in out


def test_a_text_without_any_of_them_is_left_as_it_is(many: Scrubber) -> None:
    text = '{"kind": "client", "secret_fingerprint": "sha256:00ff", "etag": "W/\\"1\\""}'
    assert not many.reveals(text)
    assert many(text) == text


def test_a_chain_of_with_secrets_knows_its_own_secrets_and_no_later_one() -> None:
    first = Scrubber(MANY[:300])
    assert first.reveals("x " + MANY[10])  # builds the index the chain then grows
    wider = first.with_secrets(MANY[300:600])
    widest = wider.with_secrets(MANY[600:900])
    assert widest.reveals(MANY[800]) and widest.reveals(MANY[10])
    assert wider.reveals(MANY[500]) and not wider.reveals(MANY[800])
    assert not first.reveals(MANY[500]) and not first.reveals(MANY[800])
    # A branch of the chain, grown from the same scrubber, is not confused with the other.
    branch = first.with_secrets(["another-secret-entirely"])
    assert branch.reveals("another-secret-entirely") and not branch.reveals(MANY[500])
    assert not wider.reveals("another-secret-entirely")
