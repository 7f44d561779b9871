"""Evaluating the harmonisation rules over the desired state, applying the waivers.

The fleet is walked once: per school, per connection, its environments and clients; then
per supplier. Every rule hooks into that walk, so the cost grows with the fleet, not with
the fleet times the rules' cross-references.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pydantic import ValidationError

from okectl.config.hints import did_you_mean
from okectl.config.policies import Rule, Selector, Waiver
from okectl.config.repository import DesiredState
from okectl.config.yamlsource import locate
from okectl.errors import Problem, ValidationFailed
from okectl.model import clock
from okectl.model.releases import Release
from okectl.model.resources import Resource
from okectl.policy.cel.expressions import (
    Bindings,
    CelCheck,
    DataCache,
    compile_expression,
    expression_position,
    field_usage,
    placeholders,
    template_issues,
)
from okectl.policy.facts import ClientView, ConnView, EnvView, Loc, SchoolView
from okectl.policy.findings import Finding, PolicyReport, StaleWaiver, WaiverRef
from okectl.policy.rules.base import ChangedEnvironments, Check, Emitter, is_pattern, matches
from okectl.policy.rules.builtin import BUILTIN

KINDS: dict[str, type[Check]] = {**BUILTIN, CelCheck.kind: CelCheck}


# --- checking the rule definitions -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    rule: Rule
    index: int
    params: Any
    program: Any = None


def _rules(state: DesiredState) -> list[Rule]:
    return list(state.rules.rules) if state.rules is not None else []


def _waivers(state: DesiredState) -> list[Waiver]:
    return list(state.waivers.waivers) if state.waivers is not None else []


class _Definitions:
    def __init__(self, state: DesiredState) -> None:
        self.state = state
        self.problems: list[Problem] = []
        self.prepared: list[_Prepared] = []
        self._texts: dict[str, str] = {}

    def problem(self, ident: str, loc: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        self.problems.append(self.state.problem("policy", ident, loc, message, key=key))

    def _file_text(self, path: str) -> str:
        if path not in self._texts:
            try:
                self._texts[path] = (self.state.root / path).read_text(encoding="utf-8")
            except OSError:
                self._texts[path] = ""
        return self._texts[path]

    def expression_problem(self, loc: tuple[Any, ...], line: int, col: int, message: str) -> None:
        src = self.state.source("policy", "rules")
        if src is None:
            self.problem("rules", loc, message)
            return
        vline, vcol = locate(src.data, loc)
        fline, fcol = expression_position(self._file_text(src.path), vline, vcol, line, col)
        self.problems.append(Problem(src.path, fline, fcol, message))

    def selector(self, ident: str, loc: tuple[Any, ...], select: Selector | None) -> None:
        if select is None:
            return
        for field, known in (("schools", self.state.schools), ("suppliers", self.state.suppliers)):
            values: list[str] | None = getattr(select, field)
            for j, value in enumerate(values or []):
                unparsed = (field[:-1], value) in self.state.unparsed
                if not is_pattern(value) and value not in known and not unparsed:
                    noun = field[:-1]
                    self.problem(
                        ident, (*loc, field, j), f"unknown {noun} {value!r}{did_you_mean(value, list(known))}"
                    )

    def rule(self, i: int, rule: Rule) -> None:
        loc = ("rules", i)
        cls = KINDS.get(rule.kind)
        self.selector("rules", (*loc, "select"), rule.select)
        if cls is None:
            hint = did_you_mean(rule.kind, list(KINDS)) or f"; one of {', '.join(sorted(KINDS))}"
            self.problem("rules", (*loc, "kind"), f"unknown rule kind {rule.kind!r}{hint}")
            return
        try:
            params = cls.params_model.model_validate(rule.params)
        except ValidationError as exc:
            accepted = ", ".join(cls.params_model.model_fields) or "none"
            for err in exc.errors():
                where = tuple(err["loc"])
                message = err["msg"]
                if err["type"] == "extra_forbidden":
                    message = f"unknown parameter {where[-1]!r} for kind {rule.kind} (parameters: {accepted})"
                    self.problem("rules", (*loc, "params", *where), message, key=True)
                else:
                    self.problem("rules", (*loc, "params", *where), f"{message} (kind {rule.kind})")
            return
        broken = False
        for where, message in cls.check_params(self.state, params):
            self.problem("rules", (*loc, "params", *where), message)
            broken = True
        program = None
        if cls is CelCheck:
            program = self.cel(loc, rule)
            broken = broken or program is None
        else:
            for field in ("expression", "message"):
                if getattr(rule, field) is not None:
                    self.problem(
                        "rules", (*loc, field), f"{field} is only for rules of kind cel; remove it", key=True
                    )
                    broken = True
        if not broken:
            self.prepared.append(_Prepared(rule, i, params, program))

    def cel(self, loc: tuple[Any, ...], rule: Rule) -> Any:
        if rule.expression is None or not rule.expression.strip():
            self.problem("rules", loc, "a rule of kind cel needs an expression that must hold")
            return None
        program, issues = compile_expression(rule.expression)
        for issue in issues:
            self.expression_problem((*loc, "expression"), issue.line, issue.col, issue.message)
        if rule.message is not None:
            msg_issues = template_issues(rule.message)
            for issue in msg_issues:
                self.expression_problem((*loc, "message"), issue.line, issue.col, issue.message)
            if msg_issues:
                return None
        return program

    def run(self) -> list[_Prepared]:
        seen: dict[str, int] = {}
        for i, rule in enumerate(_rules(self.state)):
            if rule.id in seen:
                self.problem(
                    "rules",
                    ("rules", i, "id"),
                    f"rule id {rule.id!r} is already used by rule #{seen[rule.id] + 1}; ids must be unique",
                )
                continue
            seen[rule.id] = i
            self.rule(i, rule)
        for i, waiver in enumerate(_waivers(self.state)):
            if waiver.policy not in seen:
                self.problem(
                    "waivers",
                    ("waivers", i, "policy"),
                    f"no rule with id {waiver.policy!r} in policies/rules.yaml"
                    f"{did_you_mean(waiver.policy, list(seen))}",
                )
            self.selector("waivers", ("waivers", i, "select"), waiver.select)
        return self.prepared


def check_rule_definitions(state: DesiredState) -> list[Problem]:
    """Problems in policies/rules.yaml and policies/waivers.yaml, each at its own position:
    unknown kinds, bad parameters, CEL that does not compile or uses unknown variables,
    waivers for rules that do not exist."""
    definitions = _Definitions(state)
    definitions.run()
    return definitions.problems


# --- evaluation --------------------------------------------------------------------------


class _Run(Emitter):
    def __init__(
        self,
        state: DesiredState,
        today: date,
        releases: dict[str, list[Release]] | None,
        changed: ChangedEnvironments | None = None,
    ) -> None:
        self.state = state
        self.today = today
        self.releases = releases
        self.changed = changed
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str, str, int, int, str]] = set()

    def emit(
        self,
        rule: Rule,
        address: str,
        loc: Loc,
        message: str,
        *,
        school: str | None = None,
        supplier: str | None = None,
        environment_type: str | None = None,
    ) -> None:
        kind, ident, path, key = loc
        problem = self.state.problem(kind, ident, path, message, key=key)
        # A rule that reaches the same value twice (say through two hooks) reports it once.
        dedup = (rule.id, address, problem.path, problem.line, problem.col, message)
        if dedup in self._seen:
            return
        self._seen.add(dedup)
        self.findings.append(
            Finding(
                policy=rule.id,
                severity=rule.severity,
                address=address,
                path=problem.path,
                line=problem.line,
                col=problem.col,
                message=message,
                school=school,
                supplier=supplier,
                environment_type=environment_type,
            )
        )


def _overrides(cls: type[Check], hook: str) -> bool:
    return getattr(cls, hook) is not getattr(Check, hook)


def _views(state: DesiredState, resources: list[Resource]) -> dict[tuple[str, str], ConnView]:
    conns: dict[tuple[str, str], ConnView] = {}
    envs: dict[tuple[str, str, str], EnvView] = {}
    for res in resources:
        addr = res.address
        if addr.kind == "role":
            continue
        key = (addr.school, addr.supplier)
        view = conns.get(key)
        if view is None:
            school = state.schools.get(addr.school)
            supplier = state.suppliers.get(addr.supplier)
            conn = school.connections.get(addr.supplier) if school is not None else None
            if school is None or supplier is None or conn is None:
                continue
            profile = state.profiles.get(conn.profile) if conn.profile else None
            view = conns[key] = ConnView(school, supplier, conn, profile)
        if addr.kind == "environment":
            env = EnvView(
                address=str(addr),
                name=addr.environment,
                spec=res.spec,
                school=view.school,
                supplier=view.supplier,
                conn=view.conn,
                override=view.conn.environments.get(addr.environment),
                profile=view.profile,
            )
            view.envs.append(env)
            envs[(addr.supplier, addr.school, addr.environment)] = env
        else:
            parent = envs.get((addr.supplier, addr.school, addr.environment))
            client = view.conn.clients.get(addr.name)
            if parent is not None and client is not None:
                view.clients.append(ClientView(str(addr), addr.name, client, res.spec, parent))
    return conns


def _build_checks(state: DesiredState, prepared: list[_Prepared], run: _Run) -> list[Check]:
    checks: list[Check] = []
    cache: DataCache | None = None
    for p in prepared:
        cls = KINDS[p.rule.kind]
        if cls is CelCheck:
            cache = cache or DataCache(state)
            expression = p.rule.expression or ""
            usage = field_usage([expression, *placeholders(p.rule.message or "")])
            bindings = Bindings(cache, run.today, usage, frozenset(field_usage([expression])))
            checks.append(CelCheck(p.rule, p.params, run, p.program, bindings))
        else:
            checks.append(cls(p.rule, p.params, run))
    return checks


def evaluate(
    state: DesiredState,
    *,
    today: date | None = None,
    releases: dict[str, list[Release]] | None = None,
    resources: list[Resource] | None = None,
    changed: ChangedEnvironments | None = None,
    kinds: Collection[str] | None = None,
) -> PolicyReport:
    """Every rule over the desired state, with the waivers applied.

    ``releases``: the suppliers' release feeds when known (supplier id → releases).
    ``resources``: the desired resources when the caller already resolved them.
    ``changed``: which environments' configuration changes, for the rules that weigh a
    change rather than a state (``freeze``). ``kinds``: only the rules of these kinds.
    Raises ValidationFailed when the rules or waivers themselves are wrong.
    """
    definitions = _Definitions(state)
    prepared = definitions.run()
    if definitions.problems:
        raise ValidationFailed(definitions.problems)
    if kinds is not None:
        prepared = [p for p in prepared if p.rule.kind in kinds]
    day = today or clock.today()
    run = _Run(state, day, releases, changed)
    checks = _build_checks(state, prepared, run)
    if resources is None:
        from okectl.config.resolve import desired_resources

        resources = desired_resources(state)
    _walk(state, resources, checks)
    # Errors first, then in file order: the same order in every output format.
    findings = sorted(run.findings, key=lambda f: (f.severity != "error", f.path, f.line, f.col, f.address))
    report = PolicyReport(today=day, rules=[p.rule for p in prepared], findings=findings)
    _apply_waivers(state, report)
    return report


def _env_checks_by_type(checks: list[Check]) -> dict[str, tuple[list[Check], list[Check]]]:
    """Per environment type: the checks that take every such environment, and those that
    also select by school or supplier (about thirty thousand calls on a large fleet,
    so the selector is consulted only where it can say no)."""
    from typing import get_args

    from okectl.config.models import EnvironmentType

    out: dict[str, tuple[list[Check], list[Check]]] = {}
    for env_type in get_args(EnvironmentType):
        wanted = [c for c in checks if c.env_types is None or env_type in c.env_types]
        out[env_type] = (
            [c for c in wanted if c.select.schools is None and c.select.suppliers is None],
            [c for c in wanted if c.select.schools is not None or c.select.suppliers is not None],
        )
    return out


def _walk(state: DesiredState, resources: list[Resource], checks: list[Check]) -> None:
    hooks = {
        hook: [c for c in checks if _overrides(type(c), hook)]
        for hook in ("environment", "client", "connection", "school", "supplier")
    }
    env_checks = _env_checks_by_type(hooks["environment"])
    client_checks = hooks["client"]
    conn_checks, school_checks = hooks["connection"], hooks["school"]
    conns = _views(state, resources)
    by_school: dict[str, list[ConnView]] = defaultdict(list)
    for (code, _), view in conns.items():
        by_school[code].append(view)
    nothing: tuple[list[Check], list[Check]] = ([], [])
    for code, school in state.schools.items():
        views = by_school.get(code, [])
        for view in views:
            sid = view.supplier.id
            for check in conn_checks:
                if check.selects_school(code) and check.selects_supplier(sid):
                    check.connection(view)
            for env in view.envs:
                every, selective = env_checks.get(env.type, nothing)
                for check in every:
                    check.environment(env)
                for check in selective:
                    if check.selects_school(code) and check.selects_supplier(sid):
                        check.environment(env)
            for client in view.clients:
                for check in client_checks:
                    if check.selects_env(client.env):
                        check.client(client)
        if school_checks:
            school_view = SchoolView(school, views)
            for check in school_checks:
                if check.selects_school(code):
                    check.school(school_view)
    for sid, supplier in state.suppliers.items():
        for check in hooks["supplier"]:
            if check.selects_supplier(sid):
                check.supplier(supplier)
    for check in checks:
        check.finish()


# --- waivers -----------------------------------------------------------------------------


def waiver_matches(waiver: Waiver, finding: Finding) -> bool:
    if waiver.policy != finding.policy:
        return False
    target = waiver.target
    if target is not None:
        address = finding.address
        if target in (address, finding.school, finding.supplier):
            return True
        if address.startswith(target + "/"):
            return True
        return is_pattern(target) and matches([target, target + "/*"], address)
    select = waiver.select
    assert select is not None
    if select.schools is not None and not matches(select.schools, finding.school):
        return False
    if select.suppliers is not None and not matches(select.suppliers, finding.supplier):
        return False
    return select.environment_types is None or finding.environment_type in select.environment_types


def _apply_waivers(state: DesiredState, report: PolicyReport) -> None:
    by_policy: dict[str, list[WaiverRef]] = defaultdict(list)
    used: set[int] = set()
    refs: list[WaiverRef] = []
    for i, waiver in enumerate(_waivers(state)):
        path, line, col = state.position("policy", "waivers", ("waivers", i))
        ref = WaiverRef(waiver, i, path, line, col)
        refs.append(ref)
        if waiver.expires < report.today:
            report.expired_waivers.append(StaleWaiver(ref, "expired"))
        else:
            by_policy[waiver.policy].append(ref)
    if not by_policy:
        return
    waived: list[Finding] = []
    for finding in report.findings:
        for ref in by_policy.get(finding.policy, ()):
            if waiver_matches(ref.waiver, finding):
                used.add(ref.index)
                finding = _with_waiver(finding, ref)
                break
        waived.append(finding)
    report.findings = waived
    for ref in refs:
        if ref.index not in used and ref.waiver.expires >= report.today:
            report.unused_waivers.append(StaleWaiver(ref, "unused"))


def _with_waiver(finding: Finding, ref: WaiverRef) -> Finding:
    return replace(finding, waived_by=ref)
