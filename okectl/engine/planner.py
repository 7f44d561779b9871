"""From a repository to a checked plan: validate, refresh, diff, guard, record."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from okectl.config.repository import DesiredState
from okectl.config.resolve import environment_overrides
from okectl.config.settings import load_settings
from okectl.config.validate import Validated, validate_repository
from okectl.engine.plan import PLAN_FORMAT_VERSION, Change, Plan, checksum, diff_resources
from okectl.engine.refresh import ProgressHook, refresh
from okectl.errors import OkectlError
from okectl.model.resources import Address, Resource


class UnsafePlan(OkectlError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems[0] if problems else "unsafe plan")

    def lines(self) -> list[str]:
        return self.problems


@dataclass(frozen=True)
class Scope:
    schools: set[str] | None = None
    suppliers: set[str] | None = None
    reasons: tuple[str, ...] = ()
    # Schools named on the command line: a typo must not pass as "no changes". (A scope
    # from git may name a school whose file was removed, to plan its deletion.)
    named_schools: frozenset[str] = frozenset()

    def describe(self) -> str | None:
        parts = []
        if self.schools is not None:
            parts.append(f"schools {', '.join(sorted(self.schools)) or '(none)'}")
        if self.suppliers is not None:
            parts.append(f"suppliers {', '.join(sorted(self.suppliers)) or '(none)'}")
        return "scoped to " + "; ".join(parts) if parts else None


@dataclass
class PlanRun:
    plan: Plan
    validated: Validated
    repository: str
    scope: Scope
    commit: str | None
    dirty: bool
    created_at: str
    policy: Any = None
    safety: list[str] = field(default_factory=list)
    # Resolves a secret reference to its value; with it, a saved plan records a salted
    # digest of each secret a change writes, so apply can tell the value moved on.
    resolve_secret: Any = None
    secret_salt: str = field(default_factory=lambda: secrets.token_hex(16))

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
            "summary": {**counts, "in_sync": self.plan.in_sync, "unmanaged": len(self.plan.unmanaged)},
            "changes": [
                {**c.to_json(), "secret_digest": digests[c.address]} if c.address in digests else c.to_json()
                for c in self.plan.changes
            ],
            "unmanaged": [{"address": str(u.address), "reason": u.reason} for u in self.plan.unmanaged],
            "warnings": self.plan.warnings,
            "safety": self.safety,
            "findings": _findings_json(self.policy),
        }
        if with_secrets and self.resolve_secret is not None:
            doc["secret_salt"] = self.secret_salt
        return doc

    def document(self, *, with_secrets: bool = False) -> dict[str, Any]:
        body = self.payload(with_secrets=with_secrets)
        return {**body, "checksum": checksum(body)}


def _findings_json(report: Any) -> list[dict[str, Any]]:
    if report is None:
        return []
    out = []
    for f in getattr(report, "findings", []):
        out.append(
            {
                "policy": f.policy,
                "severity": f.severity,
                "address": f.address,
                "path": f.path,
                "line": f.line,
                "col": f.col,
                "message": f.message,
                "waived": f.waived_by is not None,
            }
        )
    return out


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
    changes: list[Change], desired: dict[Address, Resource], resolve: Any
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


def secret_resolver(root: Path) -> Any:
    def resolve(ref: str) -> str | None:
        kind, _, name = ref.partition(":")
        if kind == "env":
            return os.environ.get(name)
        if kind == "file":
            path = (root / name) if not os.path.isabs(name) else Path(name)
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError:
                return None
        return None

    return resolve


def _inside_git(root: Path) -> bool:
    return any((p / ".git").exists() for p in (root, *root.parents))


def git_info(root: Path) -> tuple[str | None, bool]:
    if not _inside_git(root):
        # Not worth importing GitPython to learn that there is no commit.
        return None, False
    try:
        from okectl.gitops.git import repo_state
    except ImportError:
        return None, False
    try:
        return repo_state(root)
    except Exception:
        # A configuration folder outside git is fine; the plan just records no commit.
        return None, False


def check_safety(plan: Plan, state: DesiredState, actual_envs: dict[str, int], *, force: bool) -> list[str]:
    """Problems that stop the plan: protected deletions always, mass deletions unless forced.

    A production environment is protected unless its override says protect: false, and
    any environment whose override says protect: true is protected whatever its type.
    """
    problems: list[str] = []
    overrides = environment_overrides(state)
    deletes_per_supplier: dict[str, int] = {}
    for ch in plan.changes:
        a = ch.address
        if a.kind != "environment" or ch.action == "create":
            continue
        override = overrides.get(a)
        protect = override.protect if override is not None else None
        where = f"connections.{a.supplier}.environments.{a.environment} in schools/{a.school}.yaml"
        was_production = (ch.before or {}).get("type") == "production"
        if ch.action == "update":
            if was_production and (ch.after or {}).get("type") != "production" and protect is not False:
                # Otherwise a production environment could be retyped out of its
                # protection in one plan and deleted in the next.
                problems.append(
                    f"{a}: refusing to change a production environment into another type; "
                    f"set protect: false under {where} if that is intended"
                )
            continue
        deletes_per_supplier[a.supplier] = deletes_per_supplier.get(a.supplier, 0) + 1
        if protect is True:
            problems.append(f"{a}: refusing to delete it: {where} says protect: true")
        elif was_production and not (override is not None and override.absent and protect is False):
            problems.append(
                f"{a}: refusing to delete a production environment; it is protected. To delete it, "
                f"keep it in schools/{a.school}.yaml under connections.{a.supplier}.environments."
                f"{a.environment} with absent: true and protect: false"
            )
    for sid, deletes in sorted(deletes_per_supplier.items()):
        supplier = state.suppliers.get(sid)
        owned = actual_envs.get(sid, 0)
        if supplier is None or owned < supplier.safety.min_environments:
            continue
        fraction = deletes / owned
        if fraction > supplier.safety.max_delete_fraction and not force:
            problems.append(
                f"{sid}: the plan deletes {deletes} of its {owned} owned environments "
                f"({fraction:.0%}, over the limit of {supplier.safety.max_delete_fraction:.0%}); "
                "check the change, then run with --force (or raise safety.max_delete_fraction "
                f"in suppliers/{sid}.yaml)"
            )
    return problems


def _unset_secrets(plan: Plan, root: Path) -> list[str]:
    """Secret references that a planned write needs but that are not set here."""
    resolve = secret_resolver(root)
    missing: dict[str, int] = {}
    for ch in plan.changes:
        ref = (ch.after or {}).get("secret") if ch.address.kind == "client" else None
        if ch.action == "create" and isinstance(ref, str) and resolve(ref) is None:
            missing[ref] = missing.get(ref, 0) + 1
    return [
        f"secret reference {ref} is not set; apply cannot create the {n} client(s) that need it"
        for ref, n in sorted(missing.items())
    ]


def locate_resource(state: DesiredState) -> Any:
    def locate(res: Resource) -> tuple[str, int, int] | None:
        if res.origin is None:
            return None
        kind, ident, loc = res.origin
        return state.position(kind, ident, loc)

    return locate


def _check_scope(scope: Scope, state: DesiredState) -> None:
    unknown = [f"unknown supplier {s!r}" for s in sorted(scope.suppliers or ()) if s not in state.suppliers]
    unknown += [f"unknown school {c!r}" for c in sorted(scope.named_schools) if c not in state.schools]
    if unknown:
        raise OkectlError("; ".join(unknown) + " in --school/--supplier; check the spelling")


def make_plan(
    root: Path,
    *,
    scope: Scope | None = None,
    force: bool = False,
    progress: ProgressHook | None = None,
    with_policy: bool = True,
) -> PlanRun:
    root = root.resolve()
    scope = scope or Scope()
    validated = validate_repository(root)
    state = validated.state
    settings = load_settings(root)
    _check_scope(scope, state)
    desired = [
        r
        for r in validated.resources
        if (scope.schools is None or r.address.school in scope.schools)
        and (scope.suppliers is None or r.address.supplier in scope.suppliers)
    ]
    refreshed = asyncio.run(
        refresh(state, root, suppliers=scope.suppliers, schools=scope.schools, progress=progress)
    )
    actual = [a for a in refreshed.resources if scope.schools is None or a.address.school in scope.schools]
    plan = diff_resources(
        desired,
        actual,
        repository=settings.repository,
        resolve_secret=secret_resolver(root),
        locate=locate_resource(state),
    )
    plan.warnings.extend(_unset_secrets(plan, root))
    owned_envs: dict[str, int] = {}
    before_envs: dict[str, int] = {}
    for a in actual:
        if a.address.kind == "environment":
            key = f"{a.address.supplier}/{a.address.school}"
            before_envs[key] = before_envs.get(key, 0) + 1
            if a.owned_by(settings.repository):
                owned_envs[a.address.supplier] = owned_envs.get(a.address.supplier, 0) + 1
    after_envs = dict(before_envs)
    for ch in plan.changes:
        if ch.address.kind == "environment" and ch.action in ("create", "delete"):
            key = f"{ch.address.supplier}/{ch.address.school}"
            after_envs[key] = after_envs.get(key, 0) + (1 if ch.action == "create" else -1)
    plan.env_counts = {
        k: (before_envs.get(k, 0), after_envs.get(k, 0)) for k in sorted(set(before_envs) | set(after_envs))
    }
    if scope.schools is not None:
        # A scoped plan sees only some tenants, but the mass-deletion guard is about the
        # supplier's whole estate: count what the configuration gives it everywhere, so
        # the pieces of a large deletion cannot each slip under the limit.
        for r in validated.resources:
            if r.address.kind == "environment" and r.address.school not in scope.schools:
                owned_envs[r.address.supplier] = owned_envs.get(r.address.supplier, 0) + 1
    safety = check_safety(plan, state, owned_envs, force=force)
    commit, dirty = git_info(root)
    run = PlanRun(
        plan=plan,
        validated=validated,
        repository=settings.repository,
        scope=scope,
        commit=commit,
        dirty=dirty,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        safety=safety,
        resolve_secret=secret_resolver(root),
    )
    if with_policy:
        run.policy = evaluate_policy(state, validated.resources)
    if safety:
        raise UnsafePlan(safety)
    return run


def evaluate_policy(state: DesiredState, resources: list[Resource] | None = None) -> Any:
    from okectl.policy.engine import evaluate

    return evaluate(state, resources=resources)


# --- saved plans ---------------------------------------------------------------------


class PlanFileError(OkectlError):
    pass


def save_plan(run: PlanRun, path: Path) -> str:
    doc = run.document(with_secrets=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot write the plan file: {exc.strerror}") from None
    return str(doc["checksum"])


def load_plan(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}:{exc.lineno}:{exc.colno}: not a plan file (invalid JSON)") from None
    if not isinstance(doc, dict) or doc.get("format_version") != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{path}: not a plan file of format version {PLAN_FORMAT_VERSION}; "
            "make one with okectl plan --out"
        )
    claimed = doc.pop("checksum", None)
    if claimed != checksum(doc):
        raise PlanFileError(f"{path}: the plan file's checksum does not match its content; re-plan")
    doc["checksum"] = claimed
    return doc


def changes_from_document(doc: dict[str, Any], path: Path) -> list[Change]:
    """The changes of a loaded plan document, checked for the shape apply relies on:
    a plan file is input like any other, even with a valid checksum."""
    changes = doc.get("changes")
    if not isinstance(changes, list):
        raise PlanFileError(f"{path}: not a valid plan file: changes is not a list")
    salt = doc.get("secret_salt")
    if salt is not None and not (isinstance(salt, str) and re.fullmatch(r"(?:[0-9a-f]{2})+", salt)):
        raise PlanFileError(f"{path}: not a valid plan file: secret_salt is not hexadecimal; re-plan")
    out = []
    for i, c in enumerate(changes):
        where = f"{path}: change {i + 1}"
        if not isinstance(c, dict):
            raise PlanFileError(f"{where} is not an object; re-plan")
        try:
            address = Address.parse(str(c["address"]))
        except KeyError:
            raise PlanFileError(f"{where} has no address; re-plan") from None
        except ValueError as exc:
            raise PlanFileError(f"{where}: {exc}; re-plan") from None
        action = c.get("action")
        if action not in ("create", "update", "delete"):
            raise PlanFileError(f"{where} ({address}): unknown action {action!r}; re-plan")
        etag = c.get("etag")
        if action != "create" and not isinstance(etag, str):
            raise PlanFileError(f"{where} ({address}): an {action} needs the observed etag; re-plan")
        for key in ("after_digest", "secret_digest"):
            if c.get(key) is not None and not isinstance(c.get(key), str):
                raise PlanFileError(f"{where} ({address}): {key} is not text; re-plan")
        out.append(
            Change(
                address=address,
                action=action,
                before=c.get("before") if isinstance(c.get("before"), dict) else None,
                after=c.get("after") if isinstance(c.get("after"), dict) else None,
                etag=etag if isinstance(etag, str) else None,
                adopt=bool(c.get("adopt")),
            )
        )
    return out
