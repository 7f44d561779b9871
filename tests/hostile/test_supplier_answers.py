"""Supplier answers that would make okectl report a write better than it went: each one is
served by a real HTTP server, and the provider must say "outcome unknown", never "done"."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from okectl.model.resources import Address
from okectl.providers.base import OutcomeUnknown
from tests.sandbox.conftest import SUPPLIER, run
from tests.sandbox.fake import fake_supplier, provider

ENV = Address(SUPPLIER, "21RC", "production")
ROLE = Address(SUPPLIER, "21RC", "production", "role", "assessor")
LABELS = {"managed-by": "okectl", "okectl/repository": "example"}
STORED_ROLE: dict[str, Any] = {
    "kind": "role",
    "tenant": "21RC",
    "environment": "production",
    "role": "assessor",
    "name": "Beoordelaar",
    "groups": ["a"],
    "labels": LABELS,
    "etag": 'W/"1"',
}


def test_a_delete_answered_503_then_404_while_the_resource_stays_is_outcome_unknown() -> None:
    deletes: list[str] = []

    async def api(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(STORED_ROLE)  # it is still there
        deletes.append(request.headers.get("if-match", ""))
        if len(deletes) == 1:
            return JSONResponse({"title": "Service Unavailable"}, status_code=503)
        return JSONResponse({"title": "Not Found"}, status_code=404)

    async def scenario(url: str) -> str:
        async with provider(url) as p:
            with pytest.raises(OutcomeUnknown) as caught:
                await p.delete(ROLE, 'W/"1"')
            return str(caught.value)

    with fake_supplier(api) as url:
        message = run(scenario(url))
    assert deletes == ['W/"1"', 'W/"1"']
    assert (
        f"{ROLE}: supplier {SUPPLIER}: delete a retry answered 404 (nothing to delete), but a read "
        in message
    )
    assert "still finds it" in message and "An attempt may have been carried out" in message


def test_a_delete_answered_503_then_404_counts_once_a_read_finds_it_gone() -> None:
    calls: list[str] = []

    async def api(request: Request) -> Response:
        calls.append(request.method)
        if request.method == "GET":
            return JSONResponse({"title": "Not Found"}, status_code=404)
        status = 503 if calls.count("DELETE") == 1 else 404
        return JSONResponse({"title": "x"}, status_code=status)

    async def scenario(url: str) -> None:
        async with provider(url) as p:
            await p.delete(ROLE, 'W/"1"')

    with fake_supplier(api) as url:
        run(scenario(url))
    assert calls == ["DELETE", "DELETE", "GET"]


def test_a_delete_answered_200_is_confirmed_by_a_read() -> None:
    async def api(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(STORED_ROLE)
        return JSONResponse({"deleted": True}, status_code=200)

    async def scenario(url: str) -> None:
        async with provider(url) as p:
            await p.delete(ROLE, 'W/"1"')

    with fake_supplier(api) as url, pytest.raises(OutcomeUnknown, match="answered 200 instead of 204"):
        run(scenario(url))


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"ok": True}, "a document okectl does not understand"),
        ("not an object", "a document okectl does not understand"),
        ({**STORED_ROLE, "role": "invigilator"}, f"another resource ({ROLE.parent}/role/invigilator)"),
        ({**STORED_ROLE, "labels": {"managed-by": "someone-else"}}, "labels other than the ones sent"),
    ],
)
def test_an_update_answered_2xx_with_a_body_that_breaks_the_contract_is_outcome_unknown(
    answer: Any, problem: str
) -> None:
    async def api(request: Request) -> Response:
        return JSONResponse(answer, status_code=200)

    async def scenario(url: str) -> str:
        async with provider(url) as p:
            with pytest.raises(OutcomeUnknown) as caught:
                await p.update(ROLE, {"name": "Beoordelaar", "groups": ["a"]}, LABELS, 'W/"1"')
            return str(caught.value)

    with fake_supplier(api) as url:
        message = run(scenario(url))
    assert problem in message
    assert "An attempt may have been carried out all the same" in message
