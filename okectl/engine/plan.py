"""Plans: what must change at the suppliers so reality matches the desired state.

The comparison is keyed by address: equal normalised specs cost one dict comparison,
and only resources that differ are compared field by field (DeepDiff), which keeps a
10,000-resource fleet in sync cheap to plan.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from okectl.model.resources import ActualResource, Address, Resource
from okectl.model.scope import Scope
from okectl.model.secrets import SENSITIVE_CHANGE, redact_spec

if TYPE_CHECKING:
    from okectl.config.repository import DesiredState
    from okectl.engine.validate import Validated
    from okectl.policy.findings import PolicyReport

# Turns a secret reference (env:NAME, file:PATH) into its value; None when it is not set.
SecretResolver = Callable[[str], str | None]

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
PLAN_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    before: Any
    after: Any
    sensitive: bool = False
    # For a list whose elements were added or removed: those elements (the reader sees
    # `+ "21rc-toezicht"` rather than two whole lists to compare by eye). None otherwise.
    added: tuple[Any, ...] | None = None
    removed: tuple[Any, ...] | None = None

    @property
    def by_element(self) -> bool:
        return self.added is not None or self.removed is not None

    def to_json(self) -> dict[str, Any]:
        if self.sensitive:
            return {"path": self.path, "sensitive": True, "change": SENSITIVE_CHANGE}
        doc = {"path": self.path, "before": self.before, "after": self.after}
        if self.by_element:
            doc["added"] = list(self.added or ())
            doc["removed"] = list(self.removed or ())
        return doc


@dataclass(slots=True)
class Change:
    address: Address
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    diff: list[FieldChange] = field(default_factory=list)
    etag: str | None = None
    # An update that also takes ownership of a resource made by hand at the supplier.
    adopt: bool = False
    # Where the change comes from in the YAML: (path, line, col), when known.
    source: tuple[str, int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "kind": self.address.kind,
            "action": self.action,
            "adopt": self.adopt,
            "before": redact_spec(self.address.kind, self.before),
            "after": redact_spec(self.address.kind, self.after),
            "diff": [d.to_json() for d in self.diff],
            "etag": self.etag,
            # Lets a saved plan notice a desired-state change, secret references included,
            # without writing them out.
            "after_digest": checksum(self.after) if self.after is not None else None,
            "source": (
                {"path": self.source[0], "line": self.source[1], "col": self.source[2]}
                if self.source
                else None
            ),
        }


@dataclass(slots=True)
class Unmanaged:
    address: Address
    reason: str


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    in_sync: int = 0
    warnings: list[str] = field(default_factory=list)
    # Environments per (supplier, school) before and after applying: for reports.
    env_counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Changes per action; an adoption counts as an update here (it is one)."""
        c = Counter(ch.action for ch in self.changes)
        return {a: c.get(a, 0) for a in ACTIONS}

    @property
    def adoptions(self) -> int:
        return sum(1 for ch in self.changes if ch.adopt)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> str:
        c = self.counts()
        if not self.changes:
            return f"No changes. {self.in_sync} resources in sync."
        # Taking ownership of what was made by hand is a different decision from an edit:
        # counted on its own, as Terraform counts imports, and only when there are any.
        adopt = self.adoptions
        adopting = f"{adopt} to adopt, " if adopt else ""
        return (
            f"Plan: {c['create']} to create, {adopting}{c['update'] - adopt} to update, "
            f"{c['delete']} to delete; {self.in_sync} in sync, {len(self.unmanaged)} unmanaged left alone."
        )


def checksum(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class PlanRun:
    plan: Plan
    validated: Validated
    repository: str
    scope: Scope
    commit: str | None
    dirty: bool
    created_at: str
    policy: PolicyReport | None = None
    safety: list[str] = field(default_factory=list)
    # Resolves a secret reference to its value; with it, a saved plan records a salted
    # digest of each secret a change writes, so apply can tell the value moved on.
    resolve_secret: SecretResolver | None = None
    secret_salt: str = field(default_factory=lambda: secrets.token_hex(16))
    # What the refresh found, by address, and the owned environments per supplier the
    # mass-deletion guard counts: apply FILE checks a saved plan against these.
    actual: dict[Address, ActualResource] = field(default_factory=dict, repr=False)
    owned_envs: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> DesiredState:
        return self.validated.state

    def secret_digests(self) -> dict[Address, str | None]:
        """For every change that writes a secret: the digest of its value now (None when
        the reference is not set)."""
        if self.resolve_secret is None:
            return {}
        desired = {r.address: r for r in self.validated.resources}
        return secret_digests(
            written_secrets(self.plan.changes, desired, self.resolve_secret), self.secret_salt
        )

    def payload(self, *, with_secrets: bool = False) -> dict[str, Any]:
        """The plan document (without its checksum). `with_secrets`: with the digests of
        the secret values it writes, for a saved plan; printed plans go without them."""
        counts = self.plan.counts()
        digests = self.secret_digests() if with_secrets else {}
        doc = {
            "format_version": PLAN_FORMAT_VERSION,
            "created_at": self.created_at,
            "repository": self.repository,
            "commit": self.commit,
            "dirty": self.dirty,
            "scope": {
                "schools": sorted(self.scope.schools) if self.scope.schools is not None else None,
                "suppliers": sorted(self.scope.suppliers) if self.scope.suppliers is not None else None,
                "reasons": list(self.scope.reasons),
            },
            "summary": {
                **counts,
                "adopt": self.plan.adoptions,
                "in_sync": self.plan.in_sync,
                "unmanaged": len(self.plan.unmanaged),
            },
            "changes": [
                {**c.to_json(), "secret_digest": digests[c.address]} if c.address in digests else c.to_json()
                for c in self.plan.changes
            ],
            "unmanaged": [{"address": str(u.address), "reason": u.reason} for u in self.plan.unmanaged],
            "warnings": self.plan.warnings,
            "safety": self.safety,
            "findings": [f.to_json() for f in self.policy.findings] if self.policy is not None else [],
        }
        if with_secrets and self.resolve_secret is not None:
            doc["secret_salt"] = self.secret_salt
        return doc

    def document(self, *, with_secrets: bool = False) -> dict[str, Any]:
        body = self.payload(with_secrets=with_secrets)
        return {**body, "checksum": checksum(body)}


# PBKDF2 rounds for a secret's digest in a saved plan. Plan files travel as CI artifacts:
# a digest must not make a weak secret quick to guess (suppliers' sha256 fingerprints
# already are), yet a plan writing a few hundred distinct secrets must stay fast.
SECRET_DIGEST_ROUNDS = 20_000


def secret_digests(values: dict[Address, str | None], salt: str) -> dict[Address, str | None]:
    """A digest per client of the secret value it is written with (None: not set).

    The slow part (PBKDF2) runs once per distinct value, since clients often share a
    secret; an HMAC over the address then makes each client's digest its own, so a plan
    does not show which clients share one."""
    keys = {
        v: hashlib.pbkdf2_hmac("sha256", v.encode("utf-8"), bytes.fromhex(salt), SECRET_DIGEST_ROUNDS)
        for v in set(values.values())
        if v is not None
    }
    return {
        addr: None
        if v is None
        else f"pbkdf2-sha256:{SECRET_DIGEST_ROUNDS}:"
        + hmac.new(keys[v], str(addr).encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        for addr, v in values.items()
    }


def written_secrets(
    changes: list[Change], desired: dict[Address, Resource], resolve: SecretResolver
) -> dict[Address, str | None]:
    """The secret value each create or update of a client sends (None: its reference is
    not set), for the clients whose configuration has a secret reference."""
    values: dict[str, str | None] = {}
    out: dict[Address, str | None] = {}
    for ch in changes:
        res = desired.get(ch.address)
        if ch.action == "delete" or res is None or res.kind != "client":
            continue
        ref = res.spec.get("secret")
        if not isinstance(ref, str):
            continue
        if ref not in values:
            values[ref] = resolve(ref)
        out[ch.address] = values[ref]
    return out
