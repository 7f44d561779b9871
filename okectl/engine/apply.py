"""Applying a plan: dependency order, conditional writes, a write-ahead journal, one
apply per repository at a time.

Every write is conditional (If-Match on update and delete, If-None-Match on create), so a
resource changed at the supplier since the plan is refused rather than overwritten, and
re-running after any failure converges instead of duplicating.

The journal is written ahead: an intent record is flushed before each write goes out and
its outcome after, so a run killed outright (SIGKILL, power loss) still says which writes
were in flight; the next plan or apply confirms each of them by a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from okectl import jsontext
from okectl.engine.workspace import SecretResolver, Workspace
from okectl.errors import OkectlError
from okectl.files import read_regular, state_folder
from okectl.model.clock import SYSTEM, Clock
from okectl.model.resources import (
    LABEL_COMMIT,
    LABEL_REPOSITORY,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    SENSITIVE,
    ActualResource,
    Address,
    Resource,
)
from okectl.plans.changes import Change
from okectl.plans.outcomes import DONE, STATUSES, ApplyResult, Outcome, StopSignal
from okectl.providers.base import OutcomeUnknown, PreconditionFailed, Provider, ProviderError

log = logging.getLogger(__name__)
RUNS_DIR = Path(".okectl") / "runs"
LOCK_FILE = Path(".okectl") / "apply.lock"
# A lock names its holder in a line; a journal holds a few lines per write of a run.
MAX_LOCK_BYTES = 64 * 2**10
MAX_JOURNAL_BYTES = 256 * 2**20


class Journal:
    """JSON lines under .okectl/runs/: one line per call, flushed as it happens, so a run
    killed halfway still says what it did."""

    def __init__(self, ws: Workspace, *, plan_checksum: str) -> None:
        runs = state_folder(ws.root, RUNS_DIR)
        self.clock = ws.clock
        self.path = runs / f"{ws.clock.file_stamp()}-{plan_checksum.split(':')[-1][:12]}.jsonl"
        self.plan_checksum = plan_checksum
        self.user = _user()
        # A new file of its own: never one planted at its name, never through a link.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        self._fh: TextIO = os.fdopen(os.open(self.path, flags, 0o600), "a", encoding="utf-8")
        self.write(
            event="start",
            plan_checksum=plan_checksum,
            commit=ws.revision.commit,
            dirty=ws.revision.dirty,
            user=self.user,
            pid=os.getpid(),
        )

    def write(self, **record: Any) -> None:
        record = {"time": self.clock.stamp("milliseconds"), **record}
        self._fh.write(jsontext.line(record))
        self._fh.flush()

    def intent(self, change: Change) -> None:
        """Record a write about to go out (flushed before it is sent)."""
        self.write(
            event="intent",
            address=str(change.address),
            action=change.action,
            etag=change.etag,
            plan_checksum=self.plan_checksum,
        )

    def close(self, result: ApplyResult | None, *, stopped_by: str | None = None) -> None:
        if result is None:
            self.write(event="end", interrupted=True)
        else:
            extra: dict[str, Any] = {"interrupted": True, "signal": stopped_by} if stopped_by else {}
            self.write(event="end", **extra, **{s: len(result.by_status(s)) for s in STATUSES})
        self._fh.close()


def _user() -> str:
    import getpass  # its terminal handling is not needed before a journal starts

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def write_body(res: Resource, resolve_secret: SecretResolver, *, creating: bool) -> dict[str, Any]:
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


def _dependencies(changes: list[Change]) -> dict[int, list[int]]:
    """For each change (by index), the changes that must be done before it starts: a
    client or role waits for its environment's create or update, and an environment's
    delete for every change of its clients and roles. Nothing else waits: each supplier's
    writes flow within its own limits, never held up by another supplier's."""
    env_write: dict[Address, int] = {}
    children: dict[Address, list[int]] = {}
    for i, change in enumerate(changes):
        addr = change.address
        if addr.parent is not None:
            children.setdefault(addr.parent, []).append(i)
        elif change.action != "delete":
            env_write[addr] = i
    deps: dict[int, list[int]] = {}
    for i, change in enumerate(changes):
        addr = change.address
        if addr.parent is not None:
            if addr.parent in env_write:
                deps[i] = [env_write[addr.parent]]
        elif change.action == "delete":
            deps[i] = children.get(addr, [])
    return deps


class Carrier(Protocol):
    """How one supplier's changes are carried out. ``handles``: the marks on a change it
    knows how to carry out; a change with any other mark is not attempted."""

    handles: frozenset[str]

    async def __call__(self, change: Change) -> Outcome: ...

    async def aclose(self) -> None: ...


class AdminApi:
    """Carries changes out as conditional writes through a supplier's admin API (its
    adapter). Apply picks a carrier per supplier: this one, or for a supplier reached
    only through its support desk ``engine.requesting.ChangeRequests``, which writes
    change requests."""

    # The marks on a change this carrier knows how to carry out: none.
    handles: frozenset[str] = frozenset()

    def __init__(self, provider: Provider, ws: Workspace, labels: dict[str, str]) -> None:
        self.provider = provider
        self.ws = ws
        self.labels = labels

    async def __call__(self, change: Change) -> Outcome:
        return await _one(self.provider, change, self.ws.desired, self.labels, self.ws.resolve_secret)

    async def aclose(self) -> None:
        await self.provider.aclose()


def _unhandled(change: Change, carrier: Carrier) -> str | None:
    """Why the carrier will not carry out a marked change, if it will not."""
    for mark in change.marks:
        if mark.kind not in carrier.handles:
            return f"marked {mark.kind} ({mark.reason}); this apply does not carry out {mark.kind} changes"
    return None


async def apply_changes(
    ws: Workspace,
    changes: list[Change],
    *,
    journal: Journal,
    refused: dict[Address, str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    stopped: StopSignal | None = None,
) -> ApplyResult:
    """Apply the changes in dependency order. ``on_outcome`` hears of each write as soon as
    it is done, for progress displays (it runs on the event loop: it must be quick).
    ``stopped`` says whether (and by which signal) the run was asked to stop: no write
    starts after that, the ones under way finish."""
    from okectl.engine.requesting import ChangeRequests, by_requests
    from okectl.providers.registry import make_provider

    result = ApplyResult(journal=str(journal.path))
    refused = refused or {}
    labels = {
        MANAGED_BY: MANAGED_BY_VALUE,
        LABEL_REPOSITORY: ws.repository,
        LABEL_COMMIT: ws.revision.commit or "unknown",
    }
    carriers: dict[str, Carrier] = {}
    slots: dict[str, asyncio.Semaphore] = {}
    # Addresses whose change did not happen: their dependants are not attempted.
    blocked: set[tuple[Address, str]] = set()

    def stop() -> str | None:
        return stopped() if stopped is not None else None

    def not_done(change: Change) -> str | None:
        """Why the change is not attempted, if it is not (checked before it waits for a slot)."""
        addr = change.address
        if addr in refused:
            return refused[addr]
        if (signal_name := stop()) is not None:
            return f"the run was stopped ({signal_name})"
        if addr.supplier not in carriers:
            return f"supplier {addr.supplier!r} is no longer configured; cannot reach it"
        if _depends_on_blocked(change, blocked):
            return "an environment it depends on failed"
        return _unhandled(change, carriers[addr.supplier])

    deps = _dependencies(changes)
    done = [asyncio.Event() for _ in changes]

    async def run(i: int, change: Change) -> None:
        for j in deps.get(i, ()):
            await done[j].wait()
        try:
            await write(change)
        finally:
            done[i].set()

    async def write(change: Change) -> None:
        addr = change.address
        why = not_done(change)
        if why is not None:
            outcome = Outcome(addr, change.action, "refused" if addr in refused else "not-attempted", why)
        else:
            async with slots[addr.supplier]:
                signal_name = stop()
                if signal_name is not None:
                    outcome = Outcome(
                        addr, change.action, "not-attempted", f"the run was stopped ({signal_name})"
                    )
                else:
                    journal.intent(change)
                    outcome = await carriers[addr.supplier](change)
        if outcome.status not in DONE:
            blocked.add((addr, change.action))
        result.outcomes.append(outcome)
        journal.write(
            event="call",
            address=str(addr),
            action=change.action,
            outcome=outcome.status,
            message=outcome.message,
            etag=change.etag,
            **({"request": outcome.request} if outcome.request else {}),
        )
        log.info(
            "%s %s: %s%s",
            change.action,
            addr,
            outcome.status,
            f" ({outcome.message})" if outcome.message else "",
            extra={"address": str(addr), "action": change.action, "outcome": outcome.status},
        )
        if on_outcome is not None:
            on_outcome(outcome)

    try:
        for sid in sorted({c.address.supplier for c in changes}):
            supplier = ws.state.suppliers.get(sid)
            if supplier is None:
                continue
            if by_requests(supplier):
                carriers[sid] = ChangeRequests(
                    ws, [c for c in changes if c.address.supplier == sid and c.address not in refused]
                )
            else:
                provider = make_provider(supplier, repo_root=ws.root, settings=ws.settings)
                carriers[sid] = AdminApi(provider, ws, labels)
            # Writes wait for a slot here, not inside the provider: the journal's intent
            # is written only when the write is about to go out, so "in flight" means it.
            slots[sid] = asyncio.Semaphore(supplier.limits.concurrency)
        await asyncio.gather(*(run(i, c) for i, c in enumerate(changes)))
    finally:
        await asyncio.gather(*(c.aclose() for c in carriers.values()), return_exceptions=True)
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
    resolve_secret: SecretResolver,
) -> Outcome:
    addr = change.address
    # Set once the write is handed to the adapter: what goes wrong after that may have
    # happened at the supplier all the same.
    sent = False
    try:
        if change.action == "delete":
            sent = True
            await provider.delete(addr, change.etag or "")
        else:
            res = desired[addr]
            body = write_body(res, resolve_secret, creating=change.action == "create")
            sent = True
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
        # An adapter that failed unexpectedly once it had the write may have carried it out.
        return Outcome(
            addr,
            change.action,
            "unknown" if sent else "failed",
            f"unexpected error ({type(exc).__name__}) in the {_adapter_name(provider)} adapter; "
            "run okectl plan to see what happened",
        )
    return Outcome(addr, change.action, "applied")


def _adapter_name(provider: Provider) -> str:
    api = provider.supplier.api
    return api.provider if api is not None else "unknown"


# --- one apply per repository ----------------------------------------------------------


class ApplyLocked(OkectlError):
    """Another apply of this repository is running (or its lock cannot be read)."""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _read_holder(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The holder a lock names, or why it cannot be read. The lock is okectl's own state
    but read as hostile input all the same (a link to /dev/zero or a FIFO would hang the
    run, and `git add -f` can commit one): a small regular file, or nothing."""
    try:
        raw = read_regular(path, what="the apply lock", limit=MAX_LOCK_BYTES)
    except OkectlError as exc:
        return None, str(exc)
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return None, f"{path}: the apply lock exists but cannot be read"
    return data, None


def _holder(path: Path) -> dict[str, Any] | None:
    return _read_holder(path)[0]


def _describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"


@contextlib.contextmanager
def apply_lock(root: Path, clock: Clock = SYSTEM) -> Iterator[str | None]:
    """Hold the repository's apply lock (``.okectl/apply.lock``, naming its holder) for the
    duration; yields a note when a stale lock (its process gone) was taken over.

    A second apply is refused with one line. A lock left by a process that no longer runs
    on this host is stale and taken over; one from another host cannot be checked, so the
    message says how to remove it."""
    path = state_folder(root, LOCK_FILE.parent) / LOCK_FILE.name
    mine = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": clock.stamp(),
        "user": _user(),
    }
    text = jsontext.line(mine)
    note: str | None = None
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            holder, unreadable = _read_holder(path)
            if holder is None:
                raise ApplyLocked(f"{unreadable}; if no apply is running, remove it") from None
            pid = holder.get("pid")
            if holder.get("host") != mine["host"] or not isinstance(pid, int) or _alive(pid):
                hint = (
                    ""
                    if holder.get("host") == mine["host"]
                    else f"; if it is no longer running, remove {path}"
                )
                raise ApplyLocked(
                    f"another apply of this repository is running ({_describe(holder)}); "
                    f"wait for it to finish{hint}"
                ) from None
            # Stale: its process is gone. Moved aside atomically, then checked, so two
            # applies finding the same stale lock cannot both take it over.
            aside = path.with_name(f"{path.name}.stale-{os.getpid()}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            if _holder(aside) != holder:
                # Another apply took it over meanwhile: give its lock back.
                os.rename(aside, path)
                continue
            aside.unlink()
            note = (
                f"note: took over a stale apply lock left by {_describe(holder)}; "
                "that run ended without releasing it"
            )
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        break
    else:
        raise ApplyLocked(f"{path}: could not take the apply lock; try again")
    try:
        yield note
    finally:
        # Only our own lock is removed.
        if _holder(path) == mine:
            with contextlib.suppress(OSError):
                path.unlink()


def lock_holder_running(root: Path) -> bool:
    """Whether another apply of this repository is running right now (this process holding
    the lock does not count: its own writes have not started)."""
    holder = _holder(root / LOCK_FILE)
    if holder is None:
        return os.path.lexists(root / LOCK_FILE)
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname():
        return True
    return isinstance(pid, int) and pid != os.getpid() and _alive(pid)


# --- writes left in flight by an interrupted run ----------------------------------------


@dataclass(frozen=True, slots=True)
class InFlight:
    journal: Path
    address: Address
    action: str
    etag: str | None


def in_flight(root: Path) -> list[InFlight]:
    """Writes whose intent was journaled without an outcome, in runs not yet looked into."""
    return _scan(root)[0]


def _journals(root: Path) -> tuple[list[tuple[Path, list[str]]], list[str]]:
    """The lines of each journal under .okectl/runs/, and why any was not read. Journals
    are okectl's own files, read as hostile input all the same: only small regular files
    in real folders (a FIFO, a link to a device, a huge file would hang or drown the run)."""
    folder = root
    for part in RUNS_DIR.parts:
        folder = folder / part
        try:
            real = stat.S_ISDIR(os.lstat(folder).st_mode)
        except OSError:
            real = False
        if not real:
            # Nothing okectl wrote is there (apply refuses to keep its state through a link).
            return [], []
    found: list[tuple[Path, list[str]]] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.jsonl")):
        try:
            regular = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            continue
        try:
            if not regular:
                raise OkectlError(f"{path}: cannot read the journal: not a regular file")
            raw = read_regular(path, what="the journal", limit=MAX_JOURNAL_BYTES)
        except OkectlError as exc:
            problems.append(f"{exc}; skipped (okectl writes no such journal): remove it")
            continue
        found.append((path, raw.decode("utf-8", errors="replace").splitlines()))
    return found, problems


def _scan(root: Path) -> tuple[list[InFlight], list[str]]:
    journals, problems = _journals(root)
    out: list[InFlight] = []
    for path, lines in journals:
        pending: dict[tuple[Any, Any], dict[str, Any]] = {}
        looked_into = False
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the last line of a run killed while writing it
            if not isinstance(record, dict):
                continue
            event = record.get("event")
            key = (record.get("address"), record.get("action"))
            if event == "intent":
                pending[key] = record
            elif event == "call":
                pending.pop(key, None)
            elif event == "recovered":
                looked_into = True
        if looked_into:
            continue
        for (address, action), record in pending.items():
            try:
                addr = Address.parse(str(address))
            except ValueError:
                continue
            etag = record.get("etag")
            out.append(InFlight(path, addr, str(action), etag if isinstance(etag, str) else None))
    return out, problems


def _verdict(item: InFlight, found: ActualResource | None, repository: str) -> str:
    if item.action == "delete":
        return "carried out (it is gone)" if found is None else "not carried out (it is still there)"
    if item.action == "create":
        if found is None:
            return "not carried out (it does not exist)"
        return (
            "carried out (it exists)" if found.owned_by(repository) else "not carried out (made by another)"
        )
    if found is None:
        return "it no longer exists"
    if found.etag == item.etag:
        return "not carried out (unchanged since the plan)"
    return f"carried out, or changed by someone else since (ETag now {found.etag})"


async def _read_back(
    ws: Workspace, items: list[InFlight]
) -> dict[tuple[str, str], dict[Address, ActualResource] | str]:
    from okectl.providers.registry import make_provider

    tenants = sorted({(i.address.supplier, i.address.school) for i in items})
    out: dict[tuple[str, str], dict[Address, ActualResource] | str] = {}
    for sid in sorted({s for s, _ in tenants}):
        supplier = ws.state.suppliers.get(sid)
        schools = [c for s, c in tenants if s == sid]
        if supplier is None:
            for school in schools:
                out[(sid, school)] = f"supplier {sid!r} is no longer configured"
            continue
        try:
            provider = make_provider(supplier, repo_root=ws.root, settings=ws.settings)
        except OkectlError as exc:
            for school in schools:
                out[(sid, school)] = f"could not be read: {exc}"
            continue
        try:
            for school in schools:
                try:
                    found = await provider.read_tenants([school])
                except ProviderError as exc:
                    out[(sid, school)] = f"could not be read: {exc}"
                    continue
                out[(sid, school)] = {a.address: a for a in found}
        finally:
            await provider.aclose()
    return out


def report_in_flight(ws: Workspace) -> list[str]:
    """What an interrupted apply left in flight, as a read finds it now (nothing, cheaply,
    when no apply ever ran here)."""
    if not os.path.lexists(ws.root / RUNS_DIR):
        return []
    return confirm_in_flight(ws)


def confirm_in_flight(ws: Workspace) -> list[str]:
    """Lines saying which writes an interrupted run left in flight and what a read of each
    finds now. A run whose writes were all confirmed is marked as looked into, so it is
    reported once. Nothing when an apply is running now: its writes are its own."""
    root = ws.root
    if lock_holder_running(root):
        return []
    items, problems = _scan(root)
    notes = [f"note: {problem}" for problem in problems]
    if not items:
        return notes
    from okectl.engine.requesting import requested_in_flight

    found = asyncio.run(_read_back(ws, items))
    # A supplier changed by its support desk was not written to: what stands is whether a
    # change request asks for the change.
    asked = requested_in_flight(ws, [(i.address, i.action) for i in items])
    journals = sorted({i.journal for i in items})
    lines = [
        f"note: {len(items)} write(s) of an interrupted apply were in flight "
        f"({', '.join(str(j.relative_to(root)) for j in journals)}); read back now:"
    ]
    unconfirmed: set[Path] = set()
    for item in items:
        seen = found[(item.address.supplier, item.address.school)]
        if (item.address, item.action) in asked:
            verdict = asked[(item.address, item.action)]
        elif isinstance(seen, str):
            verdict = f"not confirmed: {seen}"
            unconfirmed.add(item.journal)
        else:
            verdict = _verdict(item, seen.get(item.address), ws.repository)
        lines.append(f"  {item.address} ({item.action}): {verdict}")
    for journal in journals:
        if journal in unconfirmed:
            continue
        confirmed = [i for i in items if i.journal == journal]
        record = {
            "time": ws.clock.stamp("milliseconds"),
            "event": "recovered",
            "confirmed": [f"{i.address} ({i.action})" for i in confirmed],
        }
        # Appended, like every journal record: the journal is a log, never rewritten, and
        # never written through a link put in its place.
        with contextlib.suppress(OSError):
            fd = os.open(journal, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(jsontext.line(record))
    return notes + lines
