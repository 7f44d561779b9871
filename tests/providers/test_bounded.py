"""The bounded read of a supplier's answer (transport.send_bounded / read_bounded) against
a real server: what it accepts it decodes exactly, and what breaks a limit is refused."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from okectl.providers.http.transport import (
    ACCEPT_ENCODING,
    AnswerRefused,
    send_bounded,
    size_text,
)
from tests.support.fake_supplier import fake_supplier
from tests.support.sandbox import run

BODY = b'{"items": [' + b",".join(b'{"school": "%02dAB"}' % i for i in range(100)) + b"]}"


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODED = {
    "identity": BODY,
    "gzip": gzip.compress(BODY),
    "x-gzip": gzip.compress(BODY),
    "deflate": zlib.compress(BODY),
    "deflate-raw": _raw_deflate(BODY),
    # Two gzip members one after the other are one gzip stream.
    "gzip-members": gzip.compress(BODY[:500]) + gzip.compress(BODY[500:]),
}


def _fetch(encoding: str, payload: bytes, *, max_decoded: int = 1 << 20) -> tuple[bytes, httpx.Headers]:
    header = "deflate" if encoding == "deflate-raw" else "gzip" if encoding == "gzip-members" else encoding
    seen: dict[str, str] = {}

    async def answer(request: Request) -> Response:
        seen["accept-encoding"] = request.headers.get("accept-encoding", "")
        return Response(payload, headers={"Content-Encoding": header, "Content-Type": "application/json"})

    async def scenario(url: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await send_bounded(
                client, client.build_request("GET", url + "/x"), max_bytes=1 << 20,
                max_decoded=max_decoded, seconds=5,
            )

    with fake_supplier(answer) as url:
        resp = run(scenario(url))
    assert seen["accept-encoding"] == ACCEPT_ENCODING
    return resp.content, resp.headers


@pytest.mark.timeout(30)
@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_each_encoding_okectl_asks_for_is_decoded_exactly(encoding: str) -> None:
    content, headers = _fetch(encoding, ENCODED[encoding])
    assert content == BODY
    # What is handed on is the decoded body: nothing may decode it a second time.
    assert "content-encoding" not in headers


@pytest.mark.timeout(30)
@pytest.mark.parametrize("encoding", ["identity", "gzip", "deflate"])
def test_an_answer_of_exactly_the_limit_is_read_one_byte_more_is_not(encoding: str) -> None:
    assert _fetch(encoding, ENCODED[encoding], max_decoded=len(BODY))[0] == BODY
    with pytest.raises(AnswerRefused, match=rf"more than the {size_text(len(BODY) - 1)} okectl reads"):
        _fetch(encoding, ENCODED[encoding], max_decoded=len(BODY) - 1)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("encoding", "payload", "message"),
    [
        ("br", b"\x0b\x02\x80hello\x03", "Content-Encoding 'br', which okectl did not ask for"),
        ("gzip, gzip", gzip.compress(gzip.compress(BODY)), "Content-Encoding 'gzip, gzip'"),
        ("gzip", b"\x1f\x8b\x08\x00 not gzip at all", "a body that is not valid gzip"),
        ("deflate", b"\xff\xfe not deflate", "a body that is not valid deflate"),
    ],
)
def test_an_encoding_okectl_did_not_ask_for_or_cannot_read_is_refused(
    encoding: str, payload: bytes, message: str
) -> None:
    with pytest.raises(AnswerRefused, match=message) as caught:
        _fetch(encoding, payload)
    assert "\n" not in str(caught.value)


def test_sizes_read_as_a_person_reads_them() -> None:
    assert [size_text(n) for n in (512, 10 * 1024, 16 << 20, 3 << 29, 64 * 1024 + 512)] == [
        "512 bytes", "10 KiB", "16 MiB", "1.5 GiB", "64.5 KiB",
    ]
