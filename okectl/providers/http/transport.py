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
import re
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

if TYPE_CHECKING:
    import aiohttp

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# Answers after which a refused request may still have been carried out: the server may
# have acted on it before failing (429 and 401 are refused before anything happens).
MAYBE_APPLIED_STATUSES = frozenset({500, 502, 503, 504})


WRITES = frozenset({"PUT", "DELETE"})


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
    # What the connections speak (NetworkTransport): a server must not pick HTTP/2.
    context.set_alpn_protocols(["http/1.1"])
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


# --- bounded answers -------------------------------------------------------------------
#
# Whatever a supplier sends is read within limits: a gzip bomb, an endless or huge body, or
# an answer trickling in a byte every few seconds must end in one clear error, never in
# MemoryError or a run that never ends.

# The only encodings okectl asks for, and so the only ones it decodes (each with a bound on
# what it may grow to); an answer in any other is refused.
ACCEPT_ENCODING = "gzip, deflate"


class AnswerRefused(httpx.DecodingError):
    """An answer okectl stopped reading: larger than allowed (as received or decoded), or
    in an encoding it did not ask for. Its text is one line and holds nothing the
    supplier sent, only sizes and limits."""

    def __init__(self, message: str, *, request: httpx.Request, too_large: bool = True) -> None:
        super().__init__(message, request=request)
        self.too_large = too_large


class AnswerDeadline(httpx.TimeoutException):
    """No complete answer (headers and whole body) within the request's deadline."""

    def __init__(self, message: str, *, request: httpx.Request, received: int = 0) -> None:
        super().__init__(message, request=request)
        self.received = received  # bytes of the body that had arrived


def size_text(n: int | float) -> str:
    """A byte count as a person reads it: 512 bytes, 10.0 KiB, 16 MiB, 1.5 GiB."""
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if n == int(n) else f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


# What one decompression step may produce at most.
_STEP = 1 << 20


class _Inflater:
    """gzip or deflate decoding that never produces more than the room it is given."""

    def __init__(self, encoding: str) -> None:
        import zlib

        self._zlib = zlib
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_fallback = not self._gzip  # "deflate" is zlib-wrapped, or raw in practice
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> list[bytes]:
        """Up to ``room + 1`` decoded bytes of ``data`` (one more than fits says it does
        not), in pieces of at most _STEP: zlib holds a piece twice while it makes it, and
        joining them would hold them all twice."""
        zlib = self._zlib
        out: list[bytes] = []
        produced = 0
        while produced <= room:
            step = min(room + 1 - produced, _STEP)
            try:
                chunk = self._d.decompress(data, step)
            except zlib.error:
                if self._raw_fallback:
                    # Not zlib-wrapped: start again as a raw deflate stream.
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self._raw_fallback = False
            if chunk:
                out.append(chunk)
                produced += len(chunk)
            if self._d.eof:
                rest = self._d.unused_data
                if self._gzip and rest[:2] == b"\x1f\x8b":
                    # A gzip stream may hold several members one after another.
                    self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data = rest
                    continue
                break
            data = self._d.unconsumed_tail
            if not data and len(chunk) < step:
                break  # all input used, and nothing more waiting to come out
        return out


async def read_bounded(
    response: httpx.Response, *, max_bytes: int, max_decoded: int, deadline: float
) -> bytes:
    """The whole body of a streamed ``response``, decoded, within limits.

    For any client of a supplier's endpoints (the admin API, verify's probes): send with
    ``client.send(request, stream=True)`` (or use :func:`send_bounded`, which does it all),
    then call this instead of ``response.aread()``. It reads the raw bytes as they come,
    decodes ``Content-Encoding`` (identity, gzip, deflate: send ``Accept-Encoding:``
    :data:`ACCEPT_ENCODING`) itself, and stops:

    - with :class:`AnswerRefused` once more than ``max_bytes`` arrived (or a
      ``Content-Length`` announces more), more than ``max_decoded`` bytes came out of the
      decoding (a gzip bomb stops there, its memory bounded by ``max_decoded``), or the
      answer uses an encoding okectl did not ask for;
    - with :class:`AnswerDeadline` at ``deadline``, a time on the event loop's clock
      (``asyncio.get_running_loop().time()``): a total for the body, however slowly it
      trickles in (a byte every few seconds never resets it).

    Both are ``httpx.HTTPError``s, so a caller that already handles transport errors handles
    these; their text is one line of sizes and limits, never the supplier's words. The
    response is closed whatever happens (a connection left mid-body is not reused).
    """
    raw = 0
    decoded = 0
    chunks: list[bytes] = []
    try:
        encoding = response.headers.get("content-encoding", "identity").strip().lower() or "identity"
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise AnswerRefused(
                f"answered in Content-Encoding {encoding[:40]!r}, which okectl did not ask for "
                f"(it accepts {ACCEPT_ENCODING})",
                request=response.request,
                too_large=False,
            )
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerRefused(
                f"announced an answer of {size_text(int(declared))}, more than the "
                f"{size_text(max_bytes)} okectl reads",
                request=response.request,
            )
        inflater = _Inflater(encoding) if encoding != "identity" else None
        try:
            async with asyncio.timeout_at(deadline):
                async for data in response.aiter_raw():
                    raw += len(data)
                    if raw > max_bytes:
                        raise AnswerRefused(
                            f"sent more than the {size_text(max_bytes)} okectl reads of an answer",
                            request=response.request,
                        )
                    pieces = [data]
                    if inflater is not None:
                        try:
                            pieces = inflater.feed(data, max_decoded - decoded)
                        except Exception:  # zlib.error, whatever the stream holds
                            raise AnswerRefused(
                                f"answered with a body that is not valid {encoding}",
                                request=response.request,
                                too_large=False,
                            ) from None
                    decoded += sum(len(p) for p in pieces)
                    if decoded > max_decoded:
                        raise AnswerRefused(
                            f"answered more than the {size_text(max_decoded)} okectl reads once "
                            f"decompressed ({size_text(raw)} received)"
                            if inflater is not None
                            else f"sent more than the {size_text(max_decoded)} okectl reads of an answer",
                            request=response.request,
                        )
                    chunks.extend(pieces)
        except TimeoutError:
            raise AnswerDeadline(
                f"gave no complete answer by its deadline, {size_text(raw)} of its body received",
                request=response.request,
                received=raw,
            ) from None
    finally:
        await response.aclose()
    return b"".join(chunks)


class Sender(Protocol):
    """What sends a request and hands back its answer unread: a :class:`Session`, or an
    ``httpx.AsyncClient``."""

    async def send(self, request: httpx.Request, *, stream: bool = ...) -> httpx.Response: ...


async def send_bounded(
    client: Sender,
    request: httpx.Request,
    *,
    max_bytes: int,
    max_decoded: int,
    seconds: float,
) -> httpx.Response:
    """Send ``request`` and read its whole answer within ``seconds`` in all (connecting,
    sending, the headers and the body) and the size limits of :func:`read_bounded`.

    The answer comes back read and decoded: its ``content`` is the body, its headers no
    longer name a ``Content-Encoding``. Raises :class:`AnswerRefused`,
    :class:`AnswerDeadline` or any other ``httpx.HTTPError`` of sending."""
    deadline = asyncio.get_running_loop().time() + seconds
    # Only what read_bounded can decode within its limits (httpx would offer br and zstd
    # when their packages happen to be installed).
    request.headers["Accept-Encoding"] = ACCEPT_ENCODING
    try:
        async with asyncio.timeout_at(deadline):
            response = await client.send(request, stream=True)
    except TimeoutError:
        raise AnswerDeadline(f"timed out after {seconds:g} s", request=request) from None
    try:
        body = await read_bounded(response, max_bytes=max_bytes, max_decoded=max_decoded, deadline=deadline)
    except AnswerDeadline as exc:
        got = f" with {size_text(exc.received)} of its body received" if exc.received else ""
        raise AnswerDeadline(
            f"timed out after {seconds:g} s{got}",
            request=request,
            received=exc.received,
        ) from None
    dropped = (b"content-encoding", b"content-length")
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in dropped]
    if body:
        headers.append((b"Content-Length", b"%d" % len(body)))
    # What httpx.Response(content=body) makes, without running the body through its
    # decoders once more (it is decoded already, and its Content-Encoding gone).
    answer = httpx.Response(
        response.status_code,
        headers=headers,
        stream=httpx.ByteStream(body),
        request=request,
        extensions=response.extensions,
    )
    answer._content = body
    return answer


# --- the connections to one supplier ------------------------------------------------------
#
# One Session per supplier (admin API or OKE endpoints): a pool of keep-alive connections up
# to the supplier's concurrency, its default headers and timeouts fixed once. Requests and
# answers are httpx's types, so a test, or the embedded sandbox, can put any httpx transport
# underneath; the network itself is reached through aiohttp, whose C parser and pool cost a
# quarter of httpcore's CPU per request (benchmarks/client_cpu.py measures both).


# A path okectl joins to a session's base URL without parsing it again: segments of
# unreserved characters only, none starting with a dot (so no "." or ".." to resolve),
# which httpx's parsing would leave exactly as they are. Any other path is parsed.
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+")
# A bodiless request's body, as httpx makes it.
_NO_BODY = httpx.ByteStream(b"")


class Session:
    """Sends one supplier's requests over a pool of ``connections`` keep-alive connections.

    ``transport``: an httpx transport to use instead of the network (an in-process supplier,
    a test's recording transport). ``headers`` go on every request; ``timeout`` is httpx's
    per-phase timeout (connect, read, write), which ``send_bounded``'s one deadline per
    answer backs up. ``base_url``: what a request's URL that is not a whole http(s) URL
    (a path, ``/…``) is under."""

    __slots__ = ("_base", "_base_text", "_extensions", "_headers", "_last", "_transport")

    def __init__(
        self,
        *,
        connections: int,
        timeout: float,
        headers: Mapping[str, str] = {},
        transport: httpx.AsyncBaseTransport | None = None,
        ca_file: str | None = None,
        base_url: str | None = None,
    ) -> None:
        self._transport = transport if transport is not None else NetworkTransport(
            connections=connections, ssl_context=tls_context(ca_file)
        )
        self._headers = dict(headers)
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._base_text = (base_url or "").rstrip("/")
        # Parsed once: every path is joined to it as it is (see _url).
        self._base = _joinable(self._base_text) if base_url else None
        # The headers of the last bodiless request, Host first as httpx puts it: a
        # supplier's requests mostly differ in their path only.
        self._last: tuple[tuple[str, tuple[tuple[str, str], ...]], httpx.Headers] | None = None

    def _url(self, url: str, params: Mapping[str, Any] | None) -> httpx.URL:
        base = self._base
        if base is not None and not params and _PLAIN_PATH.fullmatch(url) and len(url) < 8192:
            return _with_path(base, base._uri_reference.path + url)
        if self._base_text and not url.startswith(("http://", "https://")):
            url = self._base_text + url
        return httpx.URL(url) if params is None else httpx.URL(url, params=params)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Request:
        """A request with the session's headers under ``headers``; ``content`` (bytes, with
        its Content-Type among ``headers``) or ``form`` as its body. ``url``: a whole http(s)
        URL, or a path under the session's ``base_url``."""
        target = self._url(url, params)
        if content is None and form is None and method not in ("POST", "PUT", "PATCH"):
            # What httpx makes of a bodiless request (Host first, an empty body read),
            # without building its headers anew for each one.
            key = (target.netloc.decode("ascii"), tuple(headers.items()) if headers else ())
            last = self._last
            if last is None or last[0] != key:
                merged = {**self._headers, **headers} if headers else self._headers
                host = [] if not key[0] or any(k.lower() == "host" for k in merged) else [("Host", key[0])]
                last = self._last = (key, httpx.Headers([*host, *merged.items()]))
            request = httpx.Request(
                method, target, headers=last[1], stream=_NO_BODY, extensions=self._extensions
            )
            request.read()
            return request
        merged = {**self._headers, **headers} if headers else self._headers
        return httpx.Request(
            method, target, headers=merged, content=content, data=form, extensions=self._extensions,
        )

    async def send(self, request: httpx.Request, *, stream: bool = True) -> httpx.Response:
        """The answer, its body not read yet (read it with :func:`read_bounded`; or use
        :func:`send_bounded`, which does both). Redirects are never followed: a supplier's
        redirect is an answer like any other."""
        response = await self._transport.handle_async_request(request)
        response.request = request
        if not stream:
            await response.aread()
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def _joinable(base_url: str) -> httpx.URL | None:
    """``base_url`` parsed, when paths can be joined to it as they are: no query or
    fragment, and httpx's URLs built the way :func:`_with_path` relies on (checked against
    httpx's own parsing, so another httpx version falls back to parsing every URL)."""
    base = httpx.URL(base_url)
    try:
        parsed = base._uri_reference
        if parsed.query is not None or parsed.fragment is not None:
            return None
        probe = "/tenants/a-1/environments/b.c/clients/d_e~f"
        if _with_path(base, parsed.path + probe) != httpx.URL(base_url + probe):
            return None
    except (AttributeError, TypeError, ValueError):
        return None
    return base


def _with_path(base: httpx.URL, path: str) -> httpx.URL:
    """``base`` with ``path`` (already in httpx's canonical form: see _PLAIN_PATH)."""
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = base._uri_reference._replace(path=path)
    return url


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``, …), as
    httpx would use it. Credentials only come from the variable itself, never from a file."""
    split = httpx.URL(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(split.scheme)
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if proxy is None or bypass(split.host, proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class _Body(httpx.AsyncByteStream):
    """An aiohttp answer's body as raw bytes as they arrive (no decoding: read_bounded
    decodes, within its limits). Closing before the end drops the connection: one left
    mid-body is never used again."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except Exception as exc:
            raise _httpx_error(exc, self._request, reading=True) from exc

    async def aclose(self) -> None:
        response = self._response
        if response.content.is_eof():
            response.release()
        else:
            response.close()


class NetworkTransport(httpx.AsyncBaseTransport):
    """The network, through aiohttp, for httpx's requests: certificates verified with
    ``ssl_context``, at most ``connections`` open at once and kept alive between requests,
    no redirect followed, no cookie kept, nothing decompressed (read_bounded does that), no
    request sent a second time behind okectl's back (its retry policy decides that)."""

    def __init__(self, *, connections: int, ssl_context: ssl.SSLContext) -> None:
        self._connections = connections
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
        self._proxies: dict[tuple[str, str, int | None], str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._connections,
                limit_per_host=0,
                ssl=self._ssl,
                # An idle connection is dropped after 4.5 s (httpx kept one 5 s): before
                # common servers' own keep-alive timeouts (uvicorn's is 5 s) can close it
                # under a request.
                keepalive_timeout=4.5,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # The request's own headers only: httpx's Request carries Host, Accept,
            # Accept-Encoding, User-Agent as okectl set them.
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
            # A large header block is a hostile answer: refused, as httpx refuses one.
            max_line_size=16 * 1024,
            max_field_size=16 * 1024,
        )
        # A write's outcome is okectl's to judge: aiohttp would otherwise send a PUT or
        # DELETE again on another connection when a kept-alive one failed, and a
        # conditional write it made itself would come back as 412 for okectl.
        session._retry_connection = False
        self._session = session
        return session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        import aiohttp

        phases = request.extensions.get("timeout") or {}
        key = (phases.get("connect"), phases.get("read"), phases.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            timeout = aiohttp.ClientTimeout(
                total=None, connect=pool if pool is not None else None, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    def _proxy(self, url: httpx.URL) -> str | None:
        key = (url.scheme, url.host, url.port)
        if key not in self._proxies:
            self._proxies[key] = _proxy_for(str(url.copy_with(path="/", query=None, fragment=None)))
        return self._proxies[key]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import yarl

        session = self._session or self._open()
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{url.scheme}://'.", request=request
            )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        body = request.content if request.method not in ("GET", "HEAD") or request.content else None
        try:
            response = await session.request(
                request.method,
                yarl.URL(str(url), encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self._timeout(request),
                proxy=self._proxy(url),
            )
        except Exception as exc:
            raise _httpx_error(exc, request, reading=False) from exc
        answered = list(response.raw_headers)
        return httpx.Response(response.status, headers=answered, stream=_Body(response, request))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _httpx_error(exc: Exception, request: httpx.Request, *, reading: bool) -> Exception:
    """aiohttp's error as httpx's, so one set of rules (what may have reached the server,
    what is a certificate failure) reads them all. Anything else is returned as it is."""
    import aiohttp

    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Never connected: nothing was sent (a certificate failure is one of these).
        return httpx.ConnectError(text, request=request)
    # In few words of okectl's own: aiohttp's text for these quotes what the server sent.
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("the server closed the connection, no answer", request=request)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError("the answer ended before its body was complete", request=request)
    if isinstance(exc, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError("the answer is not valid HTTP", request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return httpx.ReadError(text, request=request) if reading else httpx.WriteError(text, request=request)
    return exc
