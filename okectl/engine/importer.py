"""`okectl import`: adopt what already exists at a supplier into the YAML.

Edits go through ruamel.yaml's round-trip mode, so a school file keeps its comments,
key order and quoting; only the imported parts are added. The result is validated
before anything is written (and for the preview too): a school whose import would not
validate is reported and left alone, the others are written. Files are replaced whole,
never half-written.
"""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from okectl.config.models import VERIFIED_ONLY
from okectl.config.references import connection_function
from okectl.config.resolve import client_id_for, desired_resources
from okectl.config.roundtrip import flow_map, flow_seq, plain_text, roundtrip_yaml
from okectl.engine.refresh import refresh
from okectl.engine.validate import edited_copy
from okectl.engine.workspace import Workspace, load_workspace
from okectl.errors import OkectlError, ValidationFailed
from okectl.files import replace_file, write_atomic
from okectl.model.resources import ActualResource
from okectl.plans.outcomes import ReadProgress


@dataclass
class ImportResult:
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path → (old, new)
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    written: bool = False
    # Files whose import would not validate, with the problems: left as they are.
    blocked: dict[str, tuple[tuple[str, str], list[str]]] = field(default_factory=dict)
    # What each file's import brings in, so what is left out is not counted.
    imported_by_file: dict[str, list[str]] = field(default_factory=dict)


def import_supplier(
    ws: Workspace,
    supplier_id: str,
    *,
    schools: set[str] | None = None,
    write: bool = False,
    progress: ReadProgress | None = None,
) -> ImportResult:
    root = ws.root
    state = ws.state
    supplier = state.suppliers.get(supplier_id)
    if supplier is None:
        raise OkectlError(f"unknown supplier {supplier_id!r}; known: {', '.join(sorted(state.suppliers))}")
    if not supplier.managed:
        raise OkectlError(f"supplier {supplier_id} {VERIFIED_ONLY}")
    refreshed = asyncio.run(
        refresh(
            state,
            root,
            suppliers={supplier_id},
            schools=schools,
            progress=progress,
            settings=ws.settings,
        )
    )
    desired = {r.address for r in desired_resources(state, suppliers={supplier_id})}
    by_school: dict[str, list[ActualResource]] = {}
    for act in refreshed.resources:
        if act.address not in desired:
            by_school.setdefault(act.address.school, []).append(act)

    result = ImportResult()
    yaml = roundtrip_yaml()
    for code, found in sorted(by_school.items()):
        school = state.schools.get(code)
        rel = f"schools/{code}.yaml"
        path = root / rel
        if school is None:
            result.skipped.append(
                f"{supplier_id}/{code}: no {rel}; add the school first (code, name, federation, "
                "schac_home), then import again"
            )
            continue
        old = path.read_text(encoding="utf-8")
        doc = yaml.load(old)
        connections = doc.setdefault("connections", CommentedMap())
        envs = [a for a in found if a.address.kind == "environment"]
        children = [a for a in found if a.address.kind != "environment"]
        conn = connections.get(supplier_id)
        if conn is None:
            conn = _new_connection(supplier_id, envs, state.suppliers[supplier_id].roles)
            connections[supplier_id] = conn
        conn_model = school.connections.get(supplier_id)
        conn_envs = conn.setdefault("environments", CommentedMap()) if envs else conn.get("environments")
        default_oke = str(conn.get("oke_version", ""))
        imported: list[str] = []
        for env in envs:
            name = env.address.environment
            entry = CommentedMap()
            entry["type"] = env.spec.get("type")
            if env.spec.get("oke_version") and env.spec.get("oke_version") != default_oke:
                entry["oke_version"] = DoubleQuotedScalarString(env.spec["oke_version"])
            sso = (env.spec.get("sso") or {}).get("mode")
            if sso and sso != "required":
                entry["sso"] = plain_text(sso)
            assert conn_envs is not None
            existing = conn_envs.get(name)
            if existing is None:
                conn_envs[name] = flow_map(dict(entry))
            imported.append(str(env.address))
        clients = conn.setdefault("clients", CommentedMap())
        for child in children:
            addr = child.address
            if addr.kind == "client" and addr.name not in clients:
                body = CommentedMap()
                body["scopes"] = flow_seq(sorted(child.spec.get("scopes") or []))
                cid = child.spec.get("client_id")
                if cid and cid != client_id_for(school, addr.name):
                    body["client_id"] = cid
                clients[addr.name] = body
                imported.append(str(addr))
            elif addr.kind == "role":
                # Role bindings follow from the school's roles and the supplier's role_names,
                # shared by every supplier: importing one would change the others.
                result.skipped.append(
                    f"{addr}: role bindings are not imported; add the role to roles: in {rel} "
                    f"and its name to role_names in suppliers/{supplier_id}.yaml"
                )
        if not clients:
            del conn["clients"]
        if conn_model is not None and connection_function(state, supplier_id, conn_model) is None:
            result.skipped.append(f"{supplier_id}/{code}: say which function the connection is for")
        buf = io.StringIO()
        yaml.dump(doc, buf)
        new = buf.getvalue()
        if new != old:
            result.files[rel] = (old, new)
            result.imported_by_file[rel] = imported

    # The preview runs the same checks as --write, so it shows what would be blocked.
    _hold_back_what_does_not_validate(root, result)
    if write and result.files:
        _write(root, result)
    return result


def _new_connection(supplier_id: str, envs: list[ActualResource], roles: Sequence[str]) -> CommentedMap:
    versions = Counter(str(e.spec.get("oke_version")) for e in envs if e.spec.get("oke_version"))
    prod = [e for e in envs if e.spec.get("type") == "production"]
    oke = (
        str(prod[0].spec["oke_version"])
        if prod and prod[0].spec.get("oke_version")
        else (versions.most_common(1)[0][0] if versions else "1.0")
    )
    flows = sorted({int(f) for e in envs for f in (e.spec.get("flows") or [])})
    conn = CommentedMap()
    functions = {e.spec.get("function") for e in envs if e.spec.get("function")}
    if len(roles) > 1 and len(functions) == 1:
        conn["function"] = functions.pop()
    conn["oke_version"] = DoubleQuotedScalarString(oke)
    conn["flows"] = flow_seq(flows or [0])
    return conn


def _hold_back_what_does_not_validate(root: Path, result: ImportResult) -> None:
    """Validate the repository with the edits in a scratch copy; move the files whose edit
    does not validate to ``result.blocked``, so one school's problem does not hold back
    the others'. Problems are reported in the file that has them, and a school's import
    edits only its own file, so a problem names the edit that caused it."""
    if not result.files:
        return
    with edited_copy(root, result.files, what="an imported file") as scratch:
        while result.files:
            try:
                load_workspace(scratch)
            except ValidationFailed as exc:
                by_file: dict[str, list[str]] = {}
                for problem in exc.problems:
                    by_file.setdefault(problem.path, []).append(str(problem))
                culprits = [rel for rel in result.files if rel in by_file]
                # A problem elsewhere cannot be pinned on one edit: hold every edit back.
                if set(by_file) - set(result.files):
                    culprits = list(result.files)
                for rel in culprits:
                    old, new = result.files.pop(rel)
                    result.blocked[rel] = ((old, new), by_file.get(rel) or exc.lines())
                    result.imported_by_file.pop(rel, None)
                    write_atomic(scratch / rel, old, what="an imported file", durable=False)
                continue
            break
    result.imported = [addr for rel in sorted(result.files) for addr in result.imported_by_file[rel]]


def _write(root: Path, result: ImportResult) -> None:
    """Replace each file whole: a file is never half-written."""
    for rel, (_, new) in result.files.items():
        replace_file(root / rel, new, what="an imported file")
    result.written = True
