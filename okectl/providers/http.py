"""The HTTP provider: a supplier administration API (``admin-api.yaml``) over httpx.

Within one supplier, requests share a pooled client, a concurrency bound and a
requests-per-second limit from the supplier's YAML. Reads, and writes made safe by
If-Match / If-None-Match, are retried with exponential backoff and full jitter on
connection failures, timeouts, 429 and 5xx, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import gc
import random
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, Literal

import httpx

from okectl.config.models import Supplier
from okectl.providers.base import ActualResource, PreconditionFailed, ProviderError, Release
from okectl.resources import Address

ReadStrategy = Literal["per-tenant", "all-tenants"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
PAGE_SIZE = 1000
TOKEN_MARGIN_SECONDS = 30.0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a synchronous burst of allocations.

    Decoding a fleet's resources allocates tens of thousands of acyclic dicts; left on, the
    collector would run full passes over everything the process holds (the whole desired
    state) several times over, which costs more than the decoding itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@functools.cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle takes ~30 ms; a fleet has dozens of suppliers, so load it once.
    return httpx.create_ssl_context()


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
            await asyncio.sleep(wait)


def _retry_after(resp: httpx.Response) -> float | None:
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


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _problem_detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.reason_phrase
    if isinstance(data, dict):
        detail = data.get("detail") or data.get("error_description") or data.get("title")
        if isinstance(detail, str):
            return detail
    return resp.reason_phrase


class HttpProvider:
    """One supplier's administration API."""

    def __init__(
        self,
        supplier: Supplier,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        transport: httpx.AsyncBaseTransport | None = None,
        read_strategy: ReadStrategy = "per-tenant",
        apply_limits: bool = True,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 10.0,
        max_retry_after_seconds: float = 60.0,
        page_size: int = PAGE_SIZE,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.supplier = supplier
        limits = supplier.api.limits
        self._api_url = api_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._read_strategy: ReadStrategy = read_strategy
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._max_retry_after = max_retry_after_seconds
        self._page_size = page_size
        self._sleep = sleep or asyncio.sleep
        self._concurrency = limits.concurrency if apply_limits else 64
        self._semaphore = asyncio.Semaphore(self._concurrency)
        # At most `requests_per_second` in any one second: a second's worth may go at once.
        rps = limits.requests_per_second if apply_limits else 0
        self._limiter = RateLimiter(rps, max(self._concurrency, int(rps)))
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()
        self.requests = 0  # every HTTP request sent, retries included
        self._client = httpx.AsyncClient(
            transport=transport,
            verify=_tls() if transport is None else True,
            timeout=httpx.Timeout(supplier.api.timeout_seconds),
            limits=httpx.Limits(
                max_connections=self._concurrency, max_keepalive_connections=self._concurrency
            ),
            headers={"Accept": "application/json", "User-Agent": "okectl"},
        )

    # --- messages ------------------------------------------------------------------------

    def _contact(self) -> str:
        s = self.supplier.support
        parts = [p for p in (s.email, s.url, s.phone) if p]
        return "contact " + (", ".join(parts) if parts else f"{self.supplier.name} support")

    def _fail(
        self,
        what: str,
        problem: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        address: Address | None = None,
        cls: type[ProviderError] = ProviderError,
    ) -> ProviderError:
        where = f"{address}: " if address is not None else ""
        return cls(
            f"{where}supplier {self.supplier.id}: {what} {problem}; {self._contact()}",
            status=status,
            detail=detail,
            address=str(address) if address is not None else None,
        )

    # --- transport -----------------------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        # Full jitter: spreads retries of many parallel requests instead of synchronising them.
        return random.uniform(0, min(self._max_backoff, self._backoff * 2 ** (attempt - 1)))

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if renew:
                self._token = None
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            resp = await self._send(
                "POST",
                self._token_url,
                what="token request",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
                authenticated=False,
            )
            if resp.status_code != 200:
                raise self._fail(
                    "token request",
                    f"was refused ({resp.status_code}: {_problem_detail(resp)}); check api.auth",
                    status=resp.status_code,
                )
            try:
                data = resp.json()
                token = str(data["access_token"])
                ttl = float(data.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError):
                raise self._fail("token request", "returned no access_token") from None
            self._token = token
            self._token_expires = time.monotonic() + max(0.0, ttl - min(TOKEN_MARGIN_SECONDS, ttl / 2))
            return token

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        address: Address | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send with retries. Every request okectl makes is safe to repeat: reads, token
        requests, and writes guarded by If-Match or If-None-Match."""
        if not url.startswith(("http://", "https://")):
            url = self._api_url + url
        attempt = 0
        renewed = False
        last = ""
        status: int | None = None
        while True:
            attempt += 1
            send_headers = dict(headers or {})
            if authenticated:
                send_headers["Authorization"] = "Bearer " + await self._access_token()
            try:
                async with self._semaphore:
                    await self._limiter.acquire()
                    self.requests += 1
                    resp = await self._client.request(
                        method, url, json=json, data=data, params=params, headers=send_headers
                    )
            except httpx.TimeoutException:
                last, status = f"timed out after {self.supplier.api.timeout_seconds:g} s", None
            except httpx.TransportError as exc:
                last, status = f"connection failed ({type(exc).__name__}: {exc})", None
            else:
                if resp.status_code == 401 and authenticated and not renewed:
                    # The token expired or was revoked early: fetch a new one, once.
                    renewed = True
                    attempt -= 1
                    await self._access_token(renew=True)
                    continue
                if resp.status_code not in RETRY_STATUSES:
                    return resp
                status = resp.status_code
                last = f"answered {resp.status_code} {resp.reason_phrase}"
                wait = _retry_after(resp)
                if wait is not None and wait > self._max_retry_after:
                    raise self._fail(
                        what,
                        f"{last} and asks to wait {wait:.0f} s; try again later",
                        status=status,
                        detail=_problem_detail(resp),
                        address=address,
                    )
                if attempt < self._max_attempts:
                    await self._sleep(wait if wait is not None else self._delay(attempt))
                    continue
            if attempt >= self._max_attempts:
                raise self._fail(
                    what, f"failed: {last}; gave up after {attempt} attempts", status=status, address=address
                )
            await self._sleep(self._delay(attempt))

    # --- reading -------------------------------------------------------------------------

    def _actual(self, item: dict[str, Any]) -> ActualResource:
        # Written out per kind: this runs once per resource of the fleet on every plan.
        kind = item["kind"]
        get = item.get
        if kind == "environment":
            address = Address(self.supplier.id, item["tenant"], item["name"])
            spec = {
                "type": get("type"),
                "status": get("status"),
                "function": get("function"),
                "oke_version": get("oke_version"),
                "ooapi_version": get("ooapi_version"),
                "flows": get("flows"),
                "sso": get("sso"),
            }
            extra = {
                "base_url": get("base_url"),
                "created_at": get("created_at"),
                "updated_at": get("updated_at"),
            }
        elif kind == "client":
            address = Address(self.supplier.id, item["tenant"], item["environment"], "client", item["system"])
            spec = {
                "client_id": get("client_id"),
                "scopes": get("scopes"),
                "secret_fingerprint": get("secret_fingerprint"),
            }
            extra = {"created_at": get("created_at"), "updated_at": get("updated_at")}
        else:
            address = Address(self.supplier.id, item["tenant"], item["environment"], "role", item["role"])
            spec = {"name": get("name"), "groups": get("groups")}
            extra = {"created_at": get("created_at"), "updated_at": get("updated_at")}
        return ActualResource(address, spec, item["etag"], get("labels") or {}, extra)

    def _check(self, resp: httpx.Response, what: str, address: Address | None = None) -> Any:
        if resp.status_code == 403:
            raise self._fail(
                what, "was denied (403): the credential has no access to this tenant",
                status=403, detail=_problem_detail(resp), address=address,
            )
        if resp.status_code >= 400:
            raise self._fail(
                what,
                f"failed: {resp.status_code} {resp.reason_phrase}: {_problem_detail(resp)}",
                status=resp.status_code,
                detail=_problem_detail(resp),
                address=address,
            )
        try:
            with _gc_paused():
                return resp.json()
        except ValueError:
            raise self._fail(what, "returned a body that is not JSON", address=address) from None

    async def _pages(self, path: str, what: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": self._page_size}
        while True:
            data = self._check(await self._send("GET", path, what=what, params=params), what)
            items.extend(data["items"])
            token = data.get("next_page_token")
            if not token:
                return items
            params = {"page_size": self._page_size, "page_token": token}

    async def list_tenants(self) -> list[str]:
        data = self._check(await self._send("GET", "/tenants", what="listing tenants"), "listing tenants")
        return [str(t["school"]) for t in data["items"]]

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        wanted = set(schools)
        if not wanted:
            return []
        if self._read_strategy == "all-tenants":
            # One paged listing across tenants: cheapest when requests cost no latency.
            items = await self._pages("/resources", "reading resources")
            with _gc_paused():
                return [self._actual(i) for i in items if i["tenant"] in wanted]
        results = await asyncio.gather(
            *(self._pages(f"/tenants/{s}/resources", f"reading tenant {s}") for s in sorted(wanted))
        )
        with _gc_paused():
            return [self._actual(i) for items in results for i in items]

    async def read(self, address: Address) -> ActualResource | None:
        resp = await self._send("GET", self._path(address), what="reading", address=address)
        if resp.status_code == 404:
            return None
        return self._actual(self._check(resp, "reading", address))

    # --- writing -------------------------------------------------------------------------

    @staticmethod
    def _path(address: Address) -> str:
        base = f"/tenants/{address.school}/environments/{address.environment}"
        if address.kind == "client":
            return f"{base}/clients/{address.name}"
        if address.kind == "role":
            return f"{base}/roles/{address.name}"
        return base

    async def _write(
        self, address: Address, body: dict[str, Any], labels: dict[str, str], condition: dict[str, str]
    ) -> ActualResource:
        action = "create" if "If-None-Match" in condition else "update"
        payload = {**body, "labels": labels}
        before = self.requests
        resp = await self._send(
            "PUT", self._path(address), what=action, address=address, json=payload, headers=condition
        )
        if resp.status_code == 412:
            if self.requests - before > 1:
                # A retried write may have succeeded the first time: check before refusing.
                mine = await self._confirm(address, body, labels)
                if mine is not None:
                    return mine
            raise self._fail(
                action,
                "was refused: it changed at the supplier since it was read (412)",
                status=412,
                detail=_problem_detail(resp),
                address=address,
                cls=PreconditionFailed,
            )
        if resp.status_code == 404 and address.kind != "environment":
            raise self._fail(
                action, f"failed: its environment {address.parent} does not exist (404)",
                status=404, address=address,
            )
        return self._actual(self._check(resp, action, address))

    async def _confirm(
        self, address: Address, body: dict[str, Any], labels: dict[str, str]
    ) -> ActualResource | None:
        current = await self.read(address)
        if current is None or current.labels != labels:
            return None
        for key, value in body.items():
            if key in current.spec and current.spec[key] != value and not isinstance(value, list):
                return None
        return current

    async def create(
        self, address: Address, body: dict[str, Any], labels: dict[str, str]
    ) -> ActualResource:
        return await self._write(address, body, labels, {"If-None-Match": "*"})

    async def update(
        self, address: Address, body: dict[str, Any], labels: dict[str, str], etag: str
    ) -> ActualResource:
        return await self._write(address, body, labels, {"If-Match": etag})

    async def delete(self, address: Address, etag: str) -> None:
        before = self.requests
        resp = await self._send(
            "DELETE", self._path(address), what="delete", address=address, headers={"If-Match": etag}
        )
        if resp.status_code == 204:
            return
        if resp.status_code == 404:
            if self.requests - before > 1:
                return  # the first attempt did delete it
            raise self._fail(
                "delete", "found nothing to delete (404): it changed since it was read",
                status=404, address=address, cls=PreconditionFailed,
            )
        if resp.status_code == 412:
            raise self._fail(
                "delete",
                "was refused: it changed at the supplier since it was read (412)",
                status=412,
                detail=_problem_detail(resp),
                address=address,
                cls=PreconditionFailed,
            )
        self._check(resp, "delete", address)

    # --- other ---------------------------------------------------------------------------

    async def releases(self) -> list[Release]:
        data = self._check(await self._send("GET", "/releases", what="listing releases"), "listing releases")
        return [
            Release(
                product_version=str(r["product_version"]),
                oke_versions=tuple(str(v) for v in r.get("oke_versions", [])),
                released=_date(r.get("released")),
                end_of_support=_date(r.get("end_of_support")),
                notes_url=r.get("notes_url"),
            )
            for r in data["items"]
        ]

    async def service_info(self, base_url: str) -> dict[str, Any]:
        url = base_url.rstrip("/") + "/"
        what = f"reading the OOAPI service document at {url}"
        data = self._check(await self._send("GET", url, what=what), what)
        if not isinstance(data, dict):
            raise self._fail(what, "returned something other than a service document")
        return data

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
