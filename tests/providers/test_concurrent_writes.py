"""Concurrent writes: a genuine conflict on one is never mistaken for another call's retry."""

from __future__ import annotations

import asyncio

import pytest

from okectl.model.resources import Address
from okectl.providers.base import PreconditionFailed
from tests.support.sandbox import SUPPLIER, Sandbox, run

OWNED = {"managed-by": "okectl", "okectl/repository": "example", "okectl/commit": "def5678"}


def test_a_conflict_among_concurrent_writes_fails_only_that_write(sandbox: Sandbox) -> None:
    roles = [Address(SUPPLIER, "21RC", "production", "role", f"role-{n:02d}") for n in range(24)]
    victim = roles[7]

    async def scenario() -> None:
        async with sandbox.provider() as setup:
            created = await asyncio.gather(
                *(setup.create(a, {"name": "Rol", "groups": ["old"]}, OWNED) for a in roles)
            )
            etags = {c.address: c.etag for c in created}
            # Someone changes one role's groups by hand (labels and name unchanged).
            await setup.update(victim, {"name": "Rol", "groups": ["by-hand"]}, OWNED, etags[victim])

        async with sandbox.provider() as p:
            results = await asyncio.gather(
                *(p.update(a, {"name": "Rol", "groups": ["new"]}, OWNED, etags[a]) for a in roles),
                return_exceptions=True,
            )
            failed = {a for a, r in zip(roles, results, strict=True) if isinstance(r, BaseException)}
            assert failed == {victim}
            error = results[roles.index(victim)]
            assert isinstance(error, PreconditionFailed) and error.status == 412
            current = await p.read(victim)
            assert current is not None and current.spec["groups"] == ["by-hand"]
            for a in roles:
                if a != victim:
                    done = await p.read(a)
                    assert done is not None and done.spec["groups"] == ["new"]

    run(scenario())


def test_a_conflict_on_a_concurrent_delete_is_reported(sandbox: Sandbox) -> None:
    roles = [Address(SUPPLIER, "21RC", "production", "role", f"gone-{n:02d}") for n in range(16)]
    victim = roles[3]

    async def scenario() -> None:
        async with sandbox.provider() as setup:
            created = await asyncio.gather(
                *(setup.create(a, {"name": "Rol", "groups": []}, OWNED) for a in roles)
            )
            etags = {c.address: c.etag for c in created}
            await setup.delete(victim, etags[victim])  # deleted by hand

        async with sandbox.provider() as p:
            results = await asyncio.gather(*(p.delete(a, etags[a]) for a in roles), return_exceptions=True)
            failed = {a for a, r in zip(roles, results, strict=True) if isinstance(r, BaseException)}
            assert failed == {victim}
            with pytest.raises(PreconditionFailed):
                raise results[roles.index(victim)]  # type: ignore[misc]

    run(scenario())
