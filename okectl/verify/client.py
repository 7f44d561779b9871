"""The HTTP side of verify: one client per supplier, within that supplier's limits.

Every request a check sends goes through `SupplierClient.send`, which holds the supplier's
concurrency and request rate (``api.limits``: one budget for everything okectl sends that
supplier), never retries (a conformance check must see the first answer), and records how
many dependent round trips led up to it, so a run can report its critical path.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from okectl.model.secrets import scrub
from okectl.providers.http.transport import RateLimiter, tls_context
from okectl.verify.model import Excerpt

EXCERPT_CHARS = 400
# Token fields of an OAuth answer: hidden whatever their value.
_TOKEN_VALUE = re.compile(r'("(?:access|refresh|id)_token"\s*:\s*")[^"]*(")')


@dataclass(slots=True)
class Exchange:
    """One request and its answer (or the transport error instead of one)."""

    method: str
    url: str
    depth: int  # dependent round trips up to and including this one
    status: int | None = None
    headers: httpx.Headers | None = None
    content: bytes = b""
    error: str | None = None

    @property
    def line(self) -> str:
        return f"{self.method} {self.url}"

    @property
    def content_type(self) -> str:
        return str((self.headers or httpx.Headers()).get("content-type", ""))

    def json(self) -> Any:
        return json.loads(self.content)

    def excerpt(self, hidden: Iterable[str] = ()) -> Excerpt:
        """What evidence keeps of this exchange: the start of the answer, with the client
        secret and tokens (``hidden``) replaced in any form a supplier may echo them in."""
        # Scrubbed whole before it is cut: a cut through a secret would leave part of it.
        text = scrub(self.content.decode("utf-8", "replace"), hidden)
        text = _TOKEN_VALUE.sub(r"\1[redacted]\2", text)
        if len(text) > EXCERPT_CHARS:
            text = text[:EXCERPT_CHARS] + "…"
        return Excerpt(
            request=self.line,
            status=self.status,
            content_type=self.content_type or None,
            body=self.error or text,
        )


class SupplierClient:
    """Sends one supplier's verification requests; shared by all its environments."""

    def __init__(
        self,
        *,
        concurrency: int,
        requests_per_second: float,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._semaphore = asyncio.Semaphore(concurrency)
        # A second's worth of requests at once, like the suppliers' own limits.
        self._limiter = RateLimiter(requests_per_second, burst=max(1, int(requests_per_second)))
        self._client = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,
            verify=tls_context(),
        )
        self.sent = 0
        self.max_depth = 0

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
            self.sent += 1
            try:
                resp = await self._client.request(
                    method, url, headers=sent_headers, content=content, data=form
                )
            except httpx.HTTPError as exc:
                exchange.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                return exchange
        exchange.status = resp.status_code
        exchange.headers = resp.headers
        exchange.content = resp.content
        return exchange

    async def aclose(self) -> None:
        await self._client.aclose()
