"""Conformance faults of one sandbox environment, set at run time through
``/_sandbox/oke/faults``, and the hostile answers some of them send.

Contract faults change what an answer says (a missing field, a wrong content type, broken
paging); the hostile ones change how it arrives (a gzip bomb, a body that never ends, one
byte at a time, or nothing for a long while), as an endpoint on the internet may.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from starlette.responses import Response, StreamingResponse

PAGING_FAULTS = ("oversize", "repeat", "endless")
MiB = 1024 * 1024
# How much a gzip bomb inflates to, and how big the "huge" body says it is.
BOMB_DECODED = 1024 * MiB
HUGE_BODY = 1536 * MiB
# Even a hostile answer of the sandbox's ends some time: a client that never hangs up
# must not keep a test server busy for ever.
HOSTILE_SECONDS = 120.0
SLOW_LORIS_INTERVAL = 0.05


@dataclass
class OkeFaults:
    """Conformance faults of one environment (all off by default)."""

    missing_field: bool = False  # items lack a field the profile requires
    wrong_consumer_key: bool = False  # consumer extensions under another consumerKey
    # GET / names this OKE version instead of the served one; a number, as a careless
    # endpoint writes 1.10 unquoted, names it as a JSON number.
    claim_version: str | float | None = None
    reject_cancelled: bool = False  # 400 for a result on a cancelled association
    no_auth: bool = False  # operations answer without a token
    wrong_error_body: bool = False  # 4xx problems with status a number on v5 and no title
    wrong_content_type: bool = False  # 200 answers as text/plain
    # "oversize": pageSize ignored (every item on one page); "repeat": the next page repeats
    # the first; "endless": hasNextPage is always true
    broken_paging: str | None = None
    ignore_filters: bool = False  # listings ignore the query filters the profile declares
    slow_ms: int = 0  # every answer but the token endpoint's starts this late
    slow_loris: bool = False  # answers trickle out a byte at a time
    gzip_bomb: bool = False  # a small gzip body that inflates to 1 GiB
    huge_body: bool = False  # a 1.5 GiB body, announced in Content-Length
    endless_body: bool = False  # a body that never ends (no Content-Length)
    # Secrets echoed back, raw and encoded: the token in headers and text fields of every
    # answer, the client secret in the token endpoint's answer
    echo_secrets: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OkeFaults:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown OKE fault(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        out = cls()
        for name, value in data.items():
            if name == "claim_version":
                wrong = isinstance(value, bool) or not isinstance(value, (str, int, float))
                if value is not None and wrong:
                    raise ValueError("claim_version must be a version string, a number or null")
            elif name == "broken_paging":
                if value is not None and value not in PAGING_FAULTS:
                    raise ValueError(f"broken_paging is one of {', '.join(PAGING_FAULTS)}, or null")
            elif name == "slow_ms":
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 600_000:
                    raise ValueError("slow_ms is a whole number of milliseconds up to 600000")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            setattr(out, name, value)
        if out.gzip_bomb:
            gzip_bomb()  # built now, so the first answer is as quick as any other
        return out

    @property
    def hostile(self) -> bool:
        return self.slow_loris or self.gzip_bomb or self.huge_body or self.endless_body


@cache
def gzip_bomb() -> bytes:
    """A valid gzip member of about 1 MiB that inflates to `BOMB_DECODED` zero bytes.

    Built from one fully flushed deflate block repeated (each one stands alone after a full
    flush), so it costs a megabyte of compression work, not a gigabyte."""
    block_size = MiB
    zeros = bytes(block_size)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    count = BOMB_DECODED // block_size
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (BOMB_DECODED % 2**32).to_bytes(4, "little")
    return header + block * count + end + trailer


async def _bounded(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    stop = time.monotonic() + HOSTILE_SECONDS
    async for chunk in chunks:
        if time.monotonic() > stop:
            return
        yield chunk


async def _endless() -> AsyncIterator[bytes]:
    yield b'{"pageSize":10,"pageNumber":1,"hasPreviousPage":false,"hasNextPage":false,"items":['
    item = b'{"componentId":"00000000-0000-4000-8000-000000000000","name":"x"},' * 1024
    while True:
        yield item
        await asyncio.sleep(0)


async def _huge() -> AsyncIterator[bytes]:
    chunk = b" " * MiB
    for _ in range(HUGE_BODY // MiB):
        yield chunk
        await asyncio.sleep(0)


async def _trickle(body: bytes) -> AsyncIterator[bytes]:
    # A slow-loris answer: the headers at once, then one byte at a time, with every byte
    # arriving well within any per-read timeout a client may have.
    for i in range(len(body)):
        yield body[i : i + 1]
        await asyncio.sleep(SLOW_LORIS_INTERVAL)
    while True:
        yield b" "
        await asyncio.sleep(SLOW_LORIS_INTERVAL)


def hostile_answer(faults: OkeFaults, media: str) -> Response:
    """The answer a hostile endpoint sends instead of the real one."""
    if faults.gzip_bomb:
        return Response(gzip_bomb(), media_type=media, headers={"Content-Encoding": "gzip"})
    if faults.huge_body:
        return StreamingResponse(
            _bounded(_huge()), media_type=media, headers={"Content-Length": str(HUGE_BODY)}
        )
    if faults.endless_body:
        return StreamingResponse(_bounded(_endless()), media_type=media)
    return StreamingResponse(_bounded(_trickle(b'{"items": []}')), media_type=media)


def echoed(secret: str) -> str:
    """A secret as a careless or hostile endpoint may echo it, in every form at once: raw,
    JSON-escaped, URL-encoded (``/`` escaped or kept, ``+`` for space), base64 and base64url
    (padded or not, alone and behind ``Bearer `` and ``Authorization: Bearer ``, so the
    secret starts at every byte offset), hex in both cases and HTML character references."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    def b64(text: str) -> list[str]:
        raw = text.encode()
        std, url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
        return [std, std.rstrip("="), url, url.rstrip("=")]

    raw = secret.encode()
    forms = [
        secret,
        json.dumps(secret)[1:-1],
        "".join(f"\\u{ord(c):04x}" for c in secret),
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret),
        *b64(secret),
        *b64(f"Bearer {secret}"),
        *b64(f"Authorization: Bearer {secret}"),
        raw.hex(),
        raw.hex().upper(),
        "".join(f"&#{ord(c)};" for c in secret),
        "".join(f"&#x{ord(c):x};" for c in secret),
    ]
    return " ".join(forms)


ECHO_FIELDS = frozenset(
    {"name", "contactEmail", "title", "detail", "description", "scope", "error_description"}
)


def echo_into(body: bytes, secret: str) -> bytes:
    """The answer with ``secret`` written into every text field a reader shows."""
    import json

    try:
        doc = json.loads(body)
    except ValueError:
        return body

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (f"{v} {echoed(secret)}" if k in ECHO_FIELDS and isinstance(v, str) else walk(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return json.dumps(walk(doc)).encode()
