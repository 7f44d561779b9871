"""How the HTTP provider copes with suppliers that answer badly: error texts that echo
secrets, documents of the wrong shape, 500s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from okectl.model.resources import Address
from okectl.providers.base import ProviderError
from tests.support.fake_supplier import CLIENT_SECRET, fake_supplier, provider
from tests.support.sandbox import SUPPLIER, SUPPORT, run

ROLE = Address(SUPPLIER, "21RC", "production", "role", "assessor")
CLIENT = Address(SUPPLIER, "21RC", "production", "client", "eduplan")
CLIENT_VALUE = 'client-Secret/with "quotes" & ü'


def _leaks(exc: ProviderError, *secrets: str) -> list[str]:
    text = f"{exc}\n{exc.detail or ''}"
    return [s for s in secrets if s in text or s.split("/")[0] in text]


def test_a_token_refusal_that_echoes_the_form_does_not_show_the_client_secret() -> None:
    async def echo_form(request: Request) -> Response:
        body = (await request.body()).decode()
        return JSONResponse(
            {"error": "invalid_client", "error_description": f"bad credentials in {body}"}, status_code=400
        )

    async def api(request: Request) -> Response:
        return JSONResponse({"items": []})

    async def scenario(url: str) -> ProviderError:
        async with provider(url) as p:
            with pytest.raises(ProviderError) as caught:
                await p.list_tenants()
            return caught.value

    with fake_supplier(api, token=echo_form) as url:
        exc = run(scenario(url))
    assert "token request was refused (400: bad credentials in grant_type=client_credentials" in str(exc)
    assert "(sensitive)" in str(exc)
    assert _leaks(exc, CLIENT_SECRET, "api+s3cr3t", "api%2Bs3cr3t", "s3cr3t") == []


@pytest.mark.parametrize("status", [422, 412, 400, 503])
def test_a_write_refusal_that_echoes_the_body_does_not_show_secrets(status: int) -> None:
    async def echo_body(request: Request) -> Response:
        raw = (await request.body()).decode()
        headers = {"Retry-After": "0"} if status == 503 else {}
        return JSONResponse(
            {"title": "refused", "detail": f"cannot accept {raw} (auth {CLIENT_SECRET})"},
            status_code=status,
            headers=headers,
        )

    async def scenario(url: str) -> ProviderError:
        async with provider(url, max_attempts=2) as p:
            with pytest.raises(ProviderError) as caught:
                body = {"client_id": "eduplan-21rc", "scopes": ["a"], "secret": CLIENT_VALUE}
                await p.update(CLIENT, body, {}, 'W/"1"')
            return caught.value

    with fake_supplier(echo_body) as url:
        exc = run(scenario(url))
    assert exc.status == status
    text = f"{exc}\n{exc.detail or ''}"
    for secret in (CLIENT_VALUE, json.dumps(CLIENT_VALUE)[1:-1], "client-Secret", CLIENT_SECRET, "s3cr3t"):
        assert secret not in text, (secret, text)
    if status in (422, 412):
        assert exc.detail is not None and '"secret":"(sensitive)"' in exc.detail


def _serving(document: Any, status: int = 200) -> Any:
    async def api(request: Request) -> Response:
        return Response(json.dumps(document), status_code=status, media_type="application/json")

    return api


BAD_LISTS = [
    [1, 2, 3],
    {"items": None},
    {"tenants": []},
    {"items": [1]},
    {"items": [{"tenant": "21RC", "name": "production", "etag": "x"}]},  # no kind
    {"items": [{"kind": "environment", "tenant": "21RC", "name": "production"}]},  # no etag
    {"items": [{"kind": "role", "environment": "production", "role": "r", "etag": "x"}]},  # no tenant
    {"items": [{"kind": "client", "tenant": "21RC", "environment": "p", "etag": "x"}]},  # no system
    {"items": [{"kind": "widget", "tenant": "21RC", "etag": "x"}]},
    {"items": [{"kind": "environment", "tenant": "21RC", "name": "p", "etag": "x", "labels": [1]}]},
    {"items": [], "next_page_token": 5},
]


def _understood(exc: ProviderError, what: str) -> None:
    message = str(exc)
    assert f"supplier {SUPPLIER}: {what} answered with a document okectl does not understand: " in message
    assert SUPPORT in message
    assert CLIENT_SECRET not in message


@pytest.mark.parametrize("strategy", ["per-tenant", "all-tenants"])
@pytest.mark.parametrize("document", BAD_LISTS)
def test_a_malformed_resource_listing_is_a_provider_error(document: Any, strategy: str) -> None:
    async def scenario(url: str) -> ProviderError:
        async with provider(url, read_strategy=strategy) as p:
            with pytest.raises(ProviderError) as caught:
                await p.read_tenants(["21RC"])
            return caught.value

    with fake_supplier(_serving(document)) as url:
        exc = run(scenario(url))
    _understood(exc, "reading tenant 21RC" if strategy == "per-tenant" else "reading resources")


@pytest.mark.parametrize(
    "document",
    [[1, 2, 3], {"items": None}, {"tenants": []}, {"items": [{"code": "21RC"}]}, {"items": ["21RC"]}],
)
def test_a_malformed_tenant_listing_is_a_provider_error(document: Any) -> None:
    async def scenario(url: str) -> ProviderError:
        async with provider(url) as p:
            with pytest.raises(ProviderError) as caught:
                await p.list_tenants()
            return caught.value

    with fake_supplier(_serving(document)) as url:
        _understood(run(scenario(url)), "listing tenants")


@pytest.mark.parametrize("document", [{"items": [{"released": "2024-01-01"}]}, {"items": {}}, []])
def test_a_malformed_release_listing_is_a_provider_error(document: Any) -> None:
    async def scenario(url: str) -> ProviderError:
        async with provider(url) as p:
            with pytest.raises(ProviderError) as caught:
                await p.releases()
            return caught.value

    with fake_supplier(_serving(document)) as url:
        _understood(run(scenario(url)), "listing releases")


@pytest.mark.parametrize(
    "document",
    [
        {},
        [],
        {"kind": "role", "tenant": "21RC", "environment": "production", "role": "assessor"},
        {"kind": "client", "environment": "production", "system": "eduplan", "etag": "x"},
    ],
)
def test_a_created_resource_answered_without_its_fields_is_a_provider_error(document: Any) -> None:
    async def scenario(url: str) -> ProviderError:
        async with provider(url) as p:
            with pytest.raises(ProviderError) as caught:
                await p.create(CLIENT, {"client_id": "c", "scopes": [], "secret": CLIENT_VALUE}, {})
            return caught.value

    with fake_supplier(_serving(document, status=201)) as url:
        exc = run(scenario(url))
    _understood(exc, "create")
    assert str(exc).startswith(f"{CLIENT}: ")
    assert CLIENT_VALUE not in str(exc)


def test_a_500_is_retried() -> None:
    calls: list[str] = []

    async def flaky(request: Request) -> Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return JSONResponse({"title": "Internal Server Error"}, status_code=500)
        return JSONResponse({"items": [{"school": "21RC"}]})

    async def scenario(url: str) -> list[str]:
        async with provider(url) as p:
            return await p.list_tenants()

    with fake_supplier(flaky) as url:
        assert run(scenario(url)) == ["21RC"]
    assert calls == ["/tenants", "/tenants"]


def test_a_write_retried_after_a_500_that_meets_412_is_confirmed() -> None:
    # The supplier carried out the first PUT, then failed; the retry meets 412 and the
    # provider finds its own write there.
    labels = {"managed-by": "okectl"}
    stored = {
        "kind": "role",
        "tenant": "21RC",
        "environment": "production",
        "role": "assessor",
        "name": "Beoordelaar",
        "groups": ["b", "a"],
        "labels": labels,
        "etag": 'W/"2"',
    }
    puts: list[int] = []

    async def api(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(stored)
        puts.append(1)
        status = 500 if len(puts) == 1 else 412
        return JSONResponse({"title": "x"}, status_code=status)

    async def scenario(url: str) -> str:
        async with provider(url) as p:
            done = await p.update(ROLE, {"name": "Beoordelaar", "groups": ["a", "b"]}, labels, 'W/"1"')
            return done.etag

    with fake_supplier(api) as url:
        assert run(scenario(url)) == 'W/"2"'
    assert len(puts) == 2
