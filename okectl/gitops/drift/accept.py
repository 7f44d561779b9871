"""Accepting drift: what the supplier has, written into the YAML.

The edits go through the same machinery as ``okectl import`` and ``okectl bump``:
round-trip YAML (comments, key order and quoting kept), validated in a scratch copy before
a file is touched, every file replaced whole. An acceptance is refused, with its reason,
when it cannot say exactly what the supplier has, and only then is anything else written:

- the edited configuration must validate;
- every accepted place must then plan to a no-op for what drifted there (the supplier's
  values, or the resource gone), and nothing else may move: a value shared with places
  that did not drift (a connection's client scopes in every environment, a school's role
  groups at every supplier, a supplier's role name at every school) is accepted only when
  every place that shares it drifted the same way;
- it may introduce no unwaived policy error (the policy is named); new warnings are shown;
- a protected environment's removal, a secret and values okectl derives (an environment's
  OOAPI version, the school's federation) are never written from a supplier.

Findings are tried all together first, then one by one, so one refusal holds back only
itself.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from okectl.config.resolve import client_id_for
from okectl.config.roundtrip import flow_map, flow_seq, plain_text, roundtrip_yaml
from okectl.engine.validate import edited_copy
from okectl.engine.workspace import Workspace, load_workspace
from okectl.errors import ValidationFailed
from okectl.files import replace_file
from okectl.gitops.bump import unwaived_findings
from okectl.gitops.drift.detect import DriftReport, Finding, Moved, Place
from okectl.gitops.git import Edited, check_new_branch, commit_identity, require_clean, write_edit
from okectl.jsontext import canonical
from okectl.model.resources import Address, Resource, normalise

WHAT = "an accepted file"


@dataclass
class Accepted(Edited):
    """What accepting did: the findings now in the YAML, those refused and why, the files."""

    findings: list[Finding] = field(default_factory=list)
    refused: list[tuple[Finding, list[str]]] = field(default_factory=list)

    @property
    def title(self) -> str:
        places = sum(len(f.places) for f in self.findings)
        findings = len(self.findings)
        return (
            f"Accept drift at the suppliers: {findings} {'finding' if findings == 1 else 'findings'} "
            f"at {places} {'place' if places == 1 else 'places'}"
        )

    def commit_message(self) -> str:
        lines = [self.title, "", "Made with: okectl drift --accept", "", "Accepted (what the supplier has):"]
        for finding in self.findings:
            lines.append(f"- {describe(finding)}, at:")
            lines += [f"  - {place.address}" for place in finding.places]
        lines += ["", "Files:"] + [f"- {path}" for path in sorted(self.files)]
        return "\n".join(lines) + "\n"


def describe(finding: Finding) -> str:
    """A finding's cause on one line, every value as JSON (no control character in it)."""
    if finding.moved:
        moved = ", ".join(f"{m.path} → {canonical(m.actual)}" for m in finding.moved)
        return f"{finding.supplier}: {finding.kind} {moved} ({finding.what})"
    return f"{finding.supplier}: {finding.kind} {finding.name} {finding.what}"


def check_can_accept(ws: Workspace, *, branch: str | None, author: str | None) -> None:
    """What accepting onto ``branch`` needs, checked before anything is read or written:
    a clean tree, and someone to commit as."""
    require_clean(ws.root, "accept drift", branch=branch)
    if branch is not None:
        commit_identity(ws.root, author)
        check_new_branch(ws.root, branch)


def accept_drift(
    ws: Workspace,
    report: DriftReport,
    *,
    branch: str | None = None,
    author: str | None = None,
    write: Callable[[Path, dict[str, tuple[str, str]]], None] | None = None,
) -> Accepted:
    """Write what the supplier has into the YAML for the accept-mode findings of
    ``report``; with ``branch``, commit it on that new branch (left checked out)."""
    result = Accepted()
    if not report.in_mode("accept"):
        return result
    check_can_accept(ws, branch=branch, author=author)
    identity = commit_identity(ws.root, author) if branch is not None else None
    candidates: list[Finding] = []
    for finding in report.in_mode("accept"):
        reasons = _Edit(ws).apply(finding)
        if reasons:
            result.refused.append((finding, reasons))
        else:
            candidates.append(finding)
    if not candidates:
        return result
    before = unwaived_findings(ws.state)
    tried = _try(ws, candidates, before)
    if tried.problems:
        # Each on its own, keeping what works together: one refusal holds back only itself.
        kept: list[Finding] = []
        for finding in candidates:
            alone = _try(ws, [*kept, finding], before)
            if alone.problems:
                result.refused.append((finding, alone.problems))
            else:
                kept.append(finding)
        tried = _try(ws, kept, before) if kept else _Tried({}, [], [])
        candidates = kept
    result.findings = candidates
    result.files = tried.files
    result.warnings = tried.warnings
    if not result.files:
        return result
    write_edit(
        ws.root, result, result.commit_message, branch=branch, identity=identity, write=write or write_files
    )
    return result


def write_files(root: Path, files: dict[str, tuple[str, str]]) -> None:
    for rel, (_, new) in files.items():
        replace_file(root / rel, new, what=WHAT)


@dataclass
class _Tried:
    files: dict[str, tuple[str, str]]
    problems: list[str]
    warnings: list[str]


def _try(ws: Workspace, findings: list[Finding], before: tuple[set[str], set[str]]) -> _Tried:
    """The files with ``findings`` accepted, and what is wrong with the result."""
    edit = _Edit(ws)
    for finding in findings:
        edit.apply(finding)
    files = edit.files()
    with edited_copy(ws.root, files, what=WHAT) as scratch:
        try:
            after = load_workspace(scratch)
        except ValidationFailed as exc:
            return _Tried(
                files, [f"the accepted configuration does not validate: {line}" for line in exc.lines()], []
            )
        errors, others = unwaived_findings(after.state)
    problems = _moved_elsewhere(ws.desired, after.desired, findings)
    problems += [f"it would introduce a policy error: {line}" for line in sorted(errors - before[0])]
    return _Tried(files, problems, sorted(others - before[1]))


def _expected(desired: Mapping[Address, Resource], findings: list[Finding]) -> dict[Address, Any]:
    """What the configuration asks after accepting ``findings``: the supplier's values
    where they drifted, nothing where the supplier removed a resource, the rest as now."""
    out: dict[Address, Any] = {addr: normalise(res.spec) for addr, res in desired.items()}
    for finding in findings:
        for place in finding.places:
            if finding.action == "create":
                for change in place.changes:
                    out.pop(change.address, None)
                continue
            spec = copy.deepcopy(out[place.address])
            for moved in finding.moved:
                _set_at(spec, moved.path, moved.actual)
            out[place.address] = normalise(spec)
    return out


def _set_at(spec: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        spec = spec.setdefault(part, {})
    spec[leaf] = value


def _moved_elsewhere(
    before: Mapping[Address, Resource], after: Mapping[Address, Resource], findings: list[Finding]
) -> list[str]:
    expected = _expected(before, findings)
    accepted = {p.address for f in findings for p in f.places}
    problems: list[str] = []
    for addr in sorted(set(expected) | set(after)):
        want = expected.get(addr)
        got = normalise(after[addr].spec) if addr in after else None
        if want == got:
            continue
        if addr in accepted:
            problems.append(f"{addr}: the accepted configuration would still not match the supplier")
        elif got is None or want is None:
            problems.append(f"it would also {'remove' if got is None else 'add'} {addr}, which did not drift")
        else:
            fields = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            problems.append(
                f"it would also change {addr} ({', '.join(fields)}), which did not drift: the value is "
                "shared with places the supplier did not change"
            )
    return problems


class _Edit:
    """Round-trip documents of the files an acceptance edits, each loaded once."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.yaml = roundtrip_yaml()
        self.docs: dict[str, tuple[str, Any]] = {}

    def _doc(self, kind: str, ident: str) -> tuple[str, Any]:
        source = self.ws.state.source(kind, ident)
        assert source is not None, (kind, ident)
        rel = source.path
        if rel not in self.docs:
            old = (self.ws.root / rel).read_text(encoding="utf-8")
            self.docs[rel] = (old, self.yaml.load(old))
        return rel, self.docs[rel][1]

    def files(self) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for rel, (old, doc) in self.docs.items():
            buf = io.StringIO()
            self.yaml.dump(doc, buf)
            if buf.getvalue() != old:
                out[rel] = (old, buf.getvalue())
        return out

    def apply(self, finding: Finding) -> list[str]:
        """Edit the documents for every place of ``finding``; why it cannot be, if not."""
        reasons: list[str] = []
        for place in finding.places:
            reasons += self._place(finding, place)
        return reasons

    def _place(self, finding: Finding, place: Place) -> list[str]:
        addr = place.address
        if finding.action == "delete":
            return [
                f"{addr} appeared at the supplier labelled as this repository's; okectl does not add it to "
                f"the configuration from drift: okectl import --supplier {addr.supplier} adopts what "
                "exists there"
            ]
        if finding.action == "create":
            return self._removed(addr)
        reasons = []
        for moved in finding.moved:
            why = self._moved(addr, moved)
            if why is not None:
                reasons.append(f"{addr}: {moved.path}: {why}")
        return reasons

    def _connection(self, addr: Address) -> tuple[str, CommentedMap]:
        rel, doc = self._doc("school", addr.school)
        conn: CommentedMap = doc["connections"][addr.supplier]
        return rel, conn

    def _removed(self, addr: Address) -> list[str]:
        rel, conn = self._connection(addr)
        if addr.kind == "environment":
            res = self.ws.desired[addr]
            if res.protected:
                return [
                    f"{addr} is protected; okectl never accepts the removal of a protected environment "
                    "(heal it, or set protect: false yourself in a reviewed change)"
                ]
            _override(conn, addr.environment)["absent"] = True
            return []
        if addr.kind == "client":
            clients = conn.get("clients")
            if isinstance(clients, CommentedMap) and addr.name in clients:
                del clients[addr.name]
                if not clients:
                    del conn["clients"]
                return []
            return [f"{addr}: its client is not written in {rel}; remove it where it is declared"]
        return [
            f"{addr}: a role binding follows from the school's roles and the supplier's role_names, "
            "shared with other places; remove the role by hand if that is meant"
        ]

    def _moved(self, addr: Address, moved: Moved) -> str | None:
        if moved.sensitive:
            return (
                "a secret is never written into the configuration (heal it, or change the value "
                "behind its reference)"
            )
        if _unprintable(moved.actual):
            # A reviewer could not see it in the pull request: hostile until shown otherwise.
            return "the supplier's value holds control or invisible characters; okectl does not write it"
        if addr.kind == "role":
            return self._role(addr, moved)
        rel, conn = self._connection(addr)
        value = moved.actual
        if addr.kind == "client":
            clients = conn.get("clients")
            client = clients.get(addr.name) if isinstance(clients, CommentedMap) else None
            if not isinstance(client, CommentedMap):
                return f"the client is not written in {rel}"
            if moved.path == "scopes" and isinstance(value, list):
                client["scopes"] = flow_seq(sorted(value))
            elif moved.path == "client_id" and isinstance(value, str):
                school = self.ws.state.schools[addr.school]
                if value == client_id_for(school, addr.name):
                    client.pop("client_id", None)
                else:
                    client["client_id"] = value
            else:
                return "okectl does not write this field into the configuration"
            return None
        return _environment(conn, addr.environment, moved.path, value)

    def _role(self, addr: Address, moved: Moved) -> str | None:
        if moved.path == "name" and isinstance(moved.actual, str):
            _, doc = self._doc("supplier", addr.supplier)
            doc["role_names"][addr.name] = moved.actual
            return None
        if moved.path == "groups" and isinstance(moved.actual, list):
            _, doc = self._doc("school", addr.school)
            doc["roles"][addr.name] = flow_seq(sorted(moved.actual))
            return None
        return "okectl does not write this field into the configuration"


def _unprintable(value: Any) -> bool:
    """Text with a control, format (bidirectional, zero-width) or other invisible character."""
    if isinstance(value, str):
        return not value.isprintable()
    if isinstance(value, list | dict):
        return any(_unprintable(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


# An environment's fields a school file sets for it, and how.
_DERIVED = {
    "ooapi_version": "it follows from the OKE version (policies/versions.yaml), never set per environment",
    "sso.federation": "it is the school's federation, the same at every supplier",
    "sso.schac_home": "it is the school's schac_home, the same at every supplier",
}


# Fields an environment's entry in the school file sets for it alone: field path → key.
_OWN = {"sso.mode": "sso", "status": "status", "type": "type"}


def _environment(conn: CommentedMap, name: str, path: str, value: Any) -> str | None:
    if path in _DERIVED:
        return _DERIVED[path]
    if path == "function" and isinstance(value, str):
        conn["function"] = value
        return None
    if path == "oke_version" and isinstance(value, str):
        _set_or_inherit(
            conn, name, "oke_version", DoubleQuotedScalarString(value), str(conn.get("oke_version"))
        )
        return None
    if path == "flows" and isinstance(value, list):
        inherited = sorted(set(conn.get("flows") or []))
        _set_or_inherit(conn, name, "flows", flow_seq(sorted(value)), inherited)
        return None
    if path in _OWN and isinstance(value, str):
        _override(conn, name)[_OWN[path]] = plain_text(value)
        return None
    return "okectl does not write this value into the configuration"


def _set_or_inherit(conn: CommentedMap, name: str, key: str, value: Any, inherited: Any) -> None:
    """Write an environment's own ``key``, or drop it where the connection's value is it."""
    if normalise(value) == normalise(inherited):
        envs = conn.get("environments")
        entry = envs.get(name) if isinstance(envs, CommentedMap) else None
        if isinstance(entry, CommentedMap):
            entry.pop(key, None)
            if not entry:
                del envs[name]
                if not envs:
                    del conn["environments"]
        return
    _override(conn, name)[key] = value


def _override(conn: CommentedMap, name: str) -> CommentedMap:
    envs = conn.get("environments")
    if not isinstance(envs, CommentedMap):
        envs = conn["environments"] = CommentedMap()
    entry = envs.get(name)
    if not isinstance(entry, CommentedMap):
        entry = envs[name] = flow_map({})
    return entry
