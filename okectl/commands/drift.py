"""`okectl drift`: what drifted at the suppliers, grouped by cause, and what each
supplier's ``drift:`` mode does about it.

``detect`` only reports. ``heal`` applies the configuration again to the drifted
resources, and only to them: the changes are saved as a plan and handed to apply, which
checks that plan against the suppliers afresh and keeps every guard (the lock, the
journal, If-Match, the safety thresholds, policy errors, protection); nothing here
writes to a supplier itself. ``accept`` writes what the supplier has into the YAML
(``okectl.gitops.drift.accept``), policy-checked, optionally on a new branch.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from okectl.commands.apply import Applied, ApplyView, apply
from okectl.commands.plan import save
from okectl.config.models import Supplier
from okectl.engine.workspace import Workspace
from okectl.errors import EXIT_POLICY, OkectlError
from okectl.gitops.drift.detect import DriftReport, Finding, Place, find_drift
from okectl.model.resources import Address
from okectl.model.scope import Scope
from okectl.plans.changes import REQUESTED, Plan
from okectl.plans.outcomes import ReadProgress, StopSignal

if TYPE_CHECKING:
    from okectl.gitops.drift.accept import Accepted

# Why a place of a heal-mode finding is left to apply.
MIXED = (
    "its change also holds what the configuration changed and is not applied yet: "
    "okectl apply carries out both"
)


@dataclass
class Healed:
    """What healing did: the findings it was for, apply's account of the writes, or why
    apply refused to write (its lines), and the places it left alone."""

    findings: list[Finding]
    applied: Applied | None = None
    refused: list[str] = field(default_factory=list)
    refused_exit: int = 1
    left: list[tuple[Place, str]] = field(default_factory=list)
    # Changes a reopened change request already asks the supplier's support desk for
    # again: nothing to write, by address, with why.
    asked: dict[Address, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.refused and (self.applied is None or self.applied.ok)


Status = Literal[
    "reported", "to heal", "healed", "requested", "not healed", "to accept", "accepted", "not accepted"
]
# A finding nothing more is to be done about in this run: healed, accepted, or (at a
# supplier changed by its support desk) asked for again in a change request.
SETTLED: frozenset[Status] = frozenset({"healed", "requested", "accepted"})


@dataclass(frozen=True)
class Outcome:
    """What became of one finding: its status, and why or where (branch, reasons)."""

    status: Status
    detail: tuple[str, ...] = ()


@dataclass
class DriftRun:
    report: DriftReport
    healed: Healed | None = None
    accepted: Accepted | None = None

    def outcome(self, finding: Finding) -> Outcome:
        if finding.mode == "heal":
            return self._healed(finding)
        if finding.mode == "accept":
            return self._accepted(finding)
        return Outcome("reported")

    def _healed(self, finding: Finding) -> Outcome:
        healed = self.healed
        if healed is None:
            return Outcome("to heal", ("okectl drift --heal heals it",))
        left = tuple(f"{p.address}: {why}" for p, why in healed.left if p in finding.places)
        if healed.refused:
            return Outcome("not healed", (*left, *healed.refused))
        written = {}
        if healed.applied is not None and healed.applied.result is not None:
            written = {o.address: o for o in healed.applied.result.outcomes}
        changes = [c for place in finding.places if not place.mixed for c in place.changes]
        outcomes = [o for o in (written.get(c.address) for c in changes) if o is not None]
        failed = tuple(
            f"{o.address} ({o.action}): {o.status}{': ' + o.message if o.message else ''}"
            for o in outcomes
            if o.status not in ("applied", "requested")
        )
        if left or failed:
            return Outcome("not healed", (*left, *failed))
        # Healing a supplier changed by its support desk is asking it again.
        asked = healed.asked
        requested = (
            *(f"{o.address} ({o.action}): {o.message}" for o in outcomes if o.status == "requested"),
            *(f"{c.address} ({c.action}): {asked[c.address]}" for c in changes if c.address in asked),
        )
        if requested:
            return Outcome("requested", requested)
        return Outcome("healed")

    def _accepted(self, finding: Finding) -> Outcome:
        accepted = self.accepted
        if accepted is None:
            return Outcome("to accept", ("okectl drift --accept --branch NAME accepts it",))
        for refused, reasons in accepted.refused:
            if refused is finding:
                return Outcome("not accepted", tuple(reasons))
        if finding in accepted.findings and accepted.written:
            where = f"on branch {accepted.branch}" if accepted.branch else "in the work tree"
            return Outcome("accepted", (where,))
        return Outcome("to accept")

    @property
    def unresolved(self) -> list[Finding]:
        """The findings this run did not settle: reported, refused, or left to another run."""
        return [f for f in self.report.findings if self.outcome(f).status not in SETTLED]

    @property
    def ok(self) -> bool:
        """Healing, when asked for, wrote what it tried to, or was not needed."""
        return self.healed is None or self.healed.ok


def drift(
    ws: Workspace,
    *,
    scope: Scope | None = None,
    heal: bool = False,
    accept: bool = False,
    branch: str | None = None,
    author: str | None = None,
    view: ApplyView | None = None,
    stopped: StopSignal | None = None,
    progress: ReadProgress | None = None,
) -> DriftRun:
    """Find drift in ``scope``; with ``heal``, heal the findings of heal-mode suppliers;
    with ``accept``, accept those of accept-mode suppliers into the YAML (on ``branch``,
    committed as ``author`` or git's own identity, when given)."""
    if (branch is not None or author is not None) and not accept:
        raise OkectlError(
            "--branch and --author are for accepting drift: okectl drift --accept --branch NAME"
        )
    if accept and any(_accepts(s) for s in ws.state.suppliers.values()):
        # Checked before a supplier is read or written: a tree that cannot take the
        # commit must not cost a heal first.
        from okectl.gitops.drift.accept import check_can_accept

        check_can_accept(ws, branch=branch, author=author)
    report = find_drift(ws, scope=scope, progress=progress)
    run = DriftRun(report)
    if heal:
        run.healed = heal_drift(ws, report, view=view, stopped=stopped)
    if accept:
        # Round-trip YAML, GitPython and the policy engine, only when accepting.
        from okectl.gitops.drift.accept import accept_drift

        run.accepted = accept_drift(ws, report, branch=branch, author=author)
    return run


def _accepts(supplier: Supplier) -> bool:
    return "accept" in (supplier.drift.environment, supplier.drift.client, supplier.drift.role)


def heal_drift(
    ws: Workspace, report: DriftReport, *, view: ApplyView | None = None, stopped: StopSignal | None = None
) -> Healed:
    """Apply the configuration again to the drifted resources of heal-mode findings, as a
    saved plan of those changes alone, so apply checks it against the suppliers afresh."""
    findings = report.in_mode("heal")
    healed = Healed(findings)
    changes = []
    for finding in findings:
        for place in finding.places:
            if place.mixed:
                healed.left.append((place, MIXED))
                continue
            for change in place.changes:
                asked = [m.reason for m in change.marks if m.kind == REQUESTED]
                if asked:
                    healed.asked[change.address] = f"asked again: {asked[0]}"
                else:
                    changes.append(change)
    if not changes:
        return healed
    scope = Scope(
        schools={c.address.school for c in changes}, suppliers={c.address.supplier for c in changes}
    )
    run = dataclasses.replace(report.run, plan=Plan(changes=changes), scope=scope, policy=None, safety=[])
    with tempfile.TemporaryDirectory(prefix="okectl-heal-") as folder:
        plan_file = Path(folder) / "heal-plan.json"
        save(ws, run, plan_file)
        try:
            healed.applied = apply(ws, plan_file=plan_file, view=view, stopped=stopped)
        except OkectlError as exc:
            # Apply refused before writing anything (policy errors, a safety limit, a
            # stale change, another apply running): the drift stays, reported as such.
            healed.refused = exc.lines()
            healed.refused_exit = exc.exit_code if exc.exit_code == EXIT_POLICY else 1
    return healed
