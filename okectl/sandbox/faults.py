"""Fault and latency injection, off by default.

A thin ASGI layer in front of the supplier API (not the `/_sandbox` admin endpoints), so
tests and benchmarks can make the sandbox slow, flaky or throttled, at start-up or at run
time through ``POST /_sandbox/faults``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/_sandbox"


class DroppedConnection(Exception):
    """Raised after a partial response so the server closes the connection mid-body."""


@dataclass
class Faults:
    """What to inject. Rates are fractions of matching requests; ``*_next`` counters make a
    fault happen for exactly the next N matching requests, which keeps tests deterministic."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0  # 503 Service Unavailable
    fail_next: int = 0
    fail_status: int = 503
    throttle_rate: float = 0.0  # 429 Too Many Requests with Retry-After
    throttle_next: int = 0
    retry_after: int = 1  # seconds, in Retry-After of 429 (and 503 when > 0)
    rate_limit: float = 0.0  # requests per second per supplier; 0 means unlimited
    drop_rate: float = 0.0  # close the connection halfway through the response
    drop_next: int = 0
    slow_rate: float = 0.0  # send the response body slowly
    slow_ms: float = 0.0
    match: str = ""  # only requests whose path contains this text
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        out = cls()
        for name, value in data.items():
            current = getattr(out, name)
            if name == "seed":
                if value is not None and not isinstance(value, int):
                    raise ValueError("seed must be an integer")
            elif name == "match":
                if not isinstance(value, str):
                    raise ValueError("match must be a string")
            elif isinstance(current, int) and not isinstance(current, bool):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer")
            elif isinstance(current, float):
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a non-negative number")
                if name.endswith("_rate") and name != "rate_limit" and value > 1:
                    raise ValueError(f"{name} is a fraction between 0 and 1")
                value = float(value)
            setattr(out, name, value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """ASGI middleware applying the current `Faults`; also counts requests per supplier."""

    def __init__(self, app: ASGIApp, faults: Faults | None = None) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._tat: dict[str, float] = {}

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._tat.clear()

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def _decide(self, path: str) -> tuple[str | None, float]:
        """The fault for this request, if any, and the Retry-After to send with it."""
        f = self.faults
        with self._lock:
            supplier = path.split("/")[2] if path.startswith("/s/") and path.count("/") >= 2 else "-"
            self.requests[supplier] += 1
            if f.match and f.match not in path:
                return None, 0
            if f.rate_limit > 0:
                # Generic cell rate algorithm: a burst of one second's worth, then steady.
                now = time.monotonic()
                interval = 1.0 / f.rate_limit
                tat = max(self._tat.get(supplier, now), now)
                if tat + interval - now > 1.0:
                    return "throttle", max(1.0, tat + interval - now - 1.0)
                self._tat[supplier] = tat + interval
            if f.throttle_next > 0:
                f.throttle_next -= 1
                return "throttle", f.retry_after
            if f.fail_next > 0:
                f.fail_next -= 1
                return "fail", f.retry_after
            if f.drop_next > 0:
                f.drop_next -= 1
                return "drop", 0
            roll = self._rng.random()
            for name, rate in (("throttle", f.throttle_rate), ("fail", f.fail_rate), ("drop", f.drop_rate)):
                if roll < rate:
                    return name, f.retry_after
                roll -= rate
            if f.slow_rate > 0 and self._rng.random() < f.slow_rate:
                return "slow", 0
        return None, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._handle(scope, receive, send, path)
        finally:
            self.in_flight -= 1

    async def _handle(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        faults = self.faults
        fault, retry_after = self._decide(path)
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if fault in ("throttle", "fail"):
            status = 429 if fault == "throttle" else faults.fail_status
            title = "Too Many Requests" if fault == "throttle" else "Service Unavailable"
            await _problem(send, status, title, retry_after if (fault == "throttle" or retry_after) else None)
            return
        if fault == "drop":
            await self.app(scope, receive, _dropping(send, f"{scope.get('method', '')} {path}"))
            return
        if fault == "slow":
            await self.app(scope, receive, _slow(send, faults.slow_ms / 1000))
            return
        await self.app(scope, receive, send)


async def _problem(send: Send, status: int, title: str, retry_after: float | None) -> None:
    import json

    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": "injected by the sandbox"}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(0, round(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _dropping(send: Send, what: str) -> Send:
    """Send the headers and half the body, then fail: the server drops the connection.
    An answer without a body (a 204) is dropped before its headers, or it would arrive whole."""
    start: list[Message] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.append(message)
            return
        if message["type"] == "http.response.body":
            body: bytes = message.get("body", b"")
            if not body:
                raise DroppedConnection(what)
            await send(start.pop())
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise DroppedConnection(what)
        await send(message)

    return wrapped


def _slow(send: Send, total_seconds: float) -> Send:
    """Trickle the body out in ten pieces over ``total_seconds``."""

    async def wrapped(message: Message) -> None:
        if message["type"] != "http.response.body" or message.get("more_body"):
            await send(message)
            return
        body: bytes = message.get("body", b"")
        pieces = 10
        size = max(1, -(-len(body) // pieces))
        chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
        for i, chunk in enumerate(chunks):
            await asyncio.sleep(total_seconds / len(chunks))
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    return wrapped
