"""Fault and latency injection, and how the HTTP provider copes with it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from okectl.model.resources import Address
from okectl.providers.base import OutcomeUnknown, ProviderError
from tests.support.sandbox import SUPPLIER, SUPPORT, Sandbox, run


def test_faults_are_off_by_default_and_settable_at_run_time(sandbox: Sandbox) -> None:
    current = httpx.get(f"{sandbox.url}/_sandbox/faults").json()
    assert current["latency_ms"] == 0 and current["fail_rate"] == 0 and current["rate_limit"] == 0
    assert sandbox.faults(latency_ms=5, fail_rate=0.5)["fail_rate"] == 0.5
    assert httpx.delete(f"{sandbox.url}/_sandbox/faults").json()["fail_rate"] == 0


def test_unknown_or_invalid_fault_settings_are_refused(sandbox: Sandbox) -> None:
    for settings in ({"latency": 5}, {"fail_rate": 2}, {"fail_next": -1}, {"retry_after": "soon"}):
        resp = httpx.post(f"{sandbox.url}/_sandbox/faults", json=settings)
        assert resp.status_code == 400, settings
        assert resp.headers["content-type"] == "application/problem+json"


def test_retry_after_is_honoured(sandbox: Sandbox) -> None:
    sandbox.faults(throttle_next=1, retry_after=1, match="/tenants")

    async def scenario() -> tuple[list[str], float, int]:
        async with sandbox.provider() as p:
            start = time.monotonic()
            tenants = await p.list_tenants()
            return tenants, time.monotonic() - start, p.requests

    tenants, elapsed, requests = run(scenario())
    assert tenants == ["21RC", "23KM"]
    assert 1.0 <= elapsed < 2.5
    assert requests == 3  # token, 429, retry


def test_an_injected_429_carries_retry_after(sandbox: Sandbox) -> None:
    sandbox.faults(throttle_next=1, retry_after=7)
    resp = httpx.get(sandbox.api() + "/tenants")
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"
    assert resp.headers["content-type"] == "application/problem+json"


def test_a_rate_limit_answers_429_and_the_provider_still_gets_through(sandbox: Sandbox) -> None:
    sandbox.faults(rate_limit=20, retry_after=1)
    with httpx.Client() as client:
        statuses = [client.get(sandbox.api() + "/tenants").status_code for _ in range(40)]
    assert 429 in statuses and 401 in statuses
    sandbox.faults(rate_limit=50)

    async def scenario() -> int:
        async with sandbox.provider() as p:
            results = await asyncio.gather(*(p.list_tenants() for _ in range(60)))
            assert all(r == ["21RC", "23KM"] for r in results)
            return p.requests

    assert run(scenario()) >= 61


def test_503s_are_retried_with_backoff(sandbox: Sandbox) -> None:
    sandbox.faults(fail_next=2, retry_after=0, match="/resources")

    async def scenario() -> tuple[int, int]:
        async with sandbox.provider() as p:
            found = await p.read_tenants(["21RC"])
            return len(found), p.requests

    assert run(scenario()) == (3, 4)  # token, 503, 503, 200


def test_retries_give_up_cleanly_naming_supplier_address_and_support(sandbox: Sandbox) -> None:
    sandbox.faults(fail_rate=1.0, retry_after=0, match="/environments/")
    addr = Address(SUPPLIER, "21RC", "test")

    async def scenario() -> ProviderError:
        async with sandbox.provider(max_attempts=3) as p:
            with pytest.raises(ProviderError) as info:
                await p.create(addr, {"type": "test", "oke_version": "1.0"}, {})
            assert p.requests == 4  # token and three attempts
            return info.value

    error = run(scenario())
    # A server may act on a request and still answer 503, so a write is not known undone.
    assert isinstance(error, OutcomeUnknown)
    assert str(error) == (
        f"{addr}: supplier {SUPPLIER}: create failed: answered 503 Service Unavailable; "
        "gave up after 3 attempts. An attempt may have been carried out all the same: run okectl "
        f"plan to see; contact {SUPPORT}"
    )
    assert error.status == 503 and error.address == str(addr)
    assert "Traceback" not in str(error)


def test_a_retry_after_longer_than_allowed_is_reported_not_waited(sandbox: Sandbox) -> None:
    sandbox.faults(throttle_next=1, retry_after=3600)

    async def scenario() -> str:
        async with sandbox.provider(max_retry_after_seconds=30) as p:
            start = time.monotonic()
            with pytest.raises(ProviderError) as info:
                await p.list_tenants()
            assert time.monotonic() - start < 1
            return str(info.value)

    message = run(scenario())
    assert "asks to wait 3600 s" in message and SUPPORT in message


def test_dropped_connections_are_retried(sandbox: Sandbox) -> None:
    sandbox.faults(drop_next=1, match="/resources")

    async def scenario() -> tuple[int, int]:
        async with sandbox.provider() as p:
            found = await p.read_tenants(["21RC"])
            return len(found), p.requests

    assert run(scenario()) == (3, 3)


def test_dropped_connections_everywhere_end_in_a_clear_error(sandbox: Sandbox) -> None:
    sandbox.faults(drop_rate=1.0, match="/tenants")

    async def scenario() -> str:
        async with sandbox.provider(max_attempts=2) as p:
            with pytest.raises(ProviderError) as info:
                await p.list_tenants()
            return str(info.value)

    message = run(scenario())
    assert message.startswith(f"supplier {SUPPLIER}: listing tenants failed: connection failed (")
    assert message.endswith(f"gave up after 2 attempts; contact {SUPPORT}")


def test_latency_is_added_to_every_api_request(sandbox: Sandbox) -> None:
    sandbox.faults(latency_ms=60)
    start = time.monotonic()
    httpx.get(sandbox.api() + "/tenants")
    assert time.monotonic() - start >= 0.06


def test_slow_responses_run_into_the_timeout(sandbox: Sandbox) -> None:
    sandbox.faults(slow_rate=1.0, slow_ms=3000, match="/tenants")

    async def scenario() -> str:
        async with sandbox.provider(timeout=0.2, max_attempts=2) as p:
            with pytest.raises(ProviderError) as info:
                await p.list_tenants()
            return str(info.value)

    assert "timed out after 0.2 s; gave up after 2 attempts" in run(scenario())


def test_a_slow_response_within_the_timeout_arrives_whole(sandbox: Sandbox) -> None:
    sandbox.faults(slow_rate=1.0, slow_ms=100, match="/resources")

    async def scenario() -> int:
        async with sandbox.provider() as p:
            return len(await p.read_tenants(["21RC", "23KM"]))

    assert run(scenario()) == 4


def test_the_provider_keeps_to_the_suppliers_concurrency(sandbox: Sandbox) -> None:
    sandbox.faults(latency_ms=30)
    httpx.delete(f"{sandbox.url}/_sandbox/stats")

    async def scenario() -> None:
        async with sandbox.provider() as p:  # concurrency 4
            await asyncio.gather(*(p.read_tenants(["21RC", "23KM"]) for _ in range(6)))

    run(scenario())
    stats = httpx.get(f"{sandbox.url}/_sandbox/stats").json()
    assert stats["max_in_flight"] == 4
    assert stats["requests"] == 13  # token and 12 tenant reads


def test_a_write_whose_answer_was_lost_is_not_reported_as_a_conflict(sandbox: Sandbox) -> None:
    # The server applies the create, then the connection drops: the retry meets 412, and
    # the provider sees that what is there is what it wrote.
    sandbox.faults(drop_next=1, match="/environments/test")
    addr = Address(SUPPLIER, "21RC", "test")
    labels = {"managed-by": "okectl", "okectl/repository": "example"}

    async def scenario() -> tuple[str, int]:
        async with sandbox.provider() as p:
            created = await p.create(addr, {"type": "test", "oke_version": "1.0"}, labels)
            return created.spec["type"], p.requests

    # token, PUT (dropped), PUT (412), GET
    assert run(scenario()) == ("test", 4)


def test_a_delete_whose_answer_was_lost_is_done(sandbox: Sandbox) -> None:
    addr = Address(SUPPLIER, "23KM", "acceptance")

    async def scenario() -> None:
        async with sandbox.provider() as p:
            current = await p.read(addr)
            assert current is not None
            sandbox.faults(drop_next=1, match="/environments/acceptance")
            before = p.requests
            await p.delete(addr, current.etag)
            # DELETE (carried out, answer dropped), DELETE (404), GET (404): confirmed gone
            assert p.requests - before == 3
            assert await p.read(addr) is None

    run(scenario())


def test_a_write_whose_answers_are_all_lost_is_reported_as_outcome_unknown(sandbox: Sandbox) -> None:
    # Every answer is cut off halfway, after the server acted: the first attempt created
    # the environment, and okectl cannot know.
    sandbox.faults(drop_rate=1.0, match="/environments/test")
    addr = Address(SUPPLIER, "21RC", "test")
    labels = {"managed-by": "okectl", "okectl/repository": "example"}

    async def scenario() -> str:
        async with sandbox.provider(max_attempts=2) as p:
            with pytest.raises(OutcomeUnknown) as info:
                await p.create(addr, {"type": "test", "oke_version": "1.0"}, labels)
            return str(info.value)

    message = run(scenario())
    assert message.startswith(f"{addr}: supplier {SUPPLIER}: create failed: connection failed (")
    assert "gave up after 2 attempts. An attempt may have been carried out all the same" in message
    sandbox.faults()

    async def after() -> bool:
        async with sandbox.provider() as p:
            return await p.read(addr) is not None

    assert run(after())


def test_a_read_that_fails_every_time_is_a_plain_failure(sandbox: Sandbox) -> None:
    sandbox.faults(drop_rate=1.0, match="/environments/production")

    async def scenario() -> ProviderError:
        async with sandbox.provider(max_attempts=2) as p:
            with pytest.raises(ProviderError) as info:
                await p.read(Address(SUPPLIER, "21RC", "production"))
            return info.value

    error = run(scenario())
    assert not isinstance(error, OutcomeUnknown)


def test_a_write_told_to_wait_too_long_after_a_503_is_outcome_unknown(sandbox: Sandbox) -> None:
    # A 503 may come after the server acted; when it also asks to wait an hour, okectl
    # stops there and cannot say whether the write happened.
    sandbox.faults(fail_next=1, retry_after=3600, match="/environments/test")
    addr = Address(SUPPLIER, "21RC", "test")

    async def scenario() -> ProviderError:
        async with sandbox.provider() as p:
            with pytest.raises(ProviderError) as info:
                await p.create(addr, {"type": "test", "oke_version": "1.0"}, {})
            return info.value

    error = run(scenario())
    assert isinstance(error, OutcomeUnknown)
    assert str(error) == (
        f"{addr}: supplier {SUPPLIER}: create answered 503 Service Unavailable and asks to wait "
        "3600 s; try again later. An attempt may have been carried out all the same: run okectl "
        f"plan to see; contact {SUPPORT}"
    )
