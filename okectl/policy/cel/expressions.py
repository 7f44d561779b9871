"""Custom rules in CEL (Common Expression Language).

A rule of kind ``cel`` holds an expression that must be true for every environment it
selects, and a message template whose ``{...}`` placeholders are CEL expressions too. Both
see the variables in ``VARIABLES`` (``okectl policy kinds`` prints them). Dates are
``YYYY-MM-DD`` strings, so they compare with ``<`` and ``>`` and turn into timestamps with
``timestamp(d + 'T00:00:00Z')``; absent values are ``null``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import Field

from okectl.config.models import Connection, Model, School, Supplier
from okectl.config.policies import Rule
from okectl.config.repository import DesiredState
from okectl.policy.facts import EnvView
from okectl.policy.rules.base import Check, Emitter

VARIABLES: dict[str, str] = {
    "school": "the school: code, name, federation, schac_home, systems {sis, tpl: supplier}, "
    "roles {role: [groups]}, connections {supplier: {profile, function, oke_version, flows}}",
    "supplier": "the supplier: id, name, roles, flows, oke_versions, role_names {role: name}, "
    "privacy {processing_agreement, dpia {status, date, covers_flow_6}}, "
    "certification [{oke, status, date}], certified [OKE versions with status certified], "
    "support {email, url, phone}",
    "connection": "the school's connection to the supplier: supplier, profile, function (the role the "
    "supplier plays here: sis, tpl or ta), oke_version, "
    "flows, clients {system: {scopes}}, environments [names]",
    "env": "the environment: name, address, function, type, status, oke_version, ooapi_version, flows, "
    "sso {mode, federation}",
    "catalogue": "the policies: roles {role: {description, oke_role, required_for}}, "
    "versions {version: {ooapi, status, released, end_of_support}}, separation_of_duties [{roles, reason}]",
    "today": "the date of the check, YYYY-MM-DD",
}

# What the CEL implementation provides; anything else fails only when evaluated, so it is
# refused up front instead.
FUNCTIONS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
        "bytes", "timestamp", "duration", "type", "dyn", "has", "all", "exists", "exists_one", "map",
        "filter", "getFullYear", "getMonth", "getDayOfMonth", "getDate", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_STRING = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*)")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@cache
def cel_module() -> ModuleType:
    """The CEL extension module.

    The ``cel`` package's ``__init__`` also imports its interactive shell (prompt_toolkit,
    typer), which costs more than a whole policy check of a large fleet; the compiled
    extension is all that is needed, so it is loaded on its own when it can be found.
    """
    spec = importlib.util.find_spec("cel")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        for path in sorted(Path(folder).glob("cel.*")):
            if path.suffix in (".so", ".pyd"):
                ext = importlib.util.spec_from_file_location("cel.cel", path)
                if ext is not None and ext.loader is not None:
                    module = importlib.util.module_from_spec(ext)
                    ext.loader.exec_module(module)
                    return module
    import cel

    return cel


@dataclass(frozen=True, slots=True)
class ExprIssue:
    """A problem in an expression or template, at a 1-based line and column of its text."""

    line: int
    col: int
    message: str


def _masked(source: str) -> str:
    # String literals blanked out, so a name inside quotes is not mistaken for a variable.
    return _STRING.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2) + m.group(0)[-1], source)


def _line_col(source: str, offset: int) -> tuple[int, int]:
    before = source[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _find(source: str, pattern: str) -> tuple[int, int]:
    match = re.search(pattern, _masked(source))
    return _line_col(source, match.start()) if match else (1, 1)


def compile_expression(source: str) -> tuple[Any | None, list[ExprIssue]]:
    """The compiled program, or the issues that stop it from compiling or running."""
    cel = cel_module()
    try:
        program = cel.compile(source)
    except ValueError as exc:
        text = str(exc)
        match = _CEL_ERROR.search(text)
        if match:
            detail = match.group(3).split("\n")[0].strip()
            detail = detail.removeprefix("Syntax error: ")
            return None, [ExprIssue(int(match.group(1)), int(match.group(2)), f"CEL syntax error: {detail}")]
        return None, [ExprIssue(1, 1, f"CEL expression does not compile: {text.splitlines()[0]}")]
    issues: list[ExprIssue] = []
    bound = set(_MACRO_VAR.findall(_masked(source)))
    for name in program.variables():
        if name not in VARIABLES and name not in bound:
            line, col = _find(source, rf"(?<![\w.]){re.escape(name)}\b")
            issues.append(ExprIssue(line, col, f"unknown variable {name!r}; use {', '.join(VARIABLES)}"))
    for name in program.functions():
        if name[:1].isalpha() and name not in FUNCTIONS:
            line, col = _find(source, rf"\b{re.escape(name)}\s*\(")
            issues.append(ExprIssue(line, col, f"unknown function {name!r}"))
    return (None if issues else program), issues


def template_issues(template: str) -> list[ExprIssue]:
    """Problems in a message template; each {placeholder} is a CEL expression."""
    issues = []
    for match in _PLACEHOLDER.finditer(template):
        inner = match.group(1)
        if inner is None:
            continue
        line, col = _line_col(template, match.start(1))
        if not inner.strip():
            issues.append(
                ExprIssue(line, col - 1, "empty placeholder {}; write {env.name}, or {{ for a brace")
            )
            continue
        for issue in compile_expression(inner)[1]:
            # Positions inside the placeholder, moved to the template's text.
            issue_col = issue.col + (col - 1 if issue.line == 1 else 0)
            issues.append(ExprIssue(line + issue.line - 1, issue_col, issue.message))
    return issues


def placeholders(template: str) -> list[str]:
    """The CEL expressions between braces in a message template."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1) is not None]


def template_programs(template: str) -> list[Any]:
    """The compiled placeholders of a template that has no issues, in order."""
    return [
        compile_expression(m.group(1))[0] for m in _PLACEHOLDER.finditer(template) if m.group(1) is not None
    ]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_message(template: str, programs: list[Any], context: Any) -> str:
    """The template with each placeholder replaced by its value for this environment."""
    values = iter(programs)

    def fill(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)[0]
        program = next(values)
        try:
            return _show(program.execute(context))
        except (KeyError, RuntimeError, TypeError, ValueError):
            return match.group(0)

    return _PLACEHOLDER.sub(fill, template)


def expression_position(
    file_text: str, value_line: int, value_col: int, expr_line: int, expr_col: int
) -> tuple[int, int]:
    """Where, in the YAML file, a line and column of an expression's text are.

    Handles the usual ways to write one: a plain or quoted scalar on one line, and literal
    (``|``) or folded (``>``) blocks.
    """
    lines = file_text.splitlines()
    if not 1 <= value_line <= len(lines):
        return value_line, value_col
    first = lines[value_line - 1]
    indicator = first[value_col - 1 : value_col]
    if indicator in ("|", ">"):
        content = lines[value_line:]
        indents = [len(ln) - len(ln.lstrip(" ")) for ln in content if ln.strip()]
        indent = indents[0] if indents else value_col
        if indicator == "|":
            return value_line + expr_line, indent + expr_col
        # Folded: each source line became one line of text joined by spaces.
        remaining = expr_col
        for i, ln in enumerate(content):
            text = ln[indent:]
            if remaining <= len(text) + 1 or i == len(content) - 1:
                return value_line + 1 + i, indent + remaining
            remaining -= len(text) + 1
    quoted = 1 if indicator in ("'", '"') else 0
    return value_line + expr_line - 1, value_col + quoted + expr_col - 1


# --- evaluation ------------------------------------------------------------------------

AtField = Literal["environment", "oke_version", "flows", "sso", "type", "status", "profile", "clients"]


class CelParams(Model):
    at: AtField = Field(
        default="environment",
        description="Which value a finding points at: the environment entry, or one of its fields",
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def school_data(school: School) -> dict[str, Any]:
    return {
        "code": school.code,
        "name": school.name,
        "federation": school.federation,
        "schac_home": school.schac_home,
        "systems": dict(school.systems),
        "roles": {k: list(v) for k, v in school.roles.items()},
        "connections": {
            sid: {
                "profile": c.profile,
                "function": c.function,
                "oke_version": c.oke_version,
                "flows": list(c.flows),
            }
            for sid, c in school.connections.items()
        },
    }


def supplier_data(s: Supplier) -> dict[str, Any]:
    dpia = s.privacy.dpia
    return {
        "id": s.id,
        "name": s.name,
        "roles": list(s.roles),
        "flows": list(s.flows),
        "oke_versions": list(s.oke_versions),
        "role_names": dict(s.role_names),
        "privacy": {
            "processing_agreement": s.privacy.processing_agreement,
            "dpia": None
            if dpia is None
            else {"status": dpia.status, "date": _iso(dpia.date), "covers_flow_6": dpia.covers_flow_6},
        },
        "certification": [{"oke": c.oke, "status": c.status, "date": _iso(c.date)} for c in s.certification],
        "certified": [c.oke for c in s.certification if c.status == "certified"],
        "support": {"email": s.support.email, "url": s.support.url, "phone": s.support.phone},
    }


def connection_data(sid: str, conn: Connection, function: str | None, env_names: list[str]) -> dict[str, Any]:
    return {
        "supplier": sid,
        "profile": conn.profile,
        "function": function,
        "oke_version": conn.oke_version,
        "flows": list(conn.flows),
        "clients": {name: {"scopes": list(c.scopes)} for name, c in conn.clients.items()},
        "environments": env_names,
    }


def env_names(env: EnvView) -> list[str]:
    """The environments a connection has after its profile and overrides."""
    names = list(env.profile.environments) if env.profile is not None else []
    for name, override in env.conn.environments.items():
        if override.absent:
            if name in names:
                names.remove(name)
        elif name not in names:
            names.append(name)
    return names


def env_data(env: EnvView) -> dict[str, Any]:
    spec = env.spec
    sso = spec.get("sso") or {}
    return {
        "name": env.name,
        "address": env.address,
        "function": spec.get("function"),
        "type": spec.get("type"),
        "status": spec.get("status"),
        "oke_version": spec.get("oke_version"),
        "ooapi_version": spec.get("ooapi_version"),
        "flows": list(spec.get("flows") or []),
        "sso": {"mode": sso.get("mode"), "federation": sso.get("federation")},
    }


def catalogue_data(state: DesiredState) -> dict[str, Any]:
    roles = state.roles
    versions = state.versions
    return {
        "roles": {
            name: {"description": r.description, "oke_role": r.oke_role, "required_for": list(r.required_for)}
            for name, r in (roles.roles.items() if roles else ())
        },
        "separation_of_duties": [
            {"roles": list(p.roles), "reason": p.reason}
            for p in (roles.separation_of_duties if roles else ())
        ],
        "versions": {
            v: {
                "ooapi": e.ooapi,
                "status": e.status,
                "released": _iso(e.released),
                "end_of_support": _iso(e.end_of_support),
            }
            for v, e in (versions.oke_versions.items() if versions else ())
        },
    }


def field_usage(sources: list[str]) -> dict[str, frozenset[str] | None]:
    """Per variable the expressions use: the top-level fields they read, or None for all.

    Turning a Python value into a CEL value costs about a microsecond per item, and a
    school with its connections has hundreds; an expression that reads two fields only
    gets those two.
    """
    usage: dict[str, set[str] | None] = {}
    for source in sources:
        masked = _masked(source)
        for name in VARIABLES:
            for match in re.finditer(rf"(?<![\w.]){name}\b(\s*\.\s*([A-Za-z_]\w*))?", masked):
                if match.group(2) is None:
                    usage[name] = None
                elif name not in usage or usage[name] is not None:
                    fields = usage.setdefault(name, set())
                    assert fields is not None
                    fields.add(match.group(2))
    return {k: (frozenset(v) if v is not None else None) for k, v in usage.items()}


class DataCache:
    """The Python form of each school, supplier and connection, built once per check."""

    def __init__(self, state: DesiredState) -> None:
        self.state = state
        self.schools: dict[str, dict[str, Any]] = {}
        self.suppliers: dict[str, dict[str, Any]] = {}
        self._catalogue: dict[str, Any] | None = None

    def school(self, school: School) -> dict[str, Any]:
        data = self.schools.get(school.code)
        if data is None:
            data = self.schools[school.code] = school_data(school)
        return data

    def supplier(self, supplier: Supplier) -> dict[str, Any]:
        data = self.suppliers.get(supplier.id)
        if data is None:
            data = self.suppliers[supplier.id] = supplier_data(supplier)
        return data

    def catalogue(self) -> dict[str, Any]:
        if self._catalogue is None:
            self._catalogue = catalogue_data(self.state)
        return self._catalogue


class Bindings:
    """The variables one CEL rule sees for the environment being looked at.

    The walk goes school by school, connection by connection, so a variable is converted
    to CEL only when the thing it describes changes, and only with the fields used.
    """

    def __init__(
        self,
        cache: DataCache,
        today: date,
        usage: dict[str, frozenset[str] | None],
        eager: frozenset[str] | None = None,
    ) -> None:
        self.context = cel_module().Context()
        self.cache = cache
        self.usage = usage
        # Variables only the message uses are bound when a message is to be written.
        self.eager = frozenset(usage) if eager is None else eager & frozenset(usage)
        self._bound: frozenset[str] = frozenset()
        if "today" in usage:
            self.context.update({"today": today.isoformat()})
        if "catalogue" in usage:
            self.context.update({"catalogue": self._project("catalogue", cache.catalogue())})
        self._keys: dict[str, Any] = {}
        self._env: EnvView | None = None
        self._per_env = "env" in usage
        self._by_school = "school" in usage or "connection" in usage
        self._by_supplier = "supplier" in usage or "connection" in usage

    def key(self, env: EnvView) -> tuple[str, ...] | None:
        """What the result for ``env`` depends on; None when that is the environment itself."""
        if self._per_env:
            return None
        key: tuple[str, ...] = ()
        if self._by_school:
            key += (env.code,)
        if self._by_supplier:
            key += (env.supplier.id,)
        return key

    def _project(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        fields = self.usage.get(name)
        if fields is None:
            return data
        return {k: data[k] for k in fields if k in data}

    def _set(self, names: frozenset[str], name: str, key: Any, make: Callable[[], dict[str, Any]]) -> None:
        if name not in names or self._keys.get(name, self) == key:
            return
        self._keys[name] = key
        self.context.update({name: self._project(name, make())})

    def bind(self, env: EnvView, *, everything: bool = False) -> None:
        """Bind what the expression reads (and with ``everything``, what the message reads)."""
        names = frozenset(self.usage) if everything else self.eager
        if env is self._env and names <= self._bound:
            return
        self._env, self._bound = env, names
        sid = env.supplier.id
        cache = self.cache
        self._set(names, "school", env.code, lambda: cache.school(env.school))
        self._set(names, "supplier", sid, lambda: cache.supplier(env.supplier))
        self._set(
            names,
            "connection",
            (env.code, sid),
            lambda: connection_data(sid, env.conn, env.spec.get("function"), env_names(env)),
        )
        self._set(names, "env", env.address, lambda: env_data(env))


class CelCheck(Check):
    kind = "cel"
    summary = "A custom expression that must hold for every selected environment"
    params_model = CelParams

    def __init__(self, rule: Rule, params: Any, out: Emitter, program: Any, bindings: Bindings) -> None:
        super().__init__(rule, params, out)
        self.program = program
        self.bindings = bindings
        self.template = rule.message or f"expression is false: {rule.expression}"
        self.placeholders = template_programs(rule.message) if rule.message else []
        self.outcomes: dict[tuple[str, ...], str | None] = {}

    def environment(self, env: EnvView) -> None:
        key = self.bindings.key(env)
        if key is None:
            outcome = self._evaluate(env)
        else:
            # The result depends only on what the expression reads: an expression over the
            # supplier alone is worked out once per supplier, not once per environment.
            if key in self.outcomes:
                outcome = self.outcomes[key]
            else:
                outcome = self.outcomes[key] = self._evaluate(env)
        if outcome is not None:
            self.env_finding(env, env.at(self.params.at), outcome)

    def _evaluate(self, env: EnvView) -> str | None:
        """None when the expression holds, else the finding's message."""
        bindings = self.bindings
        bindings.bind(env)
        try:
            result = self.program.execute(bindings.context)
        except KeyError as exc:
            return self._failure(f"no such field {exc.args[0]!r}; guard it with has(...)")
        except (RuntimeError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            # Division by zero or an index out of range is this environment's finding,
            # not a crash of the whole check.
            return self._failure(str(exc).split(". ")[0] or type(exc).__name__)
        if result is True:
            return None
        if result is not False:
            return self._failure(f"expression gave {result!r}, not true or false")
        if not self.placeholders:
            return " ".join(self.template.split())
        bindings.bind(env, everything=True)
        message = render_message(self.template, self.placeholders, bindings.context)
        return " ".join(message.split())

    @staticmethod
    def _failure(why: str) -> str:
        # An expression that cannot be evaluated must not pass silently.
        return f"cannot evaluate the expression: {why}"
