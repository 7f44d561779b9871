"""Telling drift from a change the configuration made, and grouping it by cause.

A planned change of a resource this repository owns is **drift** when the configuration
did not make it: the configuration as it was when okectl last wrote the resource asks,
field by field, what the configuration asks now, so the difference can only come from the
supplier. When the configuration moved since, the change is the configuration's, waiting
to be applied, whatever the supplier did. Which configuration okectl last wrote from:

- a supplier with an administration API: the commit in the resource's ``okectl/commit``
  label (apply writes it with every create and update). A resource that is missing has
  no label: the oldest label of its school's resources at that supplier stands in (a
  school with nothing of this repository there is new to it: not drift).
- a supplier managed by change requests: its recorded state (``state/``) is what it
  confirmed. A resource recorded from a confirmed request holds what was asked, so a
  difference is the configuration's; one recorded from an export is the supplier's own
  word, compared with the configuration at the commit that last changed the record (the
  work tree, when the record has changes not committed yet). A confirmed request that a
  later export contradicted (and that was reopened for it) is drift too.

A change okectl cannot place (a label naming no commit of this clone, a configuration at
that commit that no longer validates, a repository outside git) is **undetermined**:
reported, never healed or accepted.

Drift is grouped by cause: the same fields moved to the same values at one supplier (or
the same environment, client or role removed or added there) is one finding, with every
place it happened.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from okectl.config.models import DriftMode
from okectl.config.record import RECORD_DIR
from okectl.engine.planner import make_plan
from okectl.engine.workspace import Workspace
from okectl.errors import OkectlError
from okectl.jsontext import canonical
from okectl.model.resources import (
    LABEL_COMMIT,
    WIRE_FIELDS,
    Address,
    Kind,
    Resource,
    normalise,
)
from okectl.model.scope import Scope
from okectl.plans.changes import Action, Change
from okectl.plans.outcomes import ReadProgress
from okectl.plans.run import PlanRun

if TYPE_CHECKING:
    import git

SENSITIVE_VALUE = "(sensitive)"
# What a finding's action means, said of the supplier.
WHAT: dict[Action, str] = {
    "update": "changed at the supplier",
    "create": "removed at the supplier",
    "delete": "appeared at the supplier",
}
KIND_ORDER: dict[Kind, int] = {"environment": 0, "client": 1, "role": 2}
# The work tree, as the "commit" a record with uncommitted changes was written at.
WORK_TREE = "work tree"
_HEX = frozenset("0123456789abcdef")
NOT_IN_GIT = (
    "the configuration is not in git, so okectl cannot tell what the supplier changed from what "
    "the configuration changed"
)


@dataclass(frozen=True, slots=True)
class Moved:
    """A field as the supplier has it, where the configuration did not move it."""

    path: str
    actual: Any
    sensitive: bool = False


@dataclass
class Place:
    """One resource where a finding's drift happened, with the change that would heal it."""

    change: Change
    # What the configuration asks, per drifted field (an update's).
    configured: dict[str, Any] = field(default_factory=dict)
    # Creates of its clients and roles, gone with an environment removed at the supplier.
    children: list[Change] = field(default_factory=list)
    # The change also holds fields the configuration moved (not applied yet): healing it
    # would apply those too, so it is left to apply.
    mixed: bool = False

    @property
    def address(self) -> Address:
        return self.change.address

    @property
    def changes(self) -> list[Change]:
        return [self.change, *self.children]


@dataclass
class Finding:
    """One cause of drift at a supplier, and every place it happened."""

    supplier: str
    kind: Kind
    action: Action
    # For an update: the fields the supplier moved, with their values there.
    moved: tuple[Moved, ...]
    # For a resource removed or added: its environment, system or role name.
    name: str
    mode: DriftMode
    places: list[Place] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A short name of the cause that stays the same from run to run."""
        cause = [self.supplier, self.kind, self.action, self.name, [[m.path, m.actual] for m in self.moved]]
        return hashlib.sha256(canonical(cause).encode("utf-8")).hexdigest()[:10]

    @property
    def what(self) -> str:
        return WHAT[self.action]

    @property
    def schools(self) -> list[str]:
        return sorted({p.address.school for p in self.places})


@dataclass(frozen=True)
class Undetermined:
    change: Change
    reason: str


@dataclass
class DriftReport:
    run: PlanRun
    findings: list[Finding] = field(default_factory=list)
    # Changes the configuration made that are not applied yet: not drift.
    configured: list[Change] = field(default_factory=list)
    undetermined: list[Undetermined] = field(default_factory=list)

    @property
    def places(self) -> int:
        return sum(len(f.places) for f in self.findings)

    def in_mode(self, mode: DriftMode) -> list[Finding]:
        return [f for f in self.findings if f.mode == mode]


@dataclass
class _Verdict:
    moved: tuple[Moved, ...] = ()
    configured: dict[str, Any] = field(default_factory=dict)
    # The configuration moved (part of) the change.
    by_configuration: bool = False
    undetermined: str | None = None

    @property
    def drift(self) -> bool:
        return self.undetermined is None and (bool(self.moved) or not self.by_configuration)


_CONFIGURATION = _Verdict(by_configuration=True)


def value_at(spec: Mapping[str, Any] | None, path: str) -> Any:
    """The normalised value at a dotted field path of a spec (None where there is none)."""
    value: Any = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return normalise(value)


def is_commit(text: str) -> bool:
    """A full commit id (SHA-1 or SHA-256), as apply writes into okectl/commit."""
    return len(text) in (40, 64) and set(text) <= _HEX


class _History:
    """The configuration as it was at earlier commits, each loaded once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._states: dict[str, Mapping[Address, Resource] | str] = {}
        self._repo: tuple[git.Repo, str] | None = None
        self._in_git: bool | None = None
        self._uncommitted: set[str] | None = None
        self._last: dict[str, str | None] = {}

    def _open(self) -> tuple[git.Repo, str] | None:
        from okectl.config.revision import inside_git, open_repo

        if self._in_git is None:
            self._in_git = inside_git(self.ws.root)
            if self._in_git:
                self._repo = open_repo(self.ws.root)
        return self._repo

    def close(self) -> None:
        if self._repo is not None:
            self._repo[0].close()

    def desired_at(self, commit: str) -> Mapping[Address, Resource] | str:
        """The desired resources at ``commit`` (or the work tree), or why they cannot be known."""
        if commit == WORK_TREE or (commit == self.ws.revision.commit and not self.ws.revision.dirty):
            return self.ws.desired
        if commit not in self._states:
            self._states[commit] = self._load(commit)
        return self._states[commit]

    def _load(self, commit: str) -> Mapping[Address, Resource] | str:
        from okectl.gitops.state import StateAtRefInvalid, state_at

        if self._open() is None:
            return NOT_IN_GIT
        try:
            validated, _ = state_at(self.ws.root, commit)
        except StateAtRefInvalid:
            return (
                f"the configuration at commit {commit[:12]}, where it was last written from, does not "
                "validate now, so okectl cannot compare with it"
            )
        except OkectlError:
            return (
                f"it was last written from commit {commit[:12]}, which this clone does not have; fetch "
                "the whole history (actions/checkout with fetch-depth: 0)"
            )
        return {r.address: r for r in validated.resources}

    def oldest(self, commits: set[str]) -> str | None:
        """Of ``commits``, the one made first (commits this clone does not have are skipped)."""
        opened = self._open()
        if opened is None or not commits:
            return None
        repo = opened[0]
        dated: list[tuple[int, str]] = []
        for commit in commits:
            try:
                dated.append((repo.commit(commit).committed_date, commit))
            except Exception:
                continue  # not in this clone: the others decide
        return min(dated)[1] if dated else None

    def in_git(self) -> bool:
        return self._open() is not None

    def last_change(self, rel: str) -> str | None:
        """The commit that last changed ``rel`` (relative to the configuration root), the
        work tree when it has changes not committed, None when git never had it."""
        opened = self._open()
        if opened is None:
            return None
        repo, prefix = opened
        path = f"{prefix}/{rel}" if prefix else rel
        if self._uncommitted is None:
            changed = {d.a_path for d in repo.index.diff(None) if d.a_path} | set(repo.untracked_files)
            # No commit yet: nothing is committed, everything is in the work tree.
            with contextlib.suppress(Exception):
                changed |= {d.a_path for d in repo.index.diff("HEAD") if d.a_path}
            self._uncommitted = changed
        if path in self._uncommitted:
            return WORK_TREE
        if path not in self._last:
            try:
                self._last[path] = repo.git.log("-1", "--format=%H", "--", path).strip() or None
            except Exception:
                self._last[path] = None
        return self._last[path]


@dataclass(frozen=True)
class _Asked:
    """What an open change request asks for at an address."""

    request: str
    after: dict[str, Any] | None
    reopened: bool


def _requested(ws: Workspace, supplier: str) -> dict[Address, _Asked]:
    from okectl.requests.tracking import open_requests

    out: dict[Address, _Asked] = {}
    for item in open_requests(ws.root, ws.state, supplier=supplier, today=ws.clock.today()):
        status = item.request.status
        reopened = any(e.event == "reopened" for e in status.history)
        for change in item.request.document.changes:
            out[Address.parse(change.address)] = _Asked(status.id, change.after, reopened)
    return out


def _same_target(change: Change, after: dict[str, Any] | None) -> bool:
    if change.after is None or after is None:
        return change.after is None and after is None
    fields = WIRE_FIELDS[change.address.kind]
    return all(normalise(change.after.get(k)) == normalise(after.get(k)) for k in fields)


class _Classifier:
    def __init__(self, ws: Workspace, run: PlanRun) -> None:
        self.ws = ws
        self.run = run
        self.history = _History(ws)
        self._asked: dict[str, dict[Address, _Asked]] = {}
        self._tenant_commit: dict[tuple[str, str], str | None] = {}
        self._requests: dict[str, bool] = {}

    def _by_requests(self, supplier: str) -> bool:
        if supplier not in self._requests:
            from okectl.providers.base import Capability
            from okectl.providers.registry import adapter

            api = self.ws.state.suppliers[supplier].api
            found = adapter(api.provider) if api is not None else None
            self._requests[supplier] = found is not None and Capability.CHANGE_REQUESTS in found.capabilities
        return self._requests[supplier]

    def verdict(self, change: Change) -> _Verdict:
        addr = change.address
        if change.adopt:
            return _CONFIGURATION  # the configuration takes over what was made by hand
        if self._by_requests(addr.supplier):
            return self._requested_verdict(change)
        if not self.history.in_git():
            return _Verdict(undetermined=NOT_IN_GIT)
        if change.action == "create":
            base = self._tenant(addr.supplier, addr.school)
            if base is None:
                return _CONFIGURATION  # nothing of this repository there: the configuration is new
        else:
            act = self.run.actual[addr]
            label = act.labels.get(LABEL_COMMIT, "")
            if not is_commit(label):
                return _Verdict(
                    undetermined=f"it was last written from {label!r}, which is not a commit okectl "
                    "can look up (an apply outside git, or a label set by hand)"
                )
            base = label
        return self._against(change, base)

    def _tenant(self, supplier: str, school: str) -> str | None:
        """The oldest okectl/commit among this repository's resources of one tenant: a
        resource the configuration has asked for since then was created by the apply
        that wrote it (or one before), so its absence now is the supplier's doing. The
        newest would not do: healing or a scoped apply labels what it writes with a
        commit whose other changes for the tenant may not be applied yet."""
        key = (supplier, school)
        if key not in self._tenant_commit:
            commits = {
                a.labels.get(LABEL_COMMIT, "")
                for a in self.run.actual.values()
                if a.address.supplier == supplier
                and a.address.school == school
                and a.owned_by(self.run.repository)
            }
            self._tenant_commit[key] = self.history.oldest({c for c in commits if is_commit(c)})
        return self._tenant_commit[key]

    def _requested_verdict(self, change: Change) -> _Verdict:
        addr = change.address
        if addr.supplier not in self._asked:
            self._asked[addr.supplier] = _requested(self.ws, addr.supplier)
        asked = self._asked[addr.supplier].get(addr)
        if asked is not None:
            # Reopened: an export contradicted what the supplier had confirmed.
            if asked.reopened and _same_target(change, asked.after):
                return _everything_moved(change)
            return _CONFIGURATION  # asked for, awaiting confirmation
        if change.action == "create":
            return _CONFIGURATION
        source = self.run.actual[addr].extra.get("source")
        if not isinstance(source, dict) or source.get("request"):
            return _CONFIGURATION  # the record holds what a request asked for
        base = self.history.last_change(f"{RECORD_DIR}/{addr.supplier}/{addr.school}.yaml")
        if base is None:
            return _Verdict(undetermined=NOT_IN_GIT)
        # No export shows a secret: a secret to exchange is the configuration's to ask for.
        return self._against(change, base, secrets_observed=False)

    def _against(self, change: Change, commit: str, *, secrets_observed: bool = True) -> _Verdict:
        then_all = self.history.desired_at(commit)
        if isinstance(then_all, str):
            return _Verdict(undetermined=then_all)
        addr = change.address
        then = then_all.get(addr)
        if change.action == "create":
            return _Verdict() if then is not None else _CONFIGURATION
        if change.action == "delete":
            return _CONFIGURATION if then is not None else _Verdict()
        now = self.ws.desired.get(addr)
        if then is None or now is None:
            return _CONFIGURATION
        moved: list[Moved] = []
        configured: dict[str, Any] = {}
        by_configuration = False
        for fc in change.diff:
            if fc.sensitive:
                # The same reference: its value is what the supplier holds no more.
                if secrets_observed and then.spec.get(fc.path) == now.spec.get(fc.path):
                    moved.append(Moved(fc.path, SENSITIVE_VALUE, sensitive=True))
                    configured[fc.path] = SENSITIVE_VALUE
                else:
                    by_configuration = True
            elif value_at(then.spec, fc.path) == value_at(now.spec, fc.path):
                moved.append(Moved(fc.path, fc.before))
                configured[fc.path] = fc.after
            else:
                by_configuration = True
        return _Verdict(tuple(moved), configured, by_configuration)


def _everything_moved(change: Change) -> _Verdict:
    if change.action != "update":
        return _Verdict()
    return _Verdict(
        tuple(
            Moved(fc.path, SENSITIVE_VALUE if fc.sensitive else fc.before, fc.sensitive) for fc in change.diff
        ),
        {fc.path: SENSITIVE_VALUE if fc.sensitive else fc.after for fc in change.diff},
    )


def find_drift(
    ws: Workspace, *, scope: Scope | None = None, progress: ReadProgress | None = None
) -> DriftReport:
    """What drifted at the suppliers in ``scope``, grouped by cause, beside the changes the
    configuration made and those okectl cannot place.

    The plan is made without its safety guards: drift is reported whatever they would
    say. Healing applies through apply, which runs them all again."""
    run = make_plan(ws, scope=scope, progress=progress)
    report = DriftReport(run)
    classifier = _Classifier(ws, run)
    try:
        verdicts = [(c, classifier.verdict(c)) for c in run.plan.changes]
    finally:
        classifier.history.close()
    report.findings = _group(ws, verdicts)
    for change, verdict in verdicts:
        if verdict.undetermined is not None:
            report.undetermined.append(Undetermined(change, verdict.undetermined))
        elif verdict.by_configuration:
            report.configured.append(change)
    return report


def _group(ws: Workspace, verdicts: list[tuple[Change, _Verdict]]) -> list[Finding]:
    drifted = [(c, v) for c, v in verdicts if v.drift]
    gone_envs = {c.address: c for c, _ in drifted if c.action == "create" and c.address.kind == "environment"}
    findings: dict[tuple[Any, ...], Finding] = {}
    places: dict[Address, Place] = {}
    for change, verdict in drifted:
        addr = change.address
        if change.action == "create" and addr.parent in gone_envs:
            continue  # removed with its environment: it goes with the environment's place
        name = (
            ""
            if change.action == "update"
            else (addr.environment if addr.kind == "environment" else addr.name)
        )
        cause = (
            addr.supplier,
            addr.kind,
            change.action,
            name,
            canonical([[m.path, m.actual] for m in verdict.moved]),
        )
        finding = findings.get(cause)
        if finding is None:
            mode = ws.state.suppliers[addr.supplier].drift_mode(addr.kind)
            finding = findings[cause] = Finding(
                addr.supplier, addr.kind, change.action, verdict.moved, name, mode
            )
        place = Place(change, dict(verdict.configured), mixed=verdict.by_configuration)
        finding.places.append(place)
        places[addr] = place
    for change, _ in drifted:
        parent = change.address.parent
        if change.action == "create" and parent in gone_envs and parent in places:
            places[parent].children.append(change)
    out = sorted(
        findings.values(),
        key=lambda f: (
            f.supplier,
            KIND_ORDER[f.kind],
            f.action,
            f.name,
            canonical([[m.path, m.actual] for m in f.moved]),
        ),
    )
    for finding in out:
        finding.places.sort(key=lambda p: p.address)
    return out
