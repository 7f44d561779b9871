"""`okectl apply`: a saved plan, checked against the suppliers and applied; or a plan made
now, shown and applied once confirmed.

One apply per repository at a time (the apply lock): the check against the suppliers
and the writes after it must not interleave with another apply's. What the person
running it sees as it goes (notes, the plan, the question, each write) goes through an
``ApplyView``; the command itself prints nothing, asks nothing and never exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from okectl.engine.apply import Journal, apply_changes, apply_lock, report_in_flight
from okectl.engine.freeze import FROZEN
from okectl.engine.planner import (
    evaluate_policy,
    guard,
    make_plan,
    scoped_policy,
    with_policy,
    written_secrets,
)
from okectl.engine.safety import UnsafePlan, check_safety
from okectl.engine.workspace import Workspace
from okectl.errors import EXIT_POLICY, OkectlError
from okectl.files import read_regular
from okectl.model.resources import Address
from okectl.plans.changes import Change, Plan
from okectl.plans.document import (
    MAX_PLAN_BYTES,
    PlanFileError,
    SavedPlan,
    plan_document,
    read_plan,
    secret_digests,
)
from okectl.plans.outcomes import ApplyResult, Outcome, StopSignal
from okectl.plans.run import PlanRun
from okectl.plans.saved import (
    VerifiedPlan,
    check_against,
    check_claims,
    check_reviewed,
    claimed_scope,
    touched,
)
from okectl.policy.findings import PolicyReport

if TYPE_CHECKING:
    from okectl.requests.mail import Sent


class ApplyView(Protocol):
    """What apply tells the person running it, and asks them, as it goes."""

    def note(self, line: str) -> None:
        """A line about the run itself (a stale lock taken over, writes left in flight)."""

    def planned(self, run: PlanRun) -> None:
        """The plan made now, before anything is decided on it."""

    def confirm(self, run: PlanRun) -> bool:
        """Whether to apply the plan made now."""

    def start(self, total: int) -> None:
        """The writes are about to start."""

    def written(self, outcome: Outcome) -> None:
        """One write is done (on the event loop: quick)."""


class Unattended:
    """Says nothing and applies without asking: for tests and callers that decided already."""

    def note(self, line: str) -> None:
        pass

    def planned(self, run: PlanRun) -> None:
        pass

    def confirm(self, run: PlanRun) -> bool:
        return True

    def start(self, total: int) -> None:
        pass

    def written(self, outcome: Outcome) -> None:
        pass


class PolicyRefused(OkectlError):
    """Apply refuses while policy errors stand: one line per finding, then why."""

    exit_code = EXIT_POLICY

    def __init__(self, report: PolicyReport) -> None:
        self.report = report
        super().__init__(
            f"refusing to apply: {len(report.errors)} policy error(s) stand; fix them or add a waiver"
        )

    def lines(self) -> list[str]:
        return [
            f"{f.path}:{f.line}:{f.col}: [{f.policy}] {f.address}: {f.message}" for f in self.report.errors
        ] + [str(self)]


Status = Literal["applied", "nothing to apply", "cancelled", "already applied"]


@dataclass
class Applied:
    """What an apply did: ``status`` says which way it ended; ``result`` holds every write
    when writes were made (then ``ok`` and ``stopped_by`` matter)."""

    status: Status
    result: ApplyResult | None = None
    plan_file: Path | None = None
    # With --send: the change requests handed to the SMTP server, or why that failed.
    sent: list[Sent] | None = None
    send_failed: str | None = None
    # Open change requests not sent (without --send, or written before and never sent).
    unsent: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.result is None or self.result.ok) and self.send_failed is None


def load_plan_file(path: Path) -> SavedPlan:
    """A saved plan's file, read as the untrusted input it is."""
    try:
        raw = read_regular(path, what="the plan file", limit=MAX_PLAN_BYTES)
    except OkectlError as exc:
        raise PlanFileError(str(exc)) from None
    return read_plan(raw, str(path))


def verify_saved(ws: Workspace, saved: SavedPlan, *, allow_partial: bool, force: bool) -> VerifiedPlan:
    """The saved plan checked against a fresh plan of the resources it touches, and the
    safety guards run again on the changes it would apply. Nothing is written here."""
    check_claims(saved, repository=ws.repository, suppliers=ws.state.suppliers)
    # Reads only the tenants the plan touches; the guards run below, on the file's changes.
    fresh = make_plan(ws, scope=touched(saved), force=force)
    salt = saved.secret_salt
    written = written_secrets(ws, [c.change for c in saved.changes]) if salt is not None else {}
    verified = check_against(
        saved,
        fresh,
        ws.desired,
        secrets_now=secret_digests(written, salt) if salt is not None else {},
        allow_partial=allow_partial,
    )
    to_apply = [c for c in verified.changes if c.address not in verified.refused]
    safety = check_safety(Plan(changes=to_apply), ws.state, fresh.owned_envs, force=force)
    if safety:
        raise UnsafePlan(safety)
    return verified


@dataclass
class _Decided:
    """What is to be applied, whichever way it was planned."""

    changes: list[Change]
    refused: dict[Address, str]
    checksum: str
    policy: PolicyReport | None
    # The plan made now, to confirm (None: a saved plan, applied as it is).
    run: PlanRun | None = None
    # Frozen changes let through by --break-glass: recorded in the journal, with its reason.
    broken: list[Address] = field(default_factory=list)


# A break-glass reason goes into the journal and in front of whoever reads it: one line.
MAX_REASON = 500


def check_break_glass(reason: str | None) -> str | None:
    """The reason a frozen change is written anyway, checked: one line of text."""
    if reason is None:
        return None
    text = reason.strip()
    if not text:
        raise OkectlError(
            "--break-glass needs a reason: --reason TEXT says why a frozen change must go in now"
        )
    if len(text) > MAX_REASON or any(not ch.isprintable() for ch in text):
        raise OkectlError(f"--reason: one line of text, at most {MAX_REASON} characters")
    return text


def apply(
    ws: Workspace,
    *,
    plan_file: Path | None = None,
    force: bool = False,
    allow_partial: bool = False,
    view: ApplyView | None = None,
    stopped: StopSignal | None = None,
    break_glass: str | None = None,
    reviewed: Path | None = None,
) -> Applied:
    """Apply the saved plan ``plan_file``, or a plan made now once ``view`` confirms it;
    with ``reviewed`` (a saved plan a review approved), a plan made now that makes no
    change the reviewed one does not.

    A change inside a freeze window (marked frozen) is refused, unless ``break_glass``
    gives the reason to write it anyway, which the journal keeps with the user.
    Raises PlanFileError or PlanRefused for a saved or reviewed plan that is not applied
    at all, UnsafePlan when the safety guards refuse, PolicyRefused while policy errors
    stand."""
    if allow_partial and plan_file is None:
        raise OkectlError("--allow-partial is for a saved plan: okectl apply FILE --allow-partial")
    if reviewed is not None and plan_file is not None:
        raise OkectlError(
            "give a plan FILE to apply, or --reviewed FILE to apply what planning now gives, not both"
        )
    reason = check_break_glass(break_glass)
    view = view or Unattended()
    with apply_lock(ws.root, ws.clock) as note:
        if note is not None:
            view.note(note)
        for line in report_in_flight(ws):
            view.note(line)
        if plan_file is not None:
            saved = load_plan_file(plan_file)
            # Decided from the suppliers and the desired state, never from the file alone.
            verified = verify_saved(ws, saved, allow_partial=allow_partial, force=force)
            if verified.already_applied:
                return Applied("already applied", plan_file=plan_file)
            # As the plan that made the file: the findings about what it writes, and those
            # about the repository as a whole (from the changes, not the file's own claim).
            decided = _Decided(
                verified.changes,
                dict(verified.refused),
                saved.checksum,
                scoped_policy(evaluate_policy(ws), touched(saved)),
            )
        elif reviewed is not None:
            decided = _reviewed(ws, reviewed, view, force=force)
        else:
            run = guard(with_policy(ws, make_plan(ws, force=force)))
            view.planned(run)
            decided = _Decided(run.plan.changes, {}, str(plan_document(run)["checksum"]), run.policy, run)
        if decided.policy is not None and decided.policy.errors:
            raise PolicyRefused(decided.policy)
        if not decided.changes:
            return Applied("nothing to apply", plan_file=plan_file or reviewed)
        _thaw(decided, reason, view)
        writable = any(c.address not in decided.refused for c in decided.changes)
        if decided.run is not None and writable and not view.confirm(decided.run):
            return Applied("cancelled")
        return Applied("applied", _write(ws, decided, view, stopped, reason), plan_file or reviewed)


def _reviewed(ws: Workspace, path: Path, view: ApplyView, *, force: bool) -> _Decided:
    """The plan made now over the reviewed plan's scope, checked against it: what to apply."""
    saved = load_plan_file(path)
    check_claims(saved, repository=ws.repository, suppliers=ws.state.suppliers)
    run = guard(with_policy(ws, make_plan(ws, scope=claimed_scope(saved), force=force)))
    view.planned(run)
    salt = saved.secret_salt
    written = written_secrets(ws, run.plan.changes) if salt is not None else {}
    checked = check_reviewed(
        saved, run, ws.desired, secrets_now=secret_digests(written, salt) if salt is not None else {}
    )
    made_at = f" (made at commit {saved.commit[:12]})" if saved.commit else ""
    view.note(
        f"{saved.where}{made_at}: planning now makes {len(checked.changes)} change(s), each as reviewed"
    )
    if checked.not_needed:
        shown = ", ".join(str(a) for a in checked.not_needed[:10])
        more = f" and {len(checked.not_needed) - 10} more" if len(checked.not_needed) > 10 else ""
        view.note(
            f"{len(checked.not_needed)} reviewed change(s) are no longer needed (done already, or the "
            f"configuration asks for them no more), fewer is fine: {shown}{more}"
        )
    return _Decided(checked.changes, {}, saved.checksum, run.policy, run)


def _thaw(decided: _Decided, reason: str | None, view: ApplyView) -> None:
    """Frozen changes are refused, each with its window; with a break-glass reason they
    are written, without their mark, and recorded as broken open (in ``decided``)."""
    for i, ch in enumerate(decided.changes):
        marks = [m for m in ch.marks if m.kind == FROZEN]
        if not marks or ch.address in decided.refused:
            continue
        if reason is None:
            decided.refused[ch.address] = f"frozen: {marks[0].reason}"
            continue
        decided.changes[i] = dataclasses.replace(ch, marks=tuple(m for m in ch.marks if m.kind != FROZEN))
        decided.broken.append(ch.address)
    if reason is not None and not decided.broken:
        view.note("--break-glass: no change is frozen, so nothing is broken open; applying as usual")
    elif decided.broken:
        view.note(
            f"--break-glass: writing {len(decided.broken)} frozen change(s) now; "
            f"the journal records why: {reason}"
        )


def _write(
    ws: Workspace, decided: _Decided, view: ApplyView, stopped: StopSignal | None, reason: str | None
) -> ApplyResult:
    journal = Journal(ws, plan_checksum=decided.checksum)
    if decided.broken:
        # Before any write: who broke the freeze open, why, and for which changes.
        journal.write(
            event="break-glass",
            user=journal.user,
            reason=reason,
            addresses=[str(a) for a in decided.broken],
        )
    result = None
    view.start(len(decided.changes))
    try:
        result = asyncio.run(
            apply_changes(
                ws,
                decided.changes,
                journal=journal,
                refused=decided.refused,
                on_outcome=view.written,
                stopped=stopped,
            )
        )
        result.stopped_by = stopped() if stopped is not None else None
    finally:
        # The journal ends with what is known, even when the run is interrupted.
        journal.close(result, stopped_by=stopped() if stopped is not None else None)
    return result


# --- apply --send: handing change requests to the SMTP server ---------------------------


def check_can_send(ws: Workspace) -> None:
    """--send needs an SMTP server to send through: refused before anything is planned."""
    if ws.settings.smtp is None:
        raise OkectlError(
            "--send delivers change requests through the SMTP server okectl.yaml names (smtp:), "
            "and it names none; nothing was applied (see docs/requests.md)"
        )


def deliver(ws: Workspace, applied: Applied, *, send: bool) -> Applied:
    """After an apply: with ``send``, hand every open change request never sent yet (this
    run's, and any an earlier run wrote but did not send) to the SMTP server, under the
    apply lock, and record each in its request's history; without it, name this run's.
    Nothing leaves the machine without ``send``."""
    from okectl.requests.mail import SendFailed, send_requests, unsent_requests

    mine = set(applied.result.requests) if applied.result is not None else set()
    if not send:
        if not mine:
            return applied
        return dataclasses.replace(applied, unsent=[r.id for r in unsent_requests(ws.root) if r.id in mine])
    with apply_lock(ws.root, ws.clock):
        waiting = unsent_requests(ws.root)
        if not waiting:
            return dataclasses.replace(applied, sent=[])
        try:
            sent = send_requests(
                ws.root,
                waiting,
                ws.settings.smtp,
                resolve_secret=lambda ref: ws.resolve_secret(ref.describe()),
                today=ws.clock.today(),
            )
        except SendFailed as exc:
            return dataclasses.replace(applied, sent=[], send_failed=str(exc), unsent=[r.id for r in waiting])
    return dataclasses.replace(applied, sent=sent)
