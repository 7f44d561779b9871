"""Applying a plan: dependency order, conditional writes, a journal of every call.

Every write is conditional (If-Match on update and delete, If-None-Match on create), so a
resource changed at the supplier since the plan is refused rather than overwritten, and
re-running after any failure converges instead of duplicating.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from okectl.config.repository import DesiredState
from okectl.engine.plan import Change
from okectl.errors import OkectlError
from okectl.model.resources import (
    LABEL_COMMIT,
    LABEL_REPOSITORY,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SENSITIVE,
    Address,
    Resource,
)
from okectl.providers.base import OutcomeUnknown, PreconditionFailed, Provider, ProviderError

RUNS_DIR = Path(".okectl") / "runs"
# unknown: okectl gave up on a write that may have reached the supplier all the same.
STATUSES = ("applied", "failed", "unknown", "refused", "not-attempted")


@dataclass(slots=True)
class Outcome:
    address: Address
    action: str
    status: str  # applied | failed | unknown | refused | not-attempted
    message: str = ""


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    journal: Path | None = None

    def by_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return all(o.status == "applied" for o in self.outcomes)

    def summary(self) -> str:
        n = {s: len(self.by_status(s)) for s in STATUSES}
        unknown = f"{n['unknown']} outcome unknown, " if n["unknown"] else ""
        text = (
            f"Apply: {n['applied']} applied, {n['failed']} failed, {unknown}{n['refused']} refused, "
            f"{n['not-attempted']} not attempted."
        )
        if not self.ok:
            text += " Run okectl plan and okectl apply again once the cause is fixed; it converges."
        return text


class Journal:
    """JSON lines under .okectl/runs/: one line per call, flushed as it happens, so a run
    killed halfway still says what it did."""

    def __init__(self, root: Path, *, plan_checksum: str, commit: str | None, dirty: bool) -> None:
        runs = root / RUNS_DIR
        runs.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = runs / f"{stamp}-{plan_checksum.split(':')[-1][:12]}.jsonl"
        self._fh: TextIO = self.path.open("a", encoding="utf-8")
        self.write(
            event="start",
            plan_checksum=plan_checksum,
            commit=commit,
            dirty=dirty,
            user=_user(),
            pid=os.getpid(),
        )

    def write(self, **record: Any) -> None:
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
        self._fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self._fh.flush()

    def close(self, result: ApplyResult | None) -> None:
        if result is None:
            self.write(event="end", interrupted=True)
        else:
            self.write(
                event="end",
                **{s: len(result.by_status(s)) for s in STATUSES},
            )
        self._fh.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def write_body(res: Resource, resolve_secret: Any, *, creating: bool) -> dict[str, Any]:
    """What is sent to the supplier: the spec, with a secret reference turned into its value."""
    body: dict[str, Any] = {}
    for key, value in res.spec.items():
        if key in SENSITIVE[res.kind]:
            if value is None:
                continue
            secret = resolve_secret(value)
            if secret is None:
                if creating:
                    raise OkectlError(f"secret reference {value} is not set; set it and apply again")
                continue
            body[key] = secret
        else:
            body[key] = value
    return body


def _phase(change: Change) -> int:
    env = change.address.kind == "environment"
    if change.action == "delete":
        return 2 if env else 1
    return 0 if env else 1


async def apply_changes(
    state: DesiredState,
    root: Path,
    changes: list[Change],
    desired: dict[Address, Resource],
    *,
    repository: str,
    commit: str | None,
    journal: Journal,
    resolve_secret: Any,
    refused: dict[Address, str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> ApplyResult:
    """Make the changes; ``on_outcome`` hears of each write as soon as it is done, for
    progress displays (it runs on the event loop: it must be quick)."""
    from okectl.providers.registry import make_provider

    result = ApplyResult(journal=journal.path)
    refused = refused or {}
    labels = {MANAGED_BY: MANAGED_BY_VALUE, LABEL_REPOSITORY: repository, LABEL_COMMIT: commit or "unknown"}
    providers: dict[str, Provider] = {}
    # Addresses whose change did not happen: their dependants are not attempted.
    blocked: set[tuple[Address, str]] = set()
    try:
        for sid in sorted({c.address.supplier for c in changes}):
            supplier = state.suppliers.get(sid)
            if supplier is None:
                continue
            providers[sid] = make_provider(supplier, repo_root=root)

        async def run(change: Change) -> None:
            addr = change.address
            if addr in refused:
                outcome = Outcome(addr, change.action, "refused", refused[addr])
            elif addr.supplier not in providers:
                outcome = Outcome(
                    addr,
                    change.action,
                    "not-attempted",
                    f"supplier {addr.supplier!r} is no longer configured; cannot reach it",
                )
            elif _depends_on_blocked(change, blocked):
                outcome = Outcome(addr, change.action, "not-attempted", "an environment it depends on failed")
            else:
                outcome = await _one(providers[addr.supplier], change, desired, labels, resolve_secret)
            if outcome.status != "applied":
                blocked.add((addr, change.action))
            result.outcomes.append(outcome)
            journal.write(
                event="call",
                address=str(addr),
                action=change.action,
                outcome=outcome.status,
                message=outcome.message,
                etag=change.etag,
            )
            if on_outcome is not None:
                on_outcome(outcome)

        for phase in (0, 1, 2):
            batch = [c for c in changes if _phase(c) == phase]
            await asyncio.gather(*(run(c) for c in batch))
    finally:
        await asyncio.gather(*(p.aclose() for p in providers.values()), return_exceptions=True)
    return result


def _depends_on_blocked(change: Change, blocked: set[tuple[Address, str]]) -> bool:
    addr = change.address
    if addr.kind != "environment":
        # A client or role cannot be made in an environment that could not be created.
        return change.action == "create" and (addr.parent, "create") in blocked
    if change.action == "delete":
        # An environment is deleted only once all its children are gone.
        return any(a.parent == addr and action == "delete" for a, action in blocked)
    return False


async def _one(
    provider: Provider,
    change: Change,
    desired: dict[Address, Resource],
    labels: dict[str, str],
    resolve_secret: Any,
) -> Outcome:
    addr = change.address
    try:
        if change.action == "delete":
            await provider.delete(addr, change.etag or "")
        else:
            res = desired[addr]
            body = write_body(res, resolve_secret, creating=change.action == "create")
            if change.action == "create":
                await provider.create(addr, body, labels)
            else:
                await provider.update(addr, body, labels, change.etag or "")
    except PreconditionFailed:
        return Outcome(
            addr,
            change.action,
            "refused",
            "changed at the supplier since the plan was made (412); run okectl plan again",
        )
    except OutcomeUnknown as exc:
        return Outcome(addr, change.action, "unknown", str(exc))
    except ProviderError as exc:
        return Outcome(addr, change.action, "failed", str(exc))
    except OkectlError as exc:
        return Outcome(addr, change.action, "failed", str(exc))
    except Exception as exc:
        # Whatever went wrong with this call, the others go on and the summary and the
        # journal still say what happened; the type is enough, the text may hold a body.
        return Outcome(
            addr, change.action, "failed", f"unexpected error ({type(exc).__name__}); run plan again"
        )
    return Outcome(addr, change.action, "applied")


