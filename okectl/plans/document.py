"""The plan document: what `okectl plan -o json` prints and `okectl plan --out` saves, and
reading a saved one back as untrusted input.

The document's checksum catches a damaged file, not a forged one: anyone can recompute
it. So a saved plan is read with every shape apply relies on checked here, and then
checked against a fresh plan (``okectl.plans.saved``) before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from okectl.errors import OkectlError
from okectl.jsontext import canonical
from okectl.model.redaction import redact_spec
from okectl.model.resources import Address
from okectl.plans.changes import Change
from okectl.plans.run import PlanRun

PLAN_FORMAT_VERSION = 1
# A plan document nests a few levels deep; one nested far deeper is not a plan.
MAX_PLAN_DEPTH = 32
# A fleet's plan is a few MiB; far more is not a plan.
MAX_PLAN_BYTES = 512 * 2**20
# PBKDF2 rounds for a secret's digest in a saved plan. Plan files travel as CI artifacts:
# a digest must not make a weak secret quick to guess (suppliers' sha256 fingerprints
# already are), yet a plan writing a few hundred distinct secrets must stay fast.
SECRET_DIGEST_ROUNDS = 20_000


class PlanFileError(OkectlError):
    """A saved plan that cannot be used as one: one line, naming the file."""


def checksum(payload: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


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


@dataclass(frozen=True)
class SecretDigests:
    """What a saved plan records of the secret values its client writes send: a random
    salt and a digest per client (None: the reference was not set)."""

    salt: str
    by_address: dict[Address, str | None]


def change_document(ch: Change) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "address": str(ch.address),
        "kind": ch.address.kind,
        "action": ch.action,
        "adopt": ch.adopt,
        "before": redact_spec(ch.address.kind, ch.before),
        "after": redact_spec(ch.address.kind, ch.after),
        "diff": [d.to_json() for d in ch.diff],
        "etag": ch.etag,
        # Lets a saved plan notice a desired-state change, secret references included,
        # without writing them out.
        "after_digest": checksum(ch.after) if ch.after is not None else None,
        "source": ({"path": ch.source[0], "line": ch.source[1], "col": ch.source[2]} if ch.source else None),
    }
    if ch.marks:
        doc["marks"] = [{"kind": m.kind, "reason": m.reason} for m in ch.marks]
    return doc


def plan_document(run: PlanRun, secrets: SecretDigests | None = None) -> dict[str, Any]:
    """The plan document, with its checksum. ``secrets``: for a saved plan, the digests of
    the secret values it writes; a printed plan goes without them."""
    counts = run.plan.counts()
    digests = secrets.by_address if secrets is not None else {}
    body: dict[str, Any] = {
        "format_version": PLAN_FORMAT_VERSION,
        "created_at": run.created_at,
        "repository": run.repository,
        "commit": run.commit,
        "dirty": run.dirty,
        "scope": {
            "schools": sorted(run.scope.schools) if run.scope.schools is not None else None,
            "suppliers": sorted(run.scope.suppliers) if run.scope.suppliers is not None else None,
            "reasons": list(run.scope.reasons),
        },
        "summary": {
            **counts,
            "adopt": run.plan.adoptions,
            "to_request": run.plan.to_request,
            "awaiting": len(run.plan.awaiting),
            "in_sync": run.plan.in_sync,
            "unmanaged": len(run.plan.unmanaged),
        },
        "changes": [
            {**change_document(c), "secret_digest": digests[c.address]}
            if c.address in digests
            else change_document(c)
            for c in run.plan.changes
        ],
        # Requested already, awaiting the supplier's confirmation: not changes to apply.
        "awaiting": [
            {**change_document(a.change), "request": a.to_json()} for a in run.plan.awaiting
        ],
        "unmanaged": [{"address": str(u.address), "reason": u.reason} for u in run.plan.unmanaged],
        "warnings": run.plan.warnings,
        "safety": run.safety,
        "findings": [f.to_json() for f in run.policy.findings] if run.policy is not None else [],
    }
    if secrets is not None:
        body["secret_salt"] = secrets.salt
    return {**body, "checksum": checksum(body)}


# --- reading a saved plan back --------------------------------------------------------------


@dataclass(frozen=True)
class SavedChange:
    change: Change
    # As the file has them: the target values (secret references redacted), the digest of
    # the full target, and the digest of the secret value it sends (absent: not recorded).
    after: Any
    after_digest: str | None
    secret_digest: str | None
    has_secret_digest: bool


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan's document, read as untrusted input and checked for shape only."""

    where: str
    checksum: str
    repository: Any
    schools: frozenset[str] | None
    suppliers: frozenset[str] | None
    secret_salt: str | None
    changes: list[SavedChange]
    # The commit the plan was made at, as the file says (None: outside git, or not said).
    commit: str | None = None


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


def _document(raw: bytes, where: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(
            f"{where}: not a plan file (not UTF-8 text: byte {exc.start + 1} cannot be read)"
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{where}:{exc.lineno}:{exc.colno}: not a plan file (invalid JSON)") from None
    except RecursionError:
        doc = _TOO_DEEP
    if doc is _TOO_DEEP or _too_deep(doc):
        raise PlanFileError(f"{where}: not a plan file (nested more than {MAX_PLAN_DEPTH} levels deep)")
    if not isinstance(doc, dict) or doc.get("format_version") != PLAN_FORMAT_VERSION:
        raise PlanFileError(
            f"{where}: not a plan file of format version {PLAN_FORMAT_VERSION}; "
            "make one with okectl plan --out"
        )
    claimed = doc.pop("checksum", None)
    if claimed != checksum(doc):
        raise PlanFileError(f"{where}: the plan file's checksum does not match its content; re-plan")
    doc["checksum"] = claimed
    return doc


def _names(value: Any, key: str, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlanFileError(f"{where}: not a valid plan file: scope.{key} is not a list of names; re-plan")
    return frozenset(value)


def _change(c: Any, where: str) -> SavedChange:
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
    change = Change(
        address=address,
        action=action,
        before=c.get("before") if isinstance(c.get("before"), dict) else None,
        after=c.get("after") if isinstance(c.get("after"), dict) else None,
        etag=etag if isinstance(etag, str) else None,
        adopt=bool(c.get("adopt")),
    )
    return SavedChange(
        change=change,
        after=c.get("after"),
        after_digest=c.get("after_digest"),
        secret_digest=c.get("secret_digest"),
        has_secret_digest="secret_digest" in c,
    )


def read_plan(raw: bytes, where: str) -> SavedPlan:
    """A saved plan from the bytes of its file (``where`` names it in every message), with
    its format, checksum and the shape of everything apply relies on checked: a plan
    file is input like any other, even with a valid checksum."""
    doc = _document(raw, where)
    changes = doc.get("changes")
    if not isinstance(changes, list):
        raise PlanFileError(f"{where}: not a valid plan file: changes is not a list")
    salt = doc.get("secret_salt")
    if salt is not None and not (isinstance(salt, str) and re.fullmatch(r"(?:[0-9a-f]{2})+", salt)):
        raise PlanFileError(f"{where}: not a valid plan file: secret_salt is not hexadecimal; re-plan")
    scope = doc.get("scope")
    if not isinstance(scope, dict):
        raise PlanFileError(f"{where}: not a valid plan file: scope is not an object; re-plan")
    commit = doc.get("commit")
    if commit is not None and not (
        isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit)
    ):
        raise PlanFileError(f"{where}: not a valid plan file: commit is not a git commit id; re-plan")
    return SavedPlan(
        where=where,
        checksum=str(doc["checksum"]),
        repository=doc.get("repository"),
        schools=_names(scope.get("schools"), "schools", where),
        suppliers=_names(scope.get("suppliers"), "suppliers", where),
        secret_salt=salt,
        changes=[_change(c, f"{where}: change {i + 1}") for i, c in enumerate(changes)],
        commit=commit,
    )
