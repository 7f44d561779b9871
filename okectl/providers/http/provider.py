"""The HTTP provider: a supplier administration API (``admin-api.yaml``) over httpx.

Within one supplier, requests share a pooled client, a concurrency bound and a
requests-per-second limit from the supplier's YAML. Reads, and writes made safe by
If-Match / If-None-Match, are retried with exponential backoff and full jitter on
connection failures, timeouts, 429 and 5xx, honouring Retry-After, for at most
``api.limits.max_retry_seconds`` per call.

Every answer is read within ``api.timeout_seconds`` in all and ``api.limits.max_answer_bytes``
(as received and decompressed; see ``transport.read_bounded``). Every message and log line
the provider makes passes through one scrubber that knows every secret okectl sent this
supplier: the API client secret, each access token it received, each client secret written.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import math
import random
import re
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

from okectl.config.models import Supplier
from okectl.model.redaction import Scrubber
from okectl.model.releases import Release
from okectl.model.resources import (
    ActualResource,
    Address,
    fingerprint,
    normalise,
)
from okectl.providers.base import OutcomeUnknown, PreconditionFailed, ProviderError
from okectl.providers.http.codec import (
    SCHOOL_PATTERN,
    Malformed,
    decode_resource,
    fits,
    gc_paused,
    parse_date,
    problem_detail,
    reason_phrase,
    scope_tenants,
    why_unaddressable,
)

if TYPE_CHECKING:
    import httpx

    from okectl.providers.http.transport import Call, RateLimiter, Session

# The transport (httpx, TLS, aiohttp) is imported when the first request is sent: a
# provider that answers in-process (the embedded sandbox's reads) never needs it.

# auto: whichever takes fewer round trips, from the tenant sizes the supplier reports.
ReadStrategy = Literal["auto", "per-tenant", "all-tenants"]

MAYBE_DONE = ". An attempt may have been carried out all the same: run okectl plan to see"
PAGE_SIZE = 1000
# An access token goes back in a header: printable ASCII without spaces, of a sane length.
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{1,8192}")
# Tokens are asked for again after this long at most, whatever expires_in says.
MAX_TOKEN_SECONDS = 86_400.0
# A token is renewed this long before it expires (at most half its lifetime).
TOKEN_MARGIN_SECONDS = 30.0
# A listing is read page after page as the supplier's page tokens lead: these end one that
# would not end by itself (each page is bounded by api.limits.max_answer_bytes).
MAX_PAGES = 10_000
MAX_LISTED = 2_000_000
MAX_PAGE_TOKEN_CHARS = 2048


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


log = logging.getLogger(__name__)


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
        limits = supplier.limits
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
        self._rps = limits.requests_per_second if apply_limits else 0
        self._limiter: RateLimiter | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        # The tenants the token's scope names (tenant:<school>; "*" for all), None when the
        # supplier does not say.
        self._scope_tenants: frozenset[str] | None = None
        # The last tenant listing: the tenants that exist and this credential sees.
        self._listed: frozenset[str] | None = None
        self._token_lock = asyncio.Lock()
        self.requests = 0  # every HTTP request sent, retries included
        self._timeout = supplier.timeout_seconds
        self._max_answer = limits.max_answer_bytes
        self._max_retry_seconds = limits.max_retry_seconds
        # Grows with every secret okectl sends this supplier (see _hide).
        self._scrubber = Scrubber([client_secret])
        self._transport = transport
        self._session: Session | None = None

    def _new_transport(self) -> httpx.AsyncBaseTransport | None:
        """The httpx transport under the session (None: the network)."""
        return self._transport

    def _open(self) -> tuple[Session, RateLimiter]:
        """The session and rate limiter, made when the first request is sent."""
        if self._session is None or self._limiter is None:
            from okectl.providers.http.transport import ACCEPT_ENCODING, RateLimiter, Session

            # One pool of kept-alive connections for everything sent to this supplier.
            self._session = Session(
                connections=self._concurrency,
                # Per step; send_bounded holds each request to the same time in all.
                timeout=self._timeout,
                headers={
                    "Accept": "application/json",
                    "User-Agent": "okectl",
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                transport=self._new_transport(),
                # Parsed once; the API's paths are joined to it.
                base_url=self._api_url,
            )
            self._limiter = RateLimiter(self._rps, max(self._concurrency, int(self._rps)))
        return self._session, self._limiter

    # --- messages ------------------------------------------------------------------------

    def _hide(self, *values: str) -> None:
        """From now on, keep these values out of every message and log line too."""
        new = [v for v in values if v and v not in self._scrubber.secrets]
        if new:
            self._scrubber = self._scrubber.with_secrets(new)

    def _log(self, level: int, message: str, *args: object, extra: dict[str, Any]) -> None:
        # Formatted here so the whole line is scrubbed: an argument may hold what a
        # supplier sent (a transport error quotes the bytes it choked on).
        if log.isEnabledFor(level):
            log.log(level, "%s", self._scrubber(message % args), extra=extra)

    def _problem(self, status: int, content: bytes) -> str:
        return problem_detail(status, content, self._scrubber)

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
        """An error for a failed call. Everything a supplier said is redacted first: its
        error text may echo the request (the API client secret, a token, a client's secret)."""
        where = f"{address}: " if address is not None else ""
        return cls(
            self._scrubber(f"{where}supplier {self.supplier.id}: {what} {problem}; {self._contact()}"),
            status=status,
            detail=self._scrubber(detail) if detail is not None else None,
            address=str(address) if address is not None else None,
        )

    def _malformed(self, what: str, why: str, *, address: Address | None = None) -> ProviderError:
        return self._fail(
            what, f"answered with a document okectl does not understand: {why}", address=address
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
        if not renew and self._token is not None and time.monotonic() < self._token_expires:
            return self._token  # the common case: no lock to take
        async with self._token_lock:
            if renew:
                self._token = None
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            status, content = await self._token_answer(
                {
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                }
            )
            if status != 200:
                raise self._fail(
                    "token request",
                    f"was refused ({status}: {self._problem(status, content)}); check api.auth",
                    status=status,
                )
            try:
                data = jsonlib.loads(content)
                token = data["access_token"]
                ttl = float(data.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                raise self._fail("token request", "returned no access_token") from None
            if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
                raise self._fail("token request", "returned an access_token okectl cannot send back")
            # Hidden before anything else is said: every later message may echo it.
            self._hide(token)
            ttl = min(ttl, MAX_TOKEN_SECONDS) if math.isfinite(ttl) and ttl > 0 else 0.0
            self._scope_tenants = scope_tenants(data.get("scope"))
            self._log(
                logging.INFO,
                "%s: %s an access token (valid %.0f s)",
                self.supplier.id,
                "renewed" if renew else "obtained",
                ttl,
                extra={"supplier": self.supplier.id, "action": "token"},
            )
            self._token = token
            self._token_expires = time.monotonic() + max(0.0, ttl - min(TOKEN_MARGIN_SECONDS, ttl / 2))
            return token

    async def _token_answer(self, form: dict[str, str]) -> tuple[int, bytes]:
        """The token endpoint's answer (status and body) to a client credentials ``form``."""
        resp = await self._send("POST", self._token_url, what="token request", data=form, authenticated=False)
        return resp.status_code, resp.content

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
        call: Call | None = None,
    ) -> httpx.Response:
        """Send with retries. Every request okectl makes is safe to repeat: reads, token
        requests, and writes guarded by If-Match or If-None-Match.

        `call`, when given, records this call's attempts and whether an earlier one may
        have been carried out by the server (so a 412 or 404 may be its own doing)."""
        import httpx

        from okectl.providers.http.transport import (
            MAYBE_APPLIED_STATUSES,
            RETRY_STATUSES,
            WRITES,
            AnswerDeadline,
            AnswerRefused,
            Call,
            retry_after,
            send_bounded,
        )

        session, limiter = self._open()
        call = call if call is not None else Call()
        attempt = 0
        renewed = False
        last = ""
        status: int | None = None
        maybe_done = method in WRITES
        started = time.monotonic()
        # Serialised once, whatever the retries.
        body = (
            None
            if json is None
            else jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        )
        if body is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        while True:
            attempt += 1
            call.attempts = attempt
            wait: float | None = None
            send_headers = dict(headers or {})
            if authenticated:
                try:
                    send_headers["Authorization"] = "Bearer " + await self._access_token()
                except ProviderError as exc:
                    raise self._unknown(exc) if maybe_done and call.maybe_applied else exc from None
            try:
                async with self._semaphore:
                    await limiter.acquire()
                    self.requests += 1
                    request = session.request(
                        method, url, content=body, form=data, params=params, headers=send_headers
                    )
                    resp = await send_bounded(
                        session,
                        request,
                        max_bytes=self._max_answer,
                        max_decoded=self._max_answer,
                        seconds=self._timeout,
                    )
                    if log.isEnabledFor(logging.DEBUG):
                        self._log(
                            logging.DEBUG,
                            "%s: %s %s → %d",
                            self.supplier.id,
                            method,
                            request.url.path,
                            resp.status_code,
                            extra={
                                "supplier": self.supplier.id, "method": method, "status": resp.status_code
                            },
                        )
            except AnswerRefused as exc:
                # Not retried: the same request would get the same answer. A write's answer
                # came after the supplier had it: it may have been carried out.
                setting = " (api.limits.max_answer_bytes)" if exc.too_large else ""
                error = self._fail(what, f"{exc}{setting}", address=address)
                raise self._unknown(error) if maybe_done else error from None
            except httpx.TimeoutException as exc:
                # A deadline says how much of the body had come (a trickling answer).
                last = str(exc) if isinstance(exc, AnswerDeadline) else f"timed out after {self._timeout:g} s"
                status = None
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
                    self._log(
                        logging.INFO,
                        "%s: %s answered 401; renewing the access token",
                        self.supplier.id,
                        what,
                        extra={"supplier": self.supplier.id, "status": 401},
                    )
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
                last = f"answered {resp.status_code} {reason_phrase(resp.status_code)}"
                wait = retry_after(resp)
                if wait is not None and wait > self._max_retry_after:
                    error = self._fail(
                        what,
                        f"{last} and asks to wait {wait:.0f} s; try again later",
                        status=status,
                        detail=self._problem(resp.status_code, resp.content),
                        address=address,
                    )
                    raise self._unknown(error) if maybe_done and call.maybe_applied else error
            delay = wait if wait is not None else self._delay(attempt)
            if attempt >= self._max_attempts or not self._within_budget(started, delay):
                spent = time.monotonic() - started
                budget = (
                    "" if attempt >= self._max_attempts
                    else f" in {spent:.0f} s (api.limits.max_retry_seconds: {self._max_retry_seconds:g})"
                )
                error = self._fail(
                    what,
                    f"failed: {last}; gave up after {attempt} attempts{budget}",
                    status=status,
                    address=address,
                )
                raise self._unknown(error) if maybe_done and call.maybe_applied else error
            self._log_retry(what, method, last, attempt, delay, throttled=status == 429)
            await self._sleep(delay)

    def _within_budget(self, started: float, delay: float) -> bool:
        """Whether a call that started at ``started`` may wait ``delay`` and try again."""
        return time.monotonic() - started + delay < self._max_retry_seconds

    def _log_retry(
        self, what: str, method: str, last: str, attempt: int, delay: float, *, throttled: bool
    ) -> None:
        self._log(
            logging.INFO,
            "%s: %s %s; %s in %.2f s (attempt %d of %d)",
            self.supplier.id,
            what,
            last,
            "throttled, retrying" if throttled else "retrying",
            delay,
            attempt + 1,
            self._max_attempts,
            extra={"supplier": self.supplier.id, "method": method, "attempt": attempt + 1, "wait": delay},
        )

    # --- reading -------------------------------------------------------------------------

    def _actual(self, item: Any, what: str, address: Address | None = None) -> ActualResource:
        try:
            return decode_resource(item, self.supplier.id)
        except Malformed as exc:
            raise self._malformed(what, str(exc), address=address) from None

    def _check(self, resp: httpx.Response, what: str, address: Address | None = None) -> Any:
        return self._check_answer(resp.status_code, resp.content, what, address)

    def _check_answer(self, status: int, content: bytes, what: str, address: Address | None = None) -> Any:
        """The JSON document of a successful answer; an error for a failed one, or for a
        body okectl does not keep (not JSON, or echoing a secret it sent)."""
        if status == 403:
            raise self._fail(
                what,
                "was denied (403): the credential has no access to this tenant",
                status=403,
                detail=self._problem(status, content),
                address=address,
            )
        if status >= 400:
            raise self._fail(
                what,
                f"failed: {status} {reason_phrase(status)}: {self._problem(status, content)}",
                status=status,
                detail=self._problem(status, content),
                address=address,
            )
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail(what, "returned a body that is not JSON", address=address) from None
        if self._scrubber.reveals(text):
            # Whatever okectl keeps of a document (names, fields, labels) may be shown in a
            # plan or kept in a plan file: one that holds a secret okectl sent is not kept.
            raise self._fail(
                what,
                "answered with a document that holds a secret okectl sent it (echoed in some "
                "form); okectl keeps nothing of it",
                address=address,
            )
        try:
            with gc_paused():
                return jsonlib.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
            raise self._fail(what, "returned a body that is not JSON", address=address) from None

    def _items(self, data: Any, what: str) -> list[Any]:
        if not isinstance(data, dict):
            raise self._malformed(what, f"expected an object with items, got {type(data).__name__}")
        items = data.get("items")
        if not isinstance(items, list):
            problem = "items is missing" if "items" not in data else "items is not a list"
            raise self._malformed(what, problem)
        return items

    async def _listing_page(self, school: str | None, params: dict[str, Any], what: str) -> Any:
        """One page of the resource listing of ``school`` (None: every tenant the credential
        sees), as checked by :meth:`_check_answer`."""
        path = "/resources" if school is None else f"/tenants/{school}/resources"
        return self._check(await self._send("GET", path, what=what, params=params), what)

    async def _pages(self, school: str | None, what: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": self._page_size}
        seen: set[str] = set()
        while True:
            data = await self._listing_page(school, params, what)
            page = self._items(data, what)
            for item in page:
                if type(item) is not dict:
                    raise self._malformed(what, "a resource is not an object")
            items.extend(page)
            if len(items) > MAX_LISTED:
                raise self._fail(what, f"listed more than {MAX_LISTED:,} resources; okectl stopped reading")
            token = data.get("next_page_token")
            if not token:
                return items
            if not isinstance(token, str) or len(token) > MAX_PAGE_TOKEN_CHARS:
                raise self._malformed(what, "next_page_token is not a string okectl can send back")
            # Each page names the next: one named twice, or no end in sight, would have
            # okectl read forever.
            if token in seen:
                raise self._fail(what, f"never ends: a page token came back after {len(seen) + 1} pages")
            if len(seen) >= MAX_PAGES:
                raise self._fail(what, f"went on past {MAX_PAGES:,} pages; okectl stopped reading")
            seen.add(token)
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
            if not fits(SCHOOL_PATTERN, school):
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
        items = await self._pages(None, what)
        with gc_paused():
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
            *(self._pages(s, f"reading tenant {s}") for s in ordered)
        )
        out = []
        with gc_paused():
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
        why = why_unaddressable(address, '"x"')
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
        if isinstance(secret, str):
            self._hide(secret)
        from okectl.providers.http.transport import Call

        call = Call()
        resp = await self._send(
            "PUT",
            self._path(address),
            what=action,
            address=address,
            json=payload,
            headers=condition,
            call=call,
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
                detail=self._problem(resp.status_code, resp.content),
                address=address,
                cls=PreconditionFailed,
            )
        if resp.status_code == 404 and address.kind != "environment":
            raise self._fail(
                action,
                f"failed: its environment {address.parent} does not exist (404)",
                status=404,
                address=address,
            )
        data = self._check(resp, action, address)
        return self._written(data, action, address, labels)

    def _written(self, data: Any, action: str, address: Address, labels: dict[str, str]) -> ActualResource:
        """The resource a successful write answered with. The supplier said yes, but an
        answer that breaks the contract (not the resource, another resource, other labels)
        does not say what it did: the outcome is unknown, never applied."""
        try:
            written = self._actual(data, action, address)
        except ProviderError as exc:
            raise self._unknown(exc) from None
        if written.address != address:
            problem = f"answered with another resource ({written.address})"
        elif written.labels != labels:
            problem = "answered with labels other than the ones sent"
        else:
            return written
        raise self._unknown(self._fail(action, problem, address=address))

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
        from okectl.providers.http.transport import Call

        call = Call()
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
                detail=self._problem(resp.status_code, resp.content),
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
                    released=parse_date(r.get("released")),
                    end_of_support=parse_date(r.get("end_of_support")),
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
        if self._session is not None:
            await self._session.aclose()

    async def __aenter__(self) -> HttpProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
