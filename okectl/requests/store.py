"""Request folders (``requests/<supplier>/<id>/``): reading them as hostile input, and
writing their status.

A request's folder holds ``request.json`` (what was asked), ``request.md`` and
``request.eml`` (the same, for people and for the support desk's mailbox), ``status.yaml``
(where it stands) and ``evidence/`` (what observations found). ``status.yaml`` is written
last when a request is made: a folder without it is a request whose writing was cut off,
and is written again by the next apply.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from okectl.config.record import render_yaml
from okectl.config.request_files import (
    REQUESTS_DIR,
    STATUS_SCHEMA_LINE,
    RequestDocument,
    RequestStatus,
)
from okectl.config.yamlsource import YamlError, load_file, locate
from okectl.errors import OkectlError, Problem, ValidationFailed
from okectl.files import read_regular, replace_file, state_folder

REQUEST_JSON = "request.json"
REQUEST_MD = "request.md"
REQUEST_EML = "request.eml"
STATUS_FILE = "status.yaml"
EVIDENCE_DIR = "evidence"
# A request names a few dozen resources; far more is not one okectl wrote.
MAX_REQUEST_BYTES = 1 << 20


class UnknownRequest(OkectlError):
    """No request has the id a command was given."""


@dataclass(frozen=True)
class StoredRequest:
    root: Path
    document: RequestDocument
    status: RequestStatus

    @property
    def id(self) -> str:
        return self.status.id

    @property
    def rel(self) -> str:
        """The folder, relative to the repository."""
        return f"{REQUESTS_DIR}/{self.status.supplier}/{self.status.id}"

    @property
    def folder(self) -> Path:
        return self.root / self.rel


def _real_folder(path: Path, display: str) -> Problem | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Problem(display, 1, 1, f"cannot read this folder: {exc.strerror}")
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return Problem(display, 1, 1, "is a link or not a folder; okectl keeps requests only in real folders")
    return None


def _subfolders(path: Path, display: str, problems: list[Problem]) -> list[str]:
    problem = _real_folder(path, display)
    if problem is not None:
        problems.append(problem)
        return []
    if not path.exists():
        return []
    names: list[str] = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            problems.append(
                Problem(
                    f"{display}{entry.name}",
                    1,
                    1,
                    "is a link or not a folder; okectl keeps requests only in real folders",
                )
            )
            continue
        names.append(entry.name)
    return names


def list_requests(root: Path, *, supplier: str | None = None) -> tuple[list[StoredRequest], list[Problem]]:
    """Every request (of one supplier, when given), and the problems of the folders that
    are not readable requests."""
    root = root.resolve()
    problems: list[Problem] = []
    out: list[StoredRequest] = []
    base = root / REQUESTS_DIR
    suppliers = [supplier] if supplier is not None else _subfolders(base, f"{REQUESTS_DIR}/", problems)
    if supplier is not None and (problem := _real_folder(base, f"{REQUESTS_DIR}/")) is not None:
        return [], [problem]
    for sid in suppliers:
        display = f"{REQUESTS_DIR}/{sid}/"
        for rid in _subfolders(base / sid, display, problems):
            try:
                found = _read(root, sid, rid)
            except ValidationFailed as exc:
                problems.extend(exc.problems)
                continue
            if found is not None:
                out.append(found)
    return out, problems


def find_request(root: Path, rid: str) -> StoredRequest:
    """The request with this id; UnknownRequest when there is none, ValidationFailed when
    its folder is not a readable request."""
    requests, problems = list_requests(root)
    # A folder of this id that is not a readable request makes the id ambiguous, even
    # beside a readable one (a copy planted under another supplier).
    mine = [p for p in problems if f"/{rid}/" in p.path or p.path.endswith(f"/{rid}")]
    if mine:
        raise ValidationFailed(mine)
    for found in requests:
        if found.id == rid:
            return found
    known = ", ".join(sorted(r.id for r in requests)[:5])
    raise UnknownRequest(
        f"no change request {rid!r}; okectl requests list shows them" + (f" (e.g. {known})" if known else "")
    )


def _read(root: Path, supplier: str, rid: str) -> StoredRequest | None:
    folder = root / REQUESTS_DIR / supplier / rid
    rel = f"{REQUESTS_DIR}/{supplier}/{rid}"
    status_path = folder / STATUS_FILE
    if not os.path.lexists(status_path):
        return None
    status, data = _read_status(status_path, f"{rel}/{STATUS_FILE}")
    document = _read_document(folder / REQUEST_JSON, f"{rel}/{REQUEST_JSON}")
    where = f"{rel}/{STATUS_FILE}"
    if (status.supplier, status.id) != (supplier, rid):
        raise ValidationFailed(
            [Problem(where, 1, 1, f"names request {status.supplier}/{status.id}, but lies in {rel}/")]
        )
    # An id names its supplier and school, so one id is one request across suppliers: a
    # copy planted under another supplier cannot be confirmed in the original's name.
    if not rid.startswith(f"{supplier}-{status.school.lower()}-"):
        raise ValidationFailed(
            [
                Problem(
                    where,
                    *locate(data, ("id",)),
                    f"id {rid} is not a request of {supplier} for {status.school} "
                    f"(okectl names them {supplier}-{status.school.lower()}-…)",
                )
            ]
        )
    if (document.id, document.supplier.id, document.school.code) != (rid, supplier, status.school):
        raise ValidationFailed(
            [Problem(f"{rel}/{REQUEST_JSON}", 1, 1, f"is not the request of {where} (another id or school)")]
        )
    # Confirming writes each change into the record of the request's supplier and school:
    # a change addressed elsewhere would be recorded where it was never asked.
    own = f"{supplier}/{status.school}/"
    for i, change in enumerate(document.changes):
        if not change.address.startswith(own):
            raise ValidationFailed(
                [
                    Problem(
                        f"{rel}/{REQUEST_JSON}",
                        1,
                        1,
                        f"not a change request: changes.{i}: {change.address} is not of {own[:-1]}, "
                        "whose request this is",
                    )
                ]
            )
    exchanged = {c.address for c in document.changes if c.kind == "client" and c.secret}
    for address in status.secrets:
        if address not in exchanged:
            raise ValidationFailed(
                [
                    Problem(
                        where,
                        *locate(data, ("secrets", address)),
                        f"secrets: {address} is not a client whose secret this request exchanges",
                    )
                ]
            )
    return StoredRequest(root, document, status)


def _read_status(path: Path, display: str) -> tuple[RequestStatus, Any]:
    from okectl.config.repository import problems_from_validation

    if os.path.islink(path):
        raise ValidationFailed(
            [Problem(display, 1, 1, "is a link; okectl reads requests only from real files")]
        )
    try:
        data = load_file(path, display)
    except YamlError as exc:
        raise ValidationFailed([exc.problem]) from None
    if not isinstance(data, dict):
        raise ValidationFailed(
            [Problem(display, 1, 1, "expected the status of a change request (a mapping)")]
        )
    try:
        return RequestStatus.model_validate(data), data
    except ValidationError as exc:
        raise ValidationFailed(problems_from_validation(exc, display, data, RequestStatus)) from None


def _read_document(path: Path, display: str) -> RequestDocument:
    if os.path.islink(path):
        raise ValidationFailed(
            [Problem(display, 1, 1, "is a link; okectl reads requests only from real files")]
        )
    try:
        raw = read_regular(path, what="the change request", limit=MAX_REQUEST_BYTES)
    except OkectlError as exc:
        raise ValidationFailed([Problem(display, 1, 1, str(exc).split(": ", 1)[-1])]) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        line, col = (exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else (1, 1)
        raise ValidationFailed(
            [Problem(display, line, col, "not a change request: not valid JSON")]
        ) from None
    try:
        return RequestDocument.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "the document"
        # A check of the model speaks for itself; a pattern is no help to a reader.
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch":
            message = f"{str(err['input'])[:80]!r} is not in the form okectl writes"
        raise ValidationFailed(
            [Problem(display, 1, 1, f"not a change request: {where}: {message}")]
        ) from None


def render_status(status: RequestStatus) -> str:
    doc = status.model_dump(mode="python", exclude_none=True)
    if not doc.get("secrets"):
        doc.pop("secrets", None)
    return render_yaml(doc, STATUS_SCHEMA_LINE)


def request_folder(root: Path, supplier: str, rid: str) -> Path:
    """The request's folder, created when missing; never through a link."""
    return state_folder(root.resolve(), Path(REQUESTS_DIR) / supplier / rid)


def write_status(root: Path, status: RequestStatus) -> None:
    folder = request_folder(root, status.supplier, status.id)
    replace_file(folder / STATUS_FILE, render_status(status), what="the status of a change request")


def write_evidence(root: Path, status: RequestStatus, name: str, evidence: dict[str, Any]) -> str:
    """Keep what an observation found with the request; returns its path in the folder."""
    folder = state_folder(root.resolve(), Path(REQUESTS_DIR) / status.supplier / status.id / EVIDENCE_DIR)
    replace_file(
        folder / name,
        json.dumps(evidence, indent=2, sort_keys=True, default=str) + "\n",
        what="the evidence of a change request",
    )
    return f"{EVIDENCE_DIR}/{name}"
