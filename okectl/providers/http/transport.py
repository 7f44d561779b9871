"""The HTTP transport to a supplier's admin API: TLS, rate limiting and the retry policy.

What is safe to retry, what an answer says about whether a write may have happened, and
how long to wait: the rules every request okectl sends to a supplier follows.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import os
import ssl
import time

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# Answers after which a refused request may still have been carried out: the server may
# have acted on it before failing (429 and 401 are refused before anything happens).
MAYBE_APPLIED_STATUSES = frozenset({500, 502, 503, 504})


WRITES = frozenset({"PUT", "DELETE"})


TOKEN_MARGIN_SECONDS = 30.0


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificates always verified: against the standard bundle (or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set), plus a private CA's certificate file when given."""
    return _tls_context(ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _tls_context(ca_file: str | None, _cert_file: str | None, _cert_dir: str | None) -> ssl.SSLContext:
    # Loading the CA bundle takes ~30 ms; a fleet has dozens of suppliers, so load it once
    # per trust setting (the environment's variables are part of the key).
    context = httpx.create_ssl_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


log = logging.getLogger(__name__)


class RateLimiter:
    """Requests per second, allowing ``burst`` at once (generic cell rate algorithm)."""

    def __init__(self, rate: float, burst: int) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._slack = self._interval * max(0, burst - 1)
        self._tat = 0.0

    async def acquire(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        tat = max(self._tat, now)
        self._tat = tat + self._interval
        wait = tat - self._slack - now
        if wait > 0:
            log.debug("rate limit: waiting %.3f s", wait, extra={"wait": wait})
            await asyncio.sleep(wait)


def retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Call:
    """What one provider call's retries went through."""

    __slots__ = ("attempts", "maybe_applied")

    def __init__(self) -> None:
        self.attempts = 0
        # An earlier attempt of this call failed in a way that may have reached the server.
        self.maybe_applied = False
