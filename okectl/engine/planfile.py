"""The saved plan: writing it, reading it back as untrusted input, and staleness."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from okectl.engine.plan import PLAN_FORMAT_VERSION, Change, PlanRun, checksum
from okectl.errors import OkectlError
from okectl.files import read_regular, write_atomic
from okectl.model.resources import (
    Address,
    Resource,
)


class PlanFileError(OkectlError):
    pass


# Far above the plan of a whole fleet; a bound, so /dev/zero or a huge file is refused.
MAX_PLAN_BYTES = 512 * 1024 * 1024


def save_plan(run: PlanRun, path: Path) -> str:
    doc = run.document(with_secrets=True)
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", what="the plan file")
    return str(doc["checksum"])


def load_plan(path: Path) -> dict[str, Any]:
    try:
        text = read_regular(path, what="the plan file", limit=MAX_PLAN_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{path}: not a plan file (not UTF-8 text at byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}:{exc.lineno}:{exc.colno}: not a plan file (invalid JSON)") from None
    except RecursionError:
        raise PlanFileError(f"{path}: not a plan file (nested too deeply)") from None
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


def stale_changes(
    changes: list[Change],
    desired: dict[Address, Resource],
    planned_digests: dict[Address, str | None],
    *,
    planned_secrets: dict[Address, str | None] | None = None,
    secret_salt: str | None = None,
    resolve_secret: Any = None,
) -> dict[Address, str]:
    """Changes whose desired state moved on since the plan was saved, the values behind
    secret references included (when the plan recorded their digests)."""
    out: dict[Address, str] = {}
    for ch in changes:
        res = desired.get(ch.address)
        now = checksum(res.spec) if res is not None else None
        if now != planned_digests.get(ch.address):
            out[ch.address] = "the desired state changed since the plan was made; run okectl plan again"
    if planned_secrets is None or secret_salt is None or resolve_secret is None:
        return out
    from okectl.engine.plan import secret_digests, written_secrets

    written = written_secrets(changes, desired, resolve_secret)
    current = secret_digests(
        {a: v for a, v in written.items() if a in planned_secrets and a not in out}, secret_salt
    )
    for addr, digest in current.items():
        if digest != planned_secrets[addr]:
            out[addr] = (
                "the value behind its secret reference changed since the plan was made; run okectl plan again"
            )
    return out
