"""`okectl report`: a static harmonisation report for the adoption team.

One self-contained HTML file (inline CSS and SVG, no scripts, no fonts or images from
elsewhere), so it can be mailed, archived or opened from a file share offline. Colours
come from the Okabe–Ito palette, and every colour has a symbol, word or pattern next to
it, so nothing depends on telling colours apart.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from okectl.engine.workspace import Workspace
from okectl.errors import OkectlError
from okectl.files import write_atomic
from okectl.gitops.releases import alignment, allowed_versions, newest
from okectl.model.versions import version_key

# Environment types the chart counts separately; the rest count as "other".
CHART_TYPES = ("production", "acceptance", "test", "other")


@dataclass
class EnvCell:
    name: str
    type: str
    oke_version: str
    alignment: str


@dataclass
class MatrixCell:
    supplier: str
    environments: list[EnvCell]
    target_count: int
    now_count: int | None
    errors: int
    warnings: int
    # Environments after apply, by the plan: the target plus what it leaves alone.
    after_count: int | None = None

    @property
    def policy_status(self) -> str:
        return "error" if self.errors else ("warning" if self.warnings else "ok")

    @property
    def left_alone(self) -> int:
        """Environments that stay although not in the configuration (not okectl's)."""
        return max(0, self.after_count - self.target_count) if self.after_count is not None else 0


@dataclass
class SchoolRow:
    code: str
    name: str
    federation: str
    cells: dict[str, MatrixCell]
    # Findings about the school as a whole (its roles), not one of its connections.
    errors: int = 0
    warnings: int = 0


@dataclass
class RequestRow:
    """An open change request: what a supplier's support desk still has to do."""

    id: str
    school: str
    requested_on: date
    since: date
    age_days: int
    sla_days: int
    escalate_after_days: int
    # awaiting (within the SLA), overdue (past it), escalated (past the escalation threshold)
    standing: str
    changes: int


@dataclass
class IncidentRow:
    """An incident open at a supplier (``okectl incidents``)."""

    key: str
    subject: str
    title: str
    seen: str


@dataclass
class SupplierInfo:
    id: str
    name: str
    roles: list[str]
    flows: list[int]
    oke_versions: list[str]
    target: str | None
    processing_agreement: str | None
    dpia: str
    dpia_date: date | None
    certification: list[str]
    support: list[str]
    schools: int
    now: int | None
    after: int | None
    # Findings about the supplier as a whole (role names, privacy), not one connection.
    errors: int = 0
    warnings: int = 0
    # How its changes are carried out: by its administration API, or by change requests
    # to its support desk (then: its SLA, and the requests still open).
    by_requests: bool = False
    sla_days: int | None = None
    requests: list[RequestRow] = field(default_factory=list)
    incidents: list[IncidentRow] = field(default_factory=list)


@dataclass
class PolicyGroup:
    policy: str
    errors: int
    warnings: int
    waived: int
    findings: list[dict[str, Any]]


@dataclass
class Bar:
    school: str
    segments: list[tuple[str, int]]
    total: int
    now: int | None
    # After apply, by the plan (None without a plan): the target plus what it leaves alone.
    after: int | None = None

    @property
    def left_alone(self) -> int:
        return max(0, self.after - self.total) if self.after is not None else 0


@dataclass
class ReportData:
    repository: str
    commit: str | None
    dirty: bool
    generated_at: datetime
    today: date
    version: str
    allowed: list[str]
    suppliers: list[SupplierInfo]
    rows: list[SchoolRow]
    plan_available: bool
    plan_note: str
    plan_counts: dict[str, int]
    env_before: int | None
    env_after: int
    policy_available: bool
    policy_groups: list[PolicyGroup]
    bars: list[Bar]
    totals: dict[str, int] = field(default_factory=dict)
    # Why open requests or incidents could not be read, when they could not.
    support_notes: list[str] = field(default_factory=list)


def _version() -> str:
    try:
        return importlib.metadata.version("okectl")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _plan(ws: Workspace) -> tuple[Any, str]:
    """The current plan against the configured suppliers, or why there is none."""
    try:
        planner: Any = importlib.import_module("okectl.engine.planner")
        # Guarded as okectl plan is: an unsafe plan shows no figures.
        run = planner.guard(planner.make_plan(ws))
    except ImportError as exc:
        return None, f"plan unavailable: {exc.name or 'the plan engine'} is not installed"
    except OkectlError as exc:
        return None, f"plan unavailable: {exc}"
    except Exception as exc:
        # The report is still worth having without the plan figures; say what broke.
        first = str(exc).splitlines()[0] if str(exc) else ""
        return None, f"plan unavailable: {type(exc).__name__}" + (f": {first}" if first else "")
    # The plan's own summary, word for word, so the report and the plan cannot disagree.
    return run, run.plan.summary()


def _open_requests(ws: Workspace, today: date) -> tuple[dict[str, list[RequestRow]], str | None]:
    """Open change requests per supplier, with their age against its SLA, or why they
    could not be read."""
    from okectl.requests.tracking import open_requests

    try:
        found = open_requests(ws.root, ws.state, today=today)
    except OkectlError as exc:
        return {}, f"open change requests unavailable: {str(exc).splitlines()[0]}"
    out: dict[str, list[RequestRow]] = {}
    for item in found:
        status = item.request.status
        out.setdefault(status.supplier, []).append(
            RequestRow(
                id=status.id,
                school=status.school,
                requested_on=status.requested_on,
                since=item.since,
                age_days=item.age_days,
                sla_days=item.sla_days,
                escalate_after_days=item.escalate_after_days,
                standing=item.standing,
                changes=len(item.request.document.changes),
            )
        )
    return out, None


def _open_incidents(ws: Workspace, today: date) -> tuple[dict[str, list[IncidentRow]], str | None]:
    """Open incidents per supplier (every source: verify record, journals, requests), or
    why they could not be derived."""
    from okectl.incidents.derive import open_incidents

    try:
        found = open_incidents(ws.validated, today=today)
    except OkectlError as exc:
        return {}, f"open incidents unavailable: {str(exc).splitlines()[0]}"
    out: dict[str, list[IncidentRow]] = {}
    for incident in found:
        row = IncidentRow(incident.key, incident.subject, incident.title, incident.seen)
        out.setdefault(incident.supplier, []).append(row)
    return out, None


def _policy(ws: Workspace, today: date) -> Any:
    from okectl.policy.engine import evaluate

    return evaluate(ws.state, today=today)


def _describe(waiver: Any) -> str:
    describe = getattr(waiver, "describe", None)
    return str(describe()) if callable(describe) else str(waiver)


def _cell_alignment(version: str, target: str | None, allowed: set[str]) -> str:
    state = alignment(version, target, allowed)
    if state == "ahead":
        return state
    if version not in allowed:
        return "not-allowed"
    return state


def build_report(ws: Workspace, *, with_plan: bool = True) -> ReportData:
    """Everything the report shows, computed from the workspace (and the plan)."""
    today = ws.clock.today()
    state = ws.state
    allowed = allowed_versions(state, today)

    run, plan_note = _plan(ws) if with_plan else (None, "plan unavailable: left out (--no-plan)")
    counts: dict[str, tuple[int, int]] = dict(run.plan.env_counts) if run is not None else {}

    policy = _policy(ws, today)
    per_connection: Counter[tuple[str, str, str]] = Counter()
    per_school: Counter[tuple[str, str]] = Counter()
    per_supplier: Counter[tuple[str, str]] = Counter()
    groups: dict[str, PolicyGroup] = {}
    if policy is not None:
        for f in policy.findings:
            group = groups.setdefault(f.policy, PolicyGroup(f.policy, 0, 0, 0, []))
            waived = f.waived_by is not None
            if waived:
                group.waived += 1
            elif f.severity == "error":
                group.errors += 1
            else:
                group.warnings += 1
            group.findings.append(
                {
                    "severity": f.severity,
                    "address": str(f.address or ""),
                    "where": f"{f.path}:{f.line}:{f.col}" if f.path else "",
                    "message": f.message,
                    "waived_by": _describe(f.waived_by) if waived else None,
                }
            )
            parts = str(f.address or "").split("/")
            supplier = getattr(f, "supplier", None) or (parts[0] if len(parts) >= 2 else None)
            school = getattr(f, "school", None) or (parts[1] if len(parts) >= 2 else None)
            severity = "error" if f.severity == "error" else "warning"
            if waived:
                continue
            if supplier and school:
                per_connection[(supplier, school, severity)] += 1
            elif school:
                per_school[(school, severity)] += 1
            elif supplier:
                per_supplier[(supplier, severity)] += 1

    targets = {
        sid: newest(set(s.oke_versions) & allowed) if s.oke_versions else newest(allowed)
        for sid, s in state.suppliers.items()
    }
    envs_by_connection: dict[tuple[str, str], list[EnvCell]] = {}
    for res in sorted(ws.resources, key=lambda r: str(r.address)):
        if res.address.kind != "environment":
            continue
        a = res.address
        version = str(res.spec.get("oke_version"))
        envs_by_connection.setdefault((a.supplier, a.school), []).append(
            EnvCell(
                a.environment,
                str(res.spec.get("type")),
                version,
                _cell_alignment(version, targets.get(a.supplier), allowed),
            )
        )

    connected = sorted({sid for s in state.schools.values() for sid in s.connections})
    rows: list[SchoolRow] = []
    bars: list[Bar] = []
    for code, school in sorted(state.schools.items()):
        cells: dict[str, MatrixCell] = {}
        by_type: Counter[str] = Counter()
        now_total: int | None = 0 if run is not None else None
        after_total: int | None = 0 if run is not None else None
        for sid in school.connections:
            envs = envs_by_connection.get((sid, code), [])
            now, after = counts.get(f"{sid}/{code}", (0, 0)) if run is not None else (None, None)
            cells[sid] = MatrixCell(
                supplier=sid,
                environments=envs,
                target_count=len(envs),
                now_count=now,
                errors=per_connection[(sid, code, "error")],
                warnings=per_connection[(sid, code, "warning")],
                after_count=after,
            )
            for env in envs:
                by_type[env.type if env.type in ("production", "acceptance", "test") else "other"] += 1
            if now_total is not None and now is not None:
                now_total += now
            if after_total is not None and after is not None:
                after_total += after
        rows.append(
            SchoolRow(
                code,
                school.name,
                school.federation,
                cells,
                errors=per_school[(code, "error")],
                warnings=per_school[(code, "warning")],
            )
        )
        bars.append(
            Bar(
                code,
                [(t, by_type[t]) for t in CHART_TYPES],
                sum(by_type.values()),
                now_total,
                after_total,
            )
        )

    from okectl.engine.requesting import by_requests

    requests, requests_note = _open_requests(ws, today)
    incidents, incidents_note = _open_incidents(ws, today)
    suppliers: list[SupplierInfo] = []
    for sid, s in sorted(state.suppliers.items()):
        desk = by_requests(s)
        dpia = s.privacy.dpia
        before = sum(v[0] for k, v in counts.items() if k.split("/")[0] == sid) if run is not None else None
        after = sum(v[1] for k, v in counts.items() if k.split("/")[0] == sid) if run is not None else None
        suppliers.append(
            SupplierInfo(
                id=sid,
                name=s.name,
                roles=list(s.roles),
                flows=sorted(s.flows),
                oke_versions=sorted(s.oke_versions, key=version_key),
                target=targets.get(sid),
                processing_agreement=s.privacy.processing_agreement,
                dpia=dpia.status if dpia else "none",
                dpia_date=dpia.date if dpia else None,
                certification=[
                    f"OKE {c.oke}: {c.status}" + (f" ({c.date})" if c.date else "") for c in s.certification
                ],
                support=[v for v in (s.support.email, s.support.url, s.support.phone) if v],
                schools=sum(1 for school in state.schools.values() if sid in school.connections),
                now=before,
                after=after,
                errors=per_supplier[(sid, "error")],
                warnings=per_supplier[(sid, "warning")],
                by_requests=desk,
                sla_days=s.support.sla_days if desk else None,
                requests=requests.get(sid, []),
                incidents=incidents.get(sid, []),
            )
        )

    env_after = sum(len(v) for v in envs_by_connection.values())
    return ReportData(
        repository=ws.repository,
        commit=ws.revision.commit,
        dirty=ws.revision.dirty,
        generated_at=ws.clock.now(),
        today=today,
        version=_version(),
        allowed=sorted(allowed, key=version_key),
        # Suppliers without a single connection go last: they matter least for harmonising.
        suppliers=sorted(suppliers, key=lambda s: s.id not in connected),
        rows=rows,
        plan_available=run is not None,
        plan_note=plan_note,
        plan_counts=run.plan.counts() if run is not None else {},
        env_before=sum(v[0] for v in counts.values()) if run is not None else None,
        env_after=sum(v[1] for v in counts.values()) if run is not None else env_after,
        policy_available=policy is not None,
        policy_groups=sorted(groups.values(), key=lambda g: (-g.errors, -g.warnings, g.policy)),
        bars=bars,
        totals={
            "schools": len(state.schools),
            "suppliers": len(state.suppliers),
            "connections": sum(len(s.connections) for s in state.schools.values()),
            "environments": env_after,
            "open_requests": sum(len(v) for v in requests.values()),
            "open_incidents": sum(len(v) for v in incidents.values()),
        },
        support_notes=[n for n in (requests_note, incidents_note) if n],
    )


def write_report(html: str, out_dir: Path) -> Path:
    """Write ``index.html`` into ``out_dir`` (created when missing); returns its path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OkectlError(f"{out_dir}: cannot create the report folder: {exc.strerror}") from None
    path = out_dir / "index.html"
    write_atomic(path, html, what="the report")
    return path
