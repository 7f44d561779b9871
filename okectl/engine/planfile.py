"""The saved plan: writing it, reading it back as untrusted input, and staleness."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okectl.engine.plan import PLAN_FORMAT_VERSION, Change, Plan, PlanRun, SecretResolver, checksum
from okectl.engine.safety import UnsafePlan
from okectl.errors import OkectlError
from okectl.files import read_regular, write_atomic
from okectl.model.resources import LABEL_REPOSITORY, Address, Resource

if TYPE_CHECKING:
    from okectl.engine.workspace import Workspace


class PlanFileError(OkectlError):
    pass


def save_plan(run: PlanRun, path: Path) -> str:
    doc = run.document(with_secrets=True)
    # Readable by its owner only: it holds digests of the secret values it writes.
    write_atomic(
        path, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", what="the plan file", mode=0o600
    )
    return str(doc["checksum"])


# A plan document nests a few levels deep; one nested far deeper is not a plan.
MAX_PLAN_DEPTH = 32
# A fleet's plan is a few MiB; far more is not a plan.
MAX_PLAN_BYTES = 512 * 2**20
_TOO_DEEP = object()


def _too_deep(doc: Any) -> bool:
    """Whether the document nests deeper than MAX_PLAN_DEPTH (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_PLAN_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))
    return False


def load_plan(path: Path) -> dict[str, Any]:
    """A saved plan's document. Its checksum catches a damaged file, not a forged one:
    anyone can recompute it, so apply checks every change against the supplier and the
    desired state (``verify_plan``)."""
    try:
        raw = read_regular(path, what="the plan file", limit=MAX_PLAN_BYTES)
    except OkectlError as exc:
        raise PlanFileError(str(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(
            f"{path}: not a plan file (not UTF-8 text: byte {exc.start + 1} cannot be read)"
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}:{exc.lineno}:{exc.colno}: not a plan file (invalid JSON)") from None
    except RecursionError:
        doc = _TOO_DEEP
    if doc is _TOO_DEEP or _too_deep(doc):
        raise PlanFileError(f"{path}: not a plan file (nested more than {MAX_PLAN_DEPTH} levels deep)")
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


def secrets_moved_on(
    changes: list[Change],
    desired: dict[Address, Resource],
    planned_secrets: dict[Address, str | None],
    *,
    secret_salt: str,
    resolve_secret: SecretResolver,
) -> dict[Address, str]:
    """Client writes whose secret value (behind its reference) is not the one the plan
    recorded a digest of, or that a digest is missing for."""
    from okectl.engine.plan import secret_digests, written_secrets

    current = secret_digests(written_secrets(changes, desired, resolve_secret), secret_salt)
    return {
        addr: "the value behind its secret reference changed since the plan was made; run okectl plan again"
        for addr, digest in current.items()
        if digest != planned_secrets.get(addr)
    }


NOT_PLANNED = "not what this repository plans"
_NO_SPEC = Resource(Address("", "", ""), {})
# A saved change whose target no longer matches the configuration was either edited in
# the file or planned before the configuration changed: the file cannot tell which.
_CHANGED_SINCE = "; if the configuration changed since the plan was made, run okectl plan again"


class PlanRefused(OkectlError):
    """A saved plan that is not applied at all: one line per reason, each naming the change."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems[0] if problems else "the plan is refused")

    def lines(self) -> list[str]:
        return self.problems


@dataclass
class VerifiedPlan:
    """A saved plan checked against the supplier and the current desired state."""

    run: PlanRun
    # The changes to apply: those planning now produces, matched with the file's.
    changes: list[Change]
    # Changes not to attempt, and why (only with allow_partial: the stale ones).
    refused: dict[Address, str] = field(default_factory=dict)


def verify_plan(
    doc: dict[str, Any],
    path: Path,
    ws: Workspace,
    *,
    allow_partial: bool = False,
    force: bool = False,
) -> VerifiedPlan:
    """Check a loaded plan document against what the suppliers hold now and what this
    repository's desired state asks for, and return the changes to apply.

    Nothing in the file is taken on trust. Each change must be one that planning now
    produces (same address, action, ETag and target values) for a resource this
    repository owns, or one it is about to adopt; anything else refuses the whole plan as
    "not what this repository plans" (a change made before the configuration changed
    included: the file cannot tell it from an edited one). A change whose resource moved on
    at the supplier, or whose secret value changed, since the plan was made is stale: the
    whole plan is refused, each stale change named, unless `allow_partial`, which refuses
    only those. The safety guards run again on the changes to apply. Nothing is written
    here; every write that follows is conditional on the ETag checked here, so what was
    checked is what is written over."""
    from okectl.engine.planner import make_plan
    from okectl.engine.safety import check_safety
    from okectl.model.scope import Scope

    repository = ws.repository
    planned_for = doc.get("repository")
    if planned_for != repository:
        raise PlanFileError(
            f"{path}: the plan was made for repository {planned_for!r}, not this one ({repository!r}); "
            "nothing was applied"
        )
    changes = changes_from_document(doc, path)
    docs = [c for c in doc["changes"] if isinstance(c, dict)]

    def line(ch: Change, problem: str) -> str:
        return f"{path}: {ch.address} ({ch.action}): {problem}"

    forged: list[str] = []
    seen: set[Address] = set()
    for ch in changes:
        if ch.address in seen:
            forged.append(line(ch, f"{NOT_PLANNED} (a second change of the same resource)"))
        seen.add(ch.address)
        if ch.etag is not None and ch.etag.strip() in ("*", ""):
            forged.append(line(ch, f"{NOT_PLANNED} (okectl never writes with If-Match: *)"))
    for ch in changes:
        if ch.address.supplier not in ws.state.suppliers:
            forged.append(line(ch, f"{NOT_PLANNED} (supplier {ch.address.supplier!r} is not configured)"))
    if forged:
        raise PlanRefused(forged)

    scope = Scope(
        schools={c.address.school for c in changes}, suppliers={c.address.supplier for c in changes}
    )
    # Reads only the tenants the plan touches; the guards run below, on the file's changes.
    run = make_plan(ws, scope=scope, force=True, with_policy=False, guard=False)
    fresh = {c.address: c for c in run.plan.changes}
    desired = {r.address: r for r in run.validated.resources}
    by_address = {c.address: d for c, d in zip(changes, docs, strict=True)}
    salt = doc.get("secret_salt")
    # A client write sends the value behind its secret reference; a file without the digest
    # of that value (dropped from it, or never there) cannot show the value is the planned one.
    undigested = [
        line(ch, "records no digest of the secret it writes; make the plan again with okectl plan --out")
        for ch in changes
        if ch.address.kind == "client"
        and ch.action != "delete"
        and isinstance((desired.get(ch.address) or _NO_SPEC).spec.get("secret"), str)
        and (not isinstance(salt, str) or "secret_digest" not in by_address[ch.address])
    ]
    if undigested:
        raise PlanRefused(undigested)
    # Only the values behind secret references: the file's target values themselves
    # are compared with the desired state below.
    secrets_moved = (
        secrets_moved_on(
            changes,
            desired,
            {a: d.get("secret_digest") for a, d in by_address.items()},
            secret_salt=salt,
            resolve_secret=ws.resolve_secret,
        )
        if isinstance(salt, str)
        else {}
    )
    stale: dict[Address, str] = {}
    verified: list[Change] = []
    for ch in changes:
        addr = ch.address
        act = run.actual.get(addr)
        now = fresh.get(addr)
        wanted = desired.get(addr)
        if ch.action != "create" and act is not None and not act.owned_by(repository):
            adopting = ch.action == "update" and now is not None and now.action == "update" and now.adopt
            if not adopting:
                owner = act.labels.get(LABEL_REPOSITORY) or "nobody: made by hand"
                forged.append(line(ch, f"{NOT_PLANNED} (this repository does not own it; owner: {owner})"))
                continue
        if ch.action == "delete" and wanted is not None:
            forged.append(line(ch, f"{NOT_PLANNED} (the configuration keeps it{_CHANGED_SINCE})"))
            continue
        if ch.action != "delete" and (
            wanted is None or by_address[addr].get("after_digest") != checksum(wanted.spec)
        ):
            problem = "it is not in the configuration" if wanted is None else "other target values"
            forged.append(line(ch, f"{NOT_PLANNED} ({problem}{_CHANGED_SINCE})"))
            continue
        if ch.action == "create" and act is not None:
            stale[addr] = "it exists at the supplier now; run okectl plan again"
        elif ch.action != "create" and act is None:
            stale[addr] = "it no longer exists at the supplier; run okectl plan again"
        elif ch.action != "create" and act is not None and act.etag != ch.etag:
            stale[addr] = (
                "changed at the supplier since the plan was made "
                f"(ETag {act.etag}, planned {ch.etag}); run okectl plan again"
            )
        elif addr in secrets_moved:
            stale[addr] = secrets_moved[addr]
        elif now is None or not _same_change(now, ch, by_address[addr]):
            gives = "no change to it" if now is None else _what(now, ch)
            forged.append(line(ch, f"{NOT_PLANNED} (planning now gives {gives}; see okectl plan)"))
        else:
            verified.append(now)
    if forged:
        raise PlanRefused(forged)
    if stale and not allow_partial:
        raise PlanRefused(
            [line(ch, f"stale: {stale[ch.address]}") for ch in changes if ch.address in stale]
            + [
                f"{path}: {len(stale)} of its {len(changes)} changes are stale; nothing was applied "
                "(run okectl plan again, or apply with --allow-partial to apply the rest)"
            ]
        )
    safety = check_safety(Plan(changes=verified), run.state, run.owned_envs, force=force)
    if safety:
        raise UnsafePlan(safety)
    # Stale changes (allowed through by allow_partial) are not attempted: they stay in
    # the run's account as refused.
    kept = {c.address: c for c in verified}
    return VerifiedPlan(
        run=run,
        changes=[kept.get(ch.address, ch) for ch in changes if ch.address in kept or ch.address in stale],
        refused=dict(stale),
    )


def _what(now: Change, saved: Change) -> str:
    """How the change planning now produces differs from the saved one, in words."""
    article = "an" if now.action == "update" else "a"
    if now.action != saved.action:
        return f"{article} {now.action}"
    if now.adopt != saved.adopt:
        return f"{article} {now.action} that {'adopts' if now.adopt else 'does not adopt'} it"
    return f"{article} {now.action} with other values"


def _same_change(now: Change, ch: Change, saved: dict[str, Any]) -> bool:
    """Whether the saved change is the one planning now produces: same action, ETag,
    adoption and target values (as saved, secret references redacted, and by digest)."""
    if (now.action, now.etag, now.adopt) != (ch.action, ch.etag, ch.adopt):
        return False
    target = now.to_json()
    return bool(saved.get("after") == target["after"] and saved.get("after_digest") == target["after_digest"])
