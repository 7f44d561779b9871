"""What the HTTP provider logs at the supplier: a token renewal after a revoked token."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.sandbox import Sandbox, run


def test_a_revoked_token_is_renewed_and_says_so(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An earlier command run in this process may have set okectl's logger up silent.
    monkeypatch.setattr(logging.getLogger("okectl"), "propagate", True)

    async def scenario() -> list[str]:
        async with sandbox.provider() as p:
            first = await p.list_tenants()
            httpx.delete(f"{sandbox.url}/_sandbox/tokens").raise_for_status()
            assert await p.list_tenants() == first
            return first

    with caplog.at_level(logging.INFO, logger="okectl"):
        run(scenario())
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("okectl.providers")]
    assert any(m.endswith("obtained an access token (valid 3600 s)") for m in messages), messages
    assert any("answered 401; renewing the access token" in m for m in messages), messages
    assert any("renewed an access token" in m for m in messages), messages
