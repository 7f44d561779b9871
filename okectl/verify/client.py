"""The HTTP side of verify: one client per supplier, within that supplier's limits.

Every request a check sends goes through `SupplierClient.send`, which holds the supplier's
concurrency and request rate (``limits``: one budget for everything okectl sends that
supplier), never retries (a conformance check must see the first answer), and records how
many dependent round trips led up to it, so a run can report its critical path.

Whatever an endpoint sends is bounded: `read_bounded` reads one answer within one deadline
for the whole of it (headers and body, however the bytes trickle in) and within a size
limit counted both on the wire and decoded, so a gzip bomb, an endless body or a slow-loris
answer ends as a failure that names the limit, never as a memory error or a hung run.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from okectl.model.redaction import scrub
from okectl.providers.http.transport import (
    ACCEPT_ENCODING,
    AnswerDeadline,
    AnswerRefused,
    RateLimiter,
    Sender,
    Session,
    send_bounded,
)
from okectl.verify.model import Excerpt

EXCERPT_CHARS = 400
# An OKE answer is a page of at most a few hundred items: megabytes are already hostile.
MAX_COMPRESSED_BYTES = 16 * 1024 * 1024
MAX_DECODED_BYTES = 16 * 1024 * 1024
# Token fields of an OAuth answer: hidden whatever their value, in raw text too.
_TOKEN_VALUE = re.compile(r'("(?:access|refresh|id)_token"\s*:\s*")[^"]*(")')


class AnswerLimit(Exception):
    """An answer that passed one of verify's limits (okectl's rules, not the profile's)."""


async def read_bounded(
    client: Sender,
    request: httpx.Request,
    *,
    deadline: float,
    deadline_name: str = "the deadline",
    max_compressed: int = MAX_COMPRESSED_BYTES,
    max_decoded: int = MAX_DECODED_BYTES,
) -> tuple[httpx.Response, bytes]:
    """Send ``request`` and read its whole answer, decoded, within the limits: the
    transport's one bounded read (`send_bounded`), its refusals said as verify's failures.

    ``deadline`` is a `time.monotonic()` instant by which the answer must be complete:
    one deadline for headers and body together, so an answer that trickles in a byte at a
    time ends at the deadline like one that never starts. Raises `AnswerLimit` naming the
    limit passed; transport errors are httpx's."""
    started = time.monotonic()
    remaining = deadline - started
    if remaining <= 0:
        raise AnswerLimit(f"not sent: {deadline_name} had passed")
    try:
        response = await send_bounded(
            client, request, max_bytes=max_compressed, max_decoded=max_decoded, seconds=remaining
        )
    except AnswerDeadline:
        waited = time.monotonic() - started
        raise AnswerLimit(f"no whole answer within {deadline_name} (waited {waited:.2f} s)") from None
    except AnswerRefused as exc:
        raise AnswerLimit(f"the endpoint {exc}") from None
    return response, response.content


# Between texts cleaned together: no secret's form can reach across it.
_SEPARATOR = "\x00\x1e\x00"


def scrub_texts(texts: list[str], secrets: Iterable[str]) -> list[str]:
    """Every text through `scrub`, in one call: its cost is per call and per secret, not per
    character, so a report's thousands of strings are cleaned together."""
    hidden = [s for s in secrets if s]
    if not texts or not hidden:
        return list(texts)
    if any(_SEPARATOR in text for text in texts):
        return [scrub(text, hidden) for text in texts]
    cleaned = scrub(_SEPARATOR.join(texts), hidden).split(_SEPARATOR)
    if len(cleaned) != len(texts):  # a secret's form spanning texts: clean them one by one
        return [scrub(text, hidden) for text in texts]
    return cleaned


@dataclass(slots=True)
class Exchange:
    """One request and its answer (or why there is none: a transport error, or a limit of
    okectl's that the answer passed)."""

    method: str
    url: str
    depth: int  # dependent round trips up to and including this one
    status: int | None = None
    headers: httpx.Headers | None = None
    content: bytes = b""
    error: str | None = None
    # Set when the answer passed a limit (too large, too slow): a failure of the endpoint.
    limit: str | None = None
    elapsed: float = 0.0

    @property
    def line(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def content_type(self) -> str:
        return str((self.headers or httpx.Headers()).get("content-type", ""))

    @property
    def answered(self) -> bool:
        return self.error is None and self.limit is None

    def json(self) -> Any:
        return json.loads(self.content)

    def excerpt(self, hidden: Iterable[str] = (), body: str | None = None) -> Excerpt:
        """What evidence keeps of this exchange: ``body`` (what the check chose to keep, the
        profile's fields of the answer) or else the start of the raw answer, with the client
        secret and tokens (``hidden``) replaced in any form a supplier may echo them in."""
        text = body if body is not None else self.content[: EXCERPT_CHARS * 16].decode("utf-8", "replace")
        # Scrubbed whole before it is cut: a cut through a secret would leave part of it.
        line, content_type, why, text = scrub_texts(
            [self.line, self.content_type, self.limit or self.error or "", text], hidden
        )
        text = _TOKEN_VALUE.sub(r"\1[redacted]\2", text)
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS] + "…"
        return Excerpt(
            request=line, status=self.status, content_type=content_type[:120] or None, body=why or text
        )


class SupplierClient:
    """Sends one supplier's verification requests; shared by all its environments.

    ``timeout`` is the deadline for one whole answer; ``run_deadline`` (a
    `time.monotonic()` instant) the one for the run: no request outlives either."""

    def __init__(
        self,
        *,
        concurrency: int,
        requests_per_second: float,
        timeout: float = 10.0,
        run_deadline: float | None = None,
        run_seconds: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ca_file: str | None = None,
        max_answer_bytes: int = MAX_DECODED_BYTES,
    ) -> None:
        self._semaphore = asyncio.Semaphore(concurrency)
        # A second's worth of requests at once, like the suppliers' own limits.
        self._limiter = RateLimiter(requests_per_second, burst=max(1, int(requests_per_second)))
        # One pool of kept-alive connections for the supplier's endpoints; redirects are
        # never followed (a check must see the answer itself).
        self._client = Session(
            connections=concurrency,
            # The deadline for the whole answer is read_bounded's; the per-phase timeouts
            # only back it up.
            timeout=timeout,
            headers={"User-Agent": "okectl", "Accept-Encoding": ACCEPT_ENCODING},
            transport=transport,
            ca_file=ca_file,
        )
        self.timeout = timeout
        self.run_deadline = run_deadline
        self.run_seconds = run_seconds
        self.max_answer_bytes = max_answer_bytes
        self.sent = 0
        self.max_depth = 0

    def _deadline(self) -> tuple[float, str]:
        own = time.monotonic() + self.timeout
        if self.run_deadline is not None and self.run_deadline < own:
            return self.run_deadline, f"the run's deadline of {self.run_seconds:g} s"
        return own, f"the deadline of {self.timeout:g} s per answer"

    async def send(
        self,
        method: str,
        url: str,
        *,
        after: int = 0,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Exchange:
        """Send one request; ``after`` is the depth of the exchange it depended on."""
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        content: bytes | None = None
        if json_body is not None:
            content = json.dumps(json_body).encode()
            sent_headers["Content-Type"] = content_type or "application/json"
        exchange = Exchange(method, url, after + 1)
        self.max_depth = max(self.max_depth, exchange.depth)
        async with self._semaphore:
            await self._limiter.acquire()
            started = time.monotonic()
            deadline, name = self._deadline()
            try:
                request = self._client.request(method, url, headers=sent_headers, content=content, form=form)
                if deadline > started:
                    self.sent += 1
                resp, body = await read_bounded(
                    self._client,
                    request,
                    deadline=deadline,
                    deadline_name=name,
                    max_compressed=self.max_answer_bytes,
                    max_decoded=self.max_answer_bytes,
                )
            except AnswerLimit as exc:
                exchange.limit = str(exc)
                return exchange
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                exchange.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                return exchange
            finally:
                exchange.elapsed = time.monotonic() - started
        exchange.status = resp.status_code
        exchange.headers = resp.headers
        exchange.content = body
        return exchange

    async def aclose(self) -> None:
        await self._client.aclose()
