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
import json as jsonlib
import random
import re
import ssl
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, Literal

import httpx

from okectl.config.models import Supplier
from okectl.model.releases import Release
from okectl.model.resources import (
    READ_ONLY_FIELDS,
    WIRE_FIELDS,
    ActualResource,
    Address,
    fingerprint,
    normalise,
)
from okectl.model.secrets import scrub
from okectl.providers.base import OutcomeUnknown, PreconditionFailed, ProviderError

# auto: whichever takes fewer round trips, from the tenant sizes the supplier reports.
ReadStrategy = Literal["auto", "per-tenant", "all-tenants"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Answers after which a refused request may still have been carried out: the server may
# have acted on it before failing (429 and 401 are refused before anything happens).
MAYBE_APPLIED_STATUSES = frozenset({500, 502, 503, 504})
WRITES = frozenset({"PUT", "DELETE"})
MAYBE_DONE = ". An attempt may have been carried out all the same: run okectl plan to see"
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


class _Bad(Exception):
    """A supplier document of the wrong shape (turned into a ProviderError)."""


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _Bad(f"a {item.get('kind')} has no {key}")
    return value


# What the API allows in a path (admin-api.yaml), as whole strings.
_SCHOOL = re.compile(r"[0-9]{2}[A-Z]{2}")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# An ETag goes back in If-Match: printable ASCII only, and never "*" (that would match
# whatever the supplier holds by then).
_ETAG = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,1023}")
_fits_cache: dict[tuple[re.Pattern[str], str], bool] = {}


def _fits(pattern: re.Pattern[str], value: str) -> bool:
    # Names repeat across a fleet (production, acceptance, …): check each once.
    key = (pattern, value)
    found = _fits_cache.get(key)
    if found is None:
        found = pattern.fullmatch(value) is not None
        if len(_fits_cache) < 100_000:
            _fits_cache[key] = found
    return found


def _name(item: dict[str, Any], key: str) -> str:
    """A name as the supplier gave it when it is text, else its JSON form in parentheses,
    which no name okectl can address has (see _why_unaddressable): 42 is not "42". A
    missing name breaks the API's contract: the document is malformed."""
    if key not in item:
        raise _Bad(f"a {item.get('kind')} has no {key}")
    value = item[key]
    return value if isinstance(value, str) else f"({jsonlib.dumps(value)})"


def _shown(value: str) -> str:
    """A supplier's name, safe to print: escaped, on one line, short."""
    text = jsonlib.dumps(value)[1:-1].replace("/", "\\u002f")
    return text if len(text) <= 80 else text[:79] + "…"


def _why_unaddressable(address: Address, etag: str) -> str | None:
    parts = [("school code", address.school, _SCHOOL), ("environment name", address.environment, _NAME)]
    if address.kind != "environment":
        parts.append((f"{address.kind} name", address.name, _NAME))
    for what, value, pattern in parts:
        if not _fits(pattern, value):
            return f'its {what} "{_shown(value)}" is not one okectl can address'
    if etag == "*" or not _fits(_ETAG, etag):
        return "its ETag cannot be sent back to the supplier"
    return None


def _escaped(address: Address) -> Address:
    return Address(
        address.supplier,
        _shown(address.school),
        _shown(address.environment),
        address.kind,
        _shown(address.name),
    )


class _Call:
    """What one provider call's retries went through."""

    __slots__ = ("attempts", "maybe_applied")

    def __init__(self) -> None:
        self.attempts = 0
        # An earlier attempt of this call failed in a way that may have reached the server.
        self.maybe_applied = False


# How much of what a supplier says about a failure is shown or journaled: enough to act on,
# never a whole echoed request.
MAX_DETAIL_CHARS = 300
_CONTROL = dict.fromkeys([*range(0x20), 0x7F], " ")


def _reason(resp: httpx.Response) -> str:
    # The standard phrase of the status, never the one on the wire: a supplier chooses that.
    return httpx.codes.get_reason_phrase(resp.status_code) or "unknown status"


def _problem_detail(resp: httpx.Response) -> str:
    """What a failed answer says, reduced to its problem document's ``title`` and
    ``detail`` (RFC 9457; the status is shown beside it), on one line and truncated.
    Anything else in the body (the echoed request, a stack trace) is never shown."""
    try:
        data = resp.json()
    except ValueError:
        return _reason(resp)
    if not isinstance(data, dict):
        return _reason(resp)
    parts: list[str] = []
    for key in ("title", "detail", "error_description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip() and value.strip() not in parts:
            parts.append(value.strip())
    text = " ".join(": ".join(parts).translate(_CONTROL).split()) if parts else _reason(resp)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 1].rstrip() + "…"
    return text


def _scope_tenants(scope: Any) -> frozenset[str] | None:
    """The tenants an OAuth scope names (``tenant:21RC tenant:23KM``, ``tenant:*``); None
    when it names none, so nothing can be concluded from it."""
    if not isinstance(scope, str):
        return None
    tenants = frozenset(p[len("tenant:"):] for p in scope.split() if p.startswith("tenant:"))
    return tenants or None


def one_listing_is_faster(
    sizes: dict[str, int | None], wanted: list[str], *, page_size: int, concurrency: int
) -> bool:
    """Whether to read `wanted` with one listing across the tenants (`sizes`: every visible
    tenant's resource count, None when not reported) rather than per tenant.

    The listing pages through every visible tenant one page after another; per-tenant
    listings run side by side in rounds of the supplier's concurrency. Take the listing when
    it needs no more round trips: it sends far fewer requests."""
    if not wanted or None in sizes.values():
        return False  # a supplier that does not report sizes: parallel is the safe bet
    pages = max(1, -(-sum(n or 0 for n in sizes.values()) // page_size))
    per_tenant = max(1, -(-max(sizes[s] or 0 for s in wanted) // page_size))
    rounds = -(-len(wanted) // concurrency) * per_tenant
    return pages <= rounds


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
        read_strategy: ReadStrategy = "auto",
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
        # The tenants the token's scope names (tenant:<school>; "*" for all), None when the
        # supplier does not say.
        self._scope_tenants: frozenset[str] | None = None
        # The last tenant listing: the tenants that exist and this credential sees.
        self._listed: frozenset[str] | None = None
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
        secrets: Iterable[str] = (),
    ) -> ProviderError:
        """An error for a failed call. Everything a supplier said is redacted first: its
        error text may echo the request (the API client secret, a client's secret)."""
        hidden = (self._client_secret, *secrets)
        where = f"{address}: " if address is not None else ""
        return cls(
            scrub(f"{where}supplier {self.supplier.id}: {what} {problem}; {self._contact()}", hidden),
            status=status,
            detail=scrub(detail, hidden) if detail is not None else None,
            address=str(address) if address is not None else None,
        )

    def _malformed(
        self, what: str, why: str, *, address: Address | None = None, secrets: Iterable[str] = ()
    ) -> ProviderError:
        return self._fail(
            what,
            f"answered with a document okectl does not understand: {why}",
            address=address,
            secrets=secrets,
        )

    # --- transport -----------------------------------------------------------------------

    def _unknown(self, exc: ProviderError) -> OutcomeUnknown:
        """The error of a write that cannot go on after an attempt that may have been
        carried out: its outcome is unknown, whatever stopped it."""
        if isinstance(exc, OutcomeUnknown):
            return exc
        message = str(exc)
        head, sep, contact = message.rpartition("; contact ")
        text = f"{head}{MAYBE_DONE}{sep}{contact}" if sep else message + MAYBE_DONE
        return OutcomeUnknown(text, status=exc.status, detail=exc.detail, address=exc.address)

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
            except (ValueError, KeyError, TypeError, AttributeError):
                raise self._fail("token request", "returned no access_token") from None
            self._scope_tenants = _scope_tenants(data.get("scope"))
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
        call: _Call | None = None,
        secrets: Iterable[str] = (),
    ) -> httpx.Response:
        """Send with retries. Every request okectl makes is safe to repeat: reads, token
        requests, and writes guarded by If-Match or If-None-Match.

        `call`, when given, records this call's attempts and whether an earlier one may
        have been carried out by the server (so a 412 or 404 may be its own doing)."""
        if not url.startswith(("http://", "https://")):
            url = self._api_url + url
        call = call if call is not None else _Call()
        attempt = 0
        renewed = False
        last = ""
        status: int | None = None
        maybe_done = method in WRITES
        while True:
            attempt += 1
            call.attempts = attempt
            send_headers = dict(headers or {})
            if authenticated:
                try:
                    send_headers["Authorization"] = "Bearer " + await self._access_token()
                except ProviderError as exc:
                    raise self._unknown(exc) if maybe_done and call.maybe_applied else exc from None
            try:
                async with self._semaphore:
                    await self._limiter.acquire()
                    self.requests += 1
                    resp = await self._client.request(
                        method, url, json=json, data=data, params=params, headers=send_headers
                    )
            except httpx.TimeoutException as exc:
                last, status = f"timed out after {self.supplier.api.timeout_seconds:g} s", None
                # Only a request that was never sent cannot have been carried out.
                if not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                    call.maybe_applied = True
            except httpx.TransportError as exc:
                last, status = f"connection failed ({type(exc).__name__}: {exc})", None
                if not isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol):
                    call.maybe_applied = True
            else:
                if resp.status_code == 401 and authenticated and not renewed:
                    # The token expired or was revoked early: fetch a new one, once.
                    renewed = True
                    attempt -= 1
                    try:
                        await self._access_token(renew=True)
                    except ProviderError as exc:
                        raise self._unknown(exc) if maybe_done and call.maybe_applied else exc from None
                    continue
                if resp.status_code not in RETRY_STATUSES:
                    return resp
                status = resp.status_code
                if status in MAYBE_APPLIED_STATUSES:
                    call.maybe_applied = True
                last = f"answered {resp.status_code} {_reason(resp)}"
                wait = _retry_after(resp)
                if wait is not None and wait > self._max_retry_after:
                    error = self._fail(
                        what,
                        f"{last} and asks to wait {wait:.0f} s; try again later",
                        status=status,
                        detail=_problem_detail(resp),
                        address=address,
                        secrets=secrets,
                    )
                    raise self._unknown(error) if maybe_done and call.maybe_applied else error
                if attempt < self._max_attempts:
                    await self._sleep(wait if wait is not None else self._delay(attempt))
                    continue
            if attempt >= self._max_attempts:
                error = self._fail(
                    what,
                    f"failed: {last}; gave up after {attempt} attempts",
                    status=status,
                    address=address,
                    secrets=secrets,
                )
                raise self._unknown(error) if maybe_done and call.maybe_applied else error
            await self._sleep(self._delay(attempt))

    # --- reading -------------------------------------------------------------------------

    def _actual(
        self, item: Any, what: str, address: Address | None = None, secrets: Iterable[str] = ()
    ) -> ActualResource:
        # Written out per kind: this runs once per resource of the fleet on every plan.
        if type(item) is not dict:
            raise self._malformed(what, "a resource is not an object", address=address, secrets=secrets)
        get = item.get
        kind = get("kind")
        try:
            if kind == "environment":
                addr = Address(self.supplier.id, _name(item, "tenant"), _name(item, "name"))
            elif kind in ("client", "role"):
                addr = Address(
                    self.supplier.id,
                    _name(item, "tenant"),
                    _name(item, "environment"),
                    kind,
                    _name(item, kind) if kind == "role" else _name(item, "system"),
                )
            else:
                raise _Bad("a resource has no known kind (environment, client or role)")
            spec = {f: get(f) for f in WIRE_FIELDS[kind]}
            if kind == "client":
                spec["secret_fingerprint"] = get("secret_fingerprint")
            extra = {f: get(f) for f in READ_ONLY_FIELDS[kind]}
            etag = _text(item, "etag")
            labels = get("labels") or {}
            if type(labels) is not dict:
                raise _Bad(f"labels of {addr} is not an object")
        except _Bad as exc:
            raise self._malformed(what, str(exc), address=address, secrets=secrets) from None
        why = _why_unaddressable(addr, etag)
        if why is not None:
            # Listed (as unmanaged, with the reason), never written: one odd name at a
            # supplier must not stop every plan of it.
            return ActualResource(_escaped(addr), spec, etag, labels, extra, unaddressable=why)
        return ActualResource(addr, spec, etag, labels, extra)

    def _check(
        self, resp: httpx.Response, what: str, address: Address | None = None, secrets: Iterable[str] = ()
    ) -> Any:
        if resp.status_code == 403:
            raise self._fail(
                what,
                "was denied (403): the credential has no access to this tenant",
                status=403,
                detail=_problem_detail(resp),
                address=address,
                secrets=secrets,
            )
        if resp.status_code >= 400:
            raise self._fail(
                what,
                f"failed: {resp.status_code} {_reason(resp)}: {_problem_detail(resp)}",
                status=resp.status_code,
                detail=_problem_detail(resp),
                address=address,
                secrets=secrets,
            )
        try:
            with _gc_paused():
                return resp.json()
        except ValueError:
            raise self._fail(what, "returned a body that is not JSON", address=address) from None

    def _items(self, data: Any, what: str) -> list[Any]:
        if not isinstance(data, dict):
            raise self._malformed(what, f"expected an object with items, got {type(data).__name__}")
        items = data.get("items")
        if not isinstance(items, list):
            problem = "items is missing" if "items" not in data else "items is not a list"
            raise self._malformed(what, problem)
        return items

    async def _pages(self, path: str, what: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": self._page_size}
        while True:
            data = self._check(await self._send("GET", path, what=what, params=params), what)
            page = self._items(data, what)
            for item in page:
                if type(item) is not dict:
                    raise self._malformed(what, "a resource is not an object")
            items.extend(page)
            token = data.get("next_page_token")
            if not token:
                return items
            if not isinstance(token, str):
                raise self._malformed(what, "next_page_token is not a string")
            params = {"page_size": self._page_size, "page_token": token}

    async def _tenant_sizes(self) -> dict[str, int | None]:
        """The tenants this credential sees, with how many resources each holds when the
        supplier says so."""
        what = "listing tenants"
        data = self._check(await self._send("GET", "/tenants", what=what), what)
        sizes: dict[str, int | None] = {}
        for t in self._items(data, what):
            school = t.get("school") if isinstance(t, dict) else None
            if not isinstance(school, str) or not school:
                raise self._malformed(what, "a tenant has no school code")
            if not _fits(_SCHOOL, school):
                # Not a code okectl can put in a path, nor one the configuration can name:
                # its resources are still listed (unmanaged) by a reading across tenants.
                continue
            count = t.get("resources")
            sizes[school] = count if type(count) is int and count >= 0 else None
        self._listed = frozenset(sizes)
        return sizes

    async def list_tenants(self) -> list[str]:
        return list(await self._tenant_sizes())

    async def denied_tenants(self, schools: Collection[str]) -> list[str]:
        """Of these schools, those this credential may not see. The token's scope says so
        without a request; a supplier that gives no scope is asked, for each school that is
        not among its tenants, with a one-item listing (403: not visible)."""
        wanted = set(schools)
        if not wanted:
            return []
        await self._access_token()
        if self._scope_tenants is not None:
            return [] if "*" in self._scope_tenants else sorted(wanted - self._scope_tenants)
        listed = self._listed if self._listed is not None else frozenset(await self._tenant_sizes())
        unknown = sorted(wanted - listed)

        async def denied(school: str) -> bool:
            what = f"reading tenant {school}"
            resp = await self._send(
                "GET", f"/tenants/{school}/resources", what=what, params={"page_size": 1}
            )
            if resp.status_code == 403:
                return True
            self._check(resp, what)
            return False

        found = await asyncio.gather(*(denied(s) for s in unknown))
        return [s for s, no in zip(unknown, found, strict=True) if no]

    async def read_resources(self, schools: Collection[str] | None = None) -> list[ActualResource]:
        if schools is not None and not schools:
            return []
        if self._read_strategy == "all-tenants":
            # No tenant list needed: the listing holds every tenant the credential sees.
            return await self._read_listing(None if schools is None else set(schools))
        sizes = await self._tenant_sizes()
        wanted = sorted(sizes if schools is None else sizes.keys() & set(schools))
        if not wanted:
            return []
        if self._read_strategy == "auto" and one_listing_is_faster(
            sizes, wanted, page_size=self._page_size, concurrency=self._concurrency
        ):
            # Unscoped: everything the listing shows, tenants okectl cannot address too.
            return await self._read_listing(None if schools is None else set(wanted))
        return await self._read_each(wanted)

    async def read_tenants(self, schools: list[str]) -> list[ActualResource]:
        wanted = set(schools)
        if not wanted:
            return []
        if self._read_strategy == "all-tenants":
            return await self._read_listing(wanted)
        return await self._read_each(sorted(wanted))

    async def _read_listing(self, wanted: set[str] | None) -> list[ActualResource]:
        what = "reading resources"
        items = await self._pages("/resources", what)
        with _gc_paused():
            out = []
            for i in items:
                if "tenant" not in i:
                    raise self._malformed(what, "a resource has no tenant")
                tenant = i["tenant"]
                if wanted is None or (isinstance(tenant, str) and tenant in wanted):
                    out.append(self._actual(i, what))
            return out

    async def _read_each(self, ordered: list[str]) -> list[ActualResource]:
        results = await asyncio.gather(
            *(self._pages(f"/tenants/{s}/resources", f"reading tenant {s}") for s in ordered)
        )
        out = []
        with _gc_paused():
            for school, items in zip(ordered, results, strict=True):
                what = f"reading tenant {school}"
                out.extend([self._actual(i, what) for i in items])
        return out

    async def read(self, address: Address) -> ActualResource | None:
        resp = await self._send("GET", self._path(address), what="reading", address=address)
        if resp.status_code == 404:
            return None
        return self._actual(self._check(resp, "reading", address), "reading", address)

    # --- writing -------------------------------------------------------------------------

    def _path(self, address: Address) -> str:
        # Checked again here: an address may come from a saved plan, and a name outside
        # the API's patterns ("..", "a/b", a line break) must never reach a URL.
        why = _why_unaddressable(address, '"x"')
        if why is not None:
            raise self._fail("request", f"cannot be sent: {why}", address=address)
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
        secret = body.get("secret")
        secrets = (secret,) if isinstance(secret, str) else ()
        call = _Call()
        resp = await self._send(
            "PUT",
            self._path(address),
            what=action,
            address=address,
            json=payload,
            headers=condition,
            call=call,
            secrets=secrets,
        )
        if resp.status_code == 412:
            if call.maybe_applied:
                # An earlier attempt of this very write may have been carried out before
                # its answer was lost: check before refusing.
                try:
                    mine = await self._confirm(address, body, labels)
                except ProviderError as exc:
                    raise self._unknown(exc) from None
                if mine is not None:
                    return mine
            raise self._fail(
                action,
                "was refused: it changed at the supplier since it was read (412)",
                status=412,
                detail=_problem_detail(resp),
                address=address,
                cls=PreconditionFailed,
                secrets=secrets,
            )
        if resp.status_code == 404 and address.kind != "environment":
            raise self._fail(
                action,
                f"failed: its environment {address.parent} does not exist (404)",
                status=404,
                address=address,
            )
        data = self._check(resp, action, address, secrets)
        return self._written(data, action, address, labels, secrets)

    def _written(
        self, data: Any, action: str, address: Address, labels: dict[str, str], secrets: Iterable[str]
    ) -> ActualResource:
        """The resource a successful write answered with. The supplier said yes, but an
        answer that breaks the contract (not the resource, another resource, other labels)
        does not say what it did: the outcome is unknown, never applied."""
        try:
            written = self._actual(data, action, address, secrets)
        except ProviderError as exc:
            raise self._unknown(exc) from None
        if written.address != address:
            problem = f"answered with another resource ({written.address})"
        elif written.labels != labels:
            problem = "answered with labels other than the ones sent"
        else:
            return written
        raise self._unknown(self._fail(action, problem, address=address, secrets=secrets))

    async def _confirm(
        self, address: Address, body: dict[str, Any], labels: dict[str, str]
    ) -> ActualResource | None:
        """The resource as this write left it, or None when it is not exactly that."""
        current = await self.read(address)
        if current is None or current.labels != labels:
            return None
        for key, value in body.items():
            if key == "secret":
                if current.spec.get("secret_fingerprint") != fingerprint(value):
                    return None
            elif key in current.spec and normalise(current.spec[key]) != normalise(value):
                return None
        return current

    async def create(self, address: Address, body: dict[str, Any], labels: dict[str, str]) -> ActualResource:
        return await self._write(address, body, labels, {"If-None-Match": "*"})

    async def update(
        self, address: Address, body: dict[str, Any], labels: dict[str, str], etag: str
    ) -> ActualResource:
        self._check_etag("update", address, etag)
        return await self._write(address, body, labels, {"If-Match": etag})

    def _check_etag(self, what: str, address: Address, etag: str) -> None:
        """An update or delete goes out only against the ETag okectl read: `If-Match: *`
        (or none) would let it overwrite or remove whatever is there now."""
        if not etag.strip() or etag.strip() == "*":
            raise self._fail(
                what,
                f"was not sent: it needs the resource's ETag as read, not {etag!r}",
                address=address,
                cls=PreconditionFailed,
            )

    async def delete(self, address: Address, etag: str) -> None:
        self._check_etag("delete", address, etag)
        call = _Call()
        resp = await self._send(
            "DELETE",
            self._path(address),
            what="delete",
            address=address,
            headers={"If-Match": etag},
            call=call,
        )
        if resp.status_code == 204:
            return
        if resp.status_code == 404 and call.maybe_applied:
            # An earlier attempt may have been carried out before its answer was lost, or
            # the 404 may be wrong: it counts as deleted only once a read finds it gone.
            await self._confirm_gone(address, "a retry answered 404 (nothing to delete)")
            return
        if 200 <= resp.status_code < 300:
            # Not the 204 the contract promises: whether it deleted anything is for a read to say.
            await self._confirm_gone(address, f"answered {resp.status_code} instead of 204")
            return
        if resp.status_code == 404:
            raise self._fail(
                "delete",
                "found nothing to delete (404): it changed since it was read",
                status=404,
                address=address,
                cls=PreconditionFailed,
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

    async def _confirm_gone(self, address: Address, why: str) -> None:
        """Return only when a read finds the resource gone; otherwise the delete's
        outcome is unknown."""
        try:
            current = await self.read(address)
        except ProviderError as exc:
            status = f" ({exc.status})" if exc.status is not None else ""
            raise self._unknown(
                self._fail("delete", f"{why}, and the read to confirm it failed{status}", address=address)
            ) from None
        if current is not None:
            raise self._unknown(
                self._fail(
                    "delete", f"{why}, but a read still finds it (etag {current.etag})", address=address
                )
            )

    # --- other ---------------------------------------------------------------------------

    async def releases(self) -> list[Release]:
        what = "listing releases"
        data = self._check(await self._send("GET", "/releases", what=what), what)
        out: list[Release] = []
        for r in self._items(data, what):
            if not isinstance(r, dict) or not isinstance(r.get("product_version"), str | int | float):
                raise self._malformed(what, "a release has no product_version")
            versions = r.get("oke_versions") or []
            if not isinstance(versions, list):
                raise self._malformed(what, "oke_versions of a release is not a list")
            notes = r.get("notes_url")
            out.append(
                Release(
                    product_version=str(r["product_version"]),
                    oke_versions=tuple(str(v) for v in versions),
                    released=_date(r.get("released")),
                    end_of_support=_date(r.get("end_of_support")),
                    notes_url=notes if isinstance(notes, str) else None,
                )
            )
        return out

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
