"""What a verification found: one `CheckResult` per check, grouped per environment.

Plain data, so the views render it and the evidence pack stores it without knowing how it
was obtained.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "skip", "error"]
LEVELS: dict[int, str] = {0: "transport", 1: "auth", 2: "metadata", 3: "read contract", 4: "write contract"}

# Where a rule comes from (`CheckResult.rule`): the published profile (the OpenAPI file the
# result names), okectl itself, or a section of the OKE texts.
PROFILE_RULE = "profile"
OKECTL_RULE = "okectl"


def rule_label(rule: str) -> str:
    """How output names a rule's source; the profile's own rules need no label."""
    if rule == PROFILE_RULE or not rule:
        return ""
    if rule == OKECTL_RULE:
        return "okectl's rule, not the profile's"
    return f"source: {rule}"


@dataclass(slots=True)
class Excerpt:
    """A redacted request and the start of its response."""

    request: str  # "GET https://…/components?pageSize=10"
    status: int | None = None
    content_type: str | None = None
    body: str = ""  # at most a few hundred characters, secrets and tokens removed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class CheckResult:
    level: int
    check: str  # e.g. "read.items-valid"
    status: Status
    message: str  # what was found
    request: str = ""  # the request it concerns, when there is one
    requires: str = ""  # what the profile (or the specification text) requires
    excerpt: Excerpt | None = None
    rule: str = PROFILE_RULE  # where the rule comes from (see rule_label)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "excerpt"}
        out["excerpt"] = self.excerpt.to_dict() if self.excerpt else None
        return out


@dataclass(slots=True)
class Observed:
    """What the environment's endpoints were seen to say, for whoever needs to confirm or
    contradict a change by observation (a recorded change request): plain data only."""

    # None: nothing was sent; True: at least one answer came; False: none did.
    answered: bool | None = None
    # What GET / names: the nl-test-admin version, and every consumer it lists.
    oke_version: str | None = None
    consumers: list[dict[str, str]] = field(default_factory=list)
    # The flow scopes the token endpoint granted, and those it refused, to the client used.
    scopes_granted: list[str] = field(default_factory=list)
    scopes_refused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class EnvironmentResult:
    address: str  # supplier/school/environment
    supplier: str
    school: str
    environment: str
    type: str
    roles: list[str]
    flows: list[int]
    oke_version: str
    ooapi_version: str
    base_url: str | None
    profile: str | None  # the vendored file checked against
    overlays: list[str]
    checks: list[CheckResult] = field(default_factory=list)
    # The OKE version the environment's GET / names, when it differs from the declared one.
    drift: str | None = None
    # Where base_url came from ("declared" in the school file, "reported" by the
    # administration API), and what okectl noticed on the way that is no check's result.
    located_by: str | None = None
    notes: list[str] = field(default_factory=list)
    observed: Observed = field(default_factory=Observed)

    def add(self, result: CheckResult) -> None:
        self.checks.append(result)

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        if "error" in statuses:
            return "error"
        if "fail" in statuses:
            return "fail"
        # Every check skipped (a loopback sandbox at level 0) proves nothing: not a pass.
        if statuses == {"skip"}:
            return "skip"
        return "pass"

    def highest_passed_level(self) -> int:
        """The highest level up to which every check passed (-1: not even transport)."""
        passed = -1
        for level in sorted(LEVELS):
            at = [c for c in self.checks if c.level == level]
            if not at or any(c.status in ("fail", "error") for c in at):
                if at:
                    break
                continue
            passed = level
        return passed

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("checks", "observed")}
        out["status"] = self.status
        out["observed"] = self.observed.to_dict()
        out["checks"] = [c.to_dict() for c in self.checks]
        return out


@dataclass(slots=True)
class VerifyReport:
    level: int
    okectl_version: str
    started: str
    finished: str = ""
    environments: list[EnvironmentResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # problems not tied to one environment
    round_trips: int = 0  # the longest chain of dependent requests
    requests: dict[str, int] = field(default_factory=dict)  # supplier → requests sent

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "skip": 0, "error": 0}
        for env in self.environments:
            for check in env.checks:
                out[check.status] += 1
        return out

    @property
    def status(self) -> Status:
        if self.errors or any(e.status == "error" for e in self.environments):
            return "error"
        if any(e.status == "fail" for e in self.environments):
            return "fail"
        if self.environments and all(e.status == "skip" for e in self.environments):
            return "skip"
        return "pass"

    def scrub(self, clean: Callable[[str, list[str]], list[str]]) -> None:
        """Pass every string the report holds through ``clean`` (given each supplier's id
        and its environments' strings, returning them cleaned), in place: whatever is kept
        (output, evidence, the record) is built from the report alone."""
        by_supplier: dict[str, list[EnvironmentResult]] = {}
        for env in self.environments:
            by_supplier.setdefault(env.supplier, []).append(env)
        for supplier, envs in by_supplier.items():
            map_strings(envs, functools.partial(clean, supplier))
        map_strings(self.errors, functools.partial(clean, ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "okectl_version": self.okectl_version,
            "started": self.started,
            "finished": self.finished,
            "status": self.status,
            "counts": self.counts(),
            "errors": list(self.errors),
            "environments": [e.to_dict() for e in self.environments],
        }


def map_strings(value: Any, clean: Callable[[list[str]], list[str]]) -> None:
    """Replace every string inside ``value`` (lists, dicts, dataclasses), in place, by what
    ``clean`` makes of all of them at once (one call: cleaning has a cost per call)."""
    found: list[str] = []

    def collect(text: str) -> str:
        found.append(text)
        return text

    _walk(value, collect)
    cleaned = iter(clean(found))
    _walk(value, lambda _text: next(cleaned))


def _walk(value: Any, visit: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return visit(value)
    if isinstance(value, list):
        value[:] = [_walk(v, visit) for v in value]
        return value
    if isinstance(value, dict):
        items = [(_walk(k, visit), _walk(v, visit)) for k, v in value.items()]
        value.clear()
        value.update(items)
        return value
    if is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            setattr(value, f.name, _walk(getattr(value, f.name), visit))
    return value
