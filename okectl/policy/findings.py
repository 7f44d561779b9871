"""What a policy check produces: findings, the waivers that applied, and waivers gone stale."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from okectl.config.policies import Rule, Severity, Waiver


@dataclass(frozen=True, slots=True)
class WaiverRef:
    """A waiver together with where it is written (for reports and SARIF)."""

    waiver: Waiver
    index: int
    path: str
    line: int
    col: int

    @property
    def policy(self) -> str:
        return self.waiver.policy

    @property
    def reason(self) -> str:
        return " ".join(self.waiver.reason.split())

    @property
    def owner(self) -> str:
        return self.waiver.owner

    @property
    def expires(self) -> date:
        return self.waiver.expires

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def describe(self) -> str:
        target = self.waiver.target if self.waiver.target is not None else "selector"
        return f"waiver #{self.index + 1} ({self.waiver.policy} for {target}, owner {self.waiver.owner})"


@dataclass(frozen=True, slots=True)
class Finding:
    """One place where the configuration breaks a rule.

    ``address`` is a resource address (``supplier/school/environment[/client|role/name]``),
    ``supplier/school`` for a connection, or a school code or supplier id when the finding
    is about the school or supplier as a whole. ``path:line:col`` is the offending value.
    """

    policy: str
    severity: Severity
    address: str
    path: str
    line: int
    col: int
    message: str
    school: str | None = None
    supplier: str | None = None
    environment_type: str | None = None
    waived_by: WaiverRef | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}[{self.policy}] {self.address}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The finding as every JSON output (policy check, plan, SARIF's properties) gives it."""
        out: dict[str, Any] = {
            "policy": self.policy,
            "severity": self.severity,
            "address": self.address,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "school": self.school,
            "supplier": self.supplier,
            "environment_type": self.environment_type,
            "waived": self.waived_by is not None,
        }
        if self.waived_by is not None:
            w = self.waived_by
            out["waived_by"] = {
                "path": w.path,
                "line": w.line,
                "col": w.col,
                "reason": w.reason,
                "owner": w.waiver.owner,
                "expires": w.waiver.expires.isoformat(),
            }
        return out


@dataclass(frozen=True, slots=True)
class StaleWaiver:
    """A waiver that no longer waives anything: expired, or matching no finding."""

    ref: WaiverRef
    reason: Literal["expired", "unused"]

    @property
    def waiver(self) -> Waiver:
        return self.ref.waiver

    @property
    def path(self) -> str:
        return self.ref.path

    @property
    def line(self) -> int:
        return self.ref.line

    @property
    def col(self) -> int:
        return self.ref.col

    @property
    def message(self) -> str:
        w = self.ref.waiver
        if self.reason == "expired":
            return (
                f"waiver for {w.policy} expired on {w.expires.isoformat()} and no longer applies; "
                f"renew it with a new date or fix the findings (owner: {w.owner})"
            )
        return f"waiver for {w.policy} matches no finding; remove it (owner: {w.owner})"

    def __str__(self) -> str:
        return f"{self.ref.path}:{self.ref.line}:{self.ref.col}: warning[waiver] {self.message}"


@dataclass
class PolicyReport:
    today: date
    rules: list[Rule] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    expired_waivers: list[StaleWaiver] = field(default_factory=list)
    unused_waivers: list[StaleWaiver] = field(default_factory=list)

    @property
    def active(self) -> list[Finding]:
        """Findings no waiver covers."""
        return [f for f in self.findings if f.waived_by is None]

    @property
    def waived(self) -> list[Finding]:
        return [f for f in self.findings if f.waived_by is not None]

    @property
    def errors(self) -> list[Finding]:
        """Error findings no waiver covers: while any stand, the configuration may not be applied."""
        return [f for f in self.findings if f.waived_by is None and f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.waived_by is None and f.severity == "warning"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        counts = Counter(f.severity for f in self.active)
        parts = [
            f"{counts['error']} error(s)",
            f"{counts['warning']} warning(s)",
            f"{len(self.waived)} waived",
        ]
        if self.expired_waivers:
            parts.append(f"{len(self.expired_waivers)} expired waiver(s)")
        if self.unused_waivers:
            parts.append(f"{len(self.unused_waivers)} unused waiver(s)")
        verdict = "policy check passed" if self.passed else "policy check failed"
        return f"{verdict}: {len(self.rules)} rules; " + ", ".join(parts)
