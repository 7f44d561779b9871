"""What a request folder and the record keep of a client secret: never the value, only a
salted, slow digest of it, to tell later whether the value moved on.

The record is committed; an unsalted hash of a weak secret would be quick to guess from
git history, so the digest is PBKDF2 with a salt of its own, as a saved plan's digests are.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

ROUNDS = 20_000
PREFIX = "pbkdf2-sha256"


def secret_digest(value: str, salt: str | None = None) -> str:
    """``pbkdf2-sha256:<rounds>:<salt>:<hash>`` of ``value``, with a new salt unless given."""
    salt = salt or secrets.token_hex(16)
    return f"{PREFIX}:{ROUNDS}:{salt}:{_derive(value, salt, ROUNDS)}"


def digest_matches(value: str, digest: str) -> bool:
    """Whether ``value`` is the secret ``digest`` was made of."""
    prefix, _, rest = digest.partition(":")
    rounds, _, rest = rest.partition(":")
    salt, _, expected = rest.partition(":")
    if prefix != PREFIX or not rounds.isdigit() or not (1 <= int(rounds) <= 1_000_000):
        return False
    return hmac.compare_digest(_derive(value, salt, int(rounds)), expected)


@lru_cache(maxsize=1024)
def _derive(value: str, salt: str, rounds: int) -> str:
    # Cached: a plan checks every client of a supplier, and clients often share a secret.
    try:
        raw = bytes.fromhex(salt)
    except ValueError:
        return ""
    return hashlib.pbkdf2_hmac("sha256", value.encode("utf-8"), raw, rounds).hex()
