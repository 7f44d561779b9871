"""`okectl bump`: move a supplier's connections to another OKE version, as a reviewable change.

Edits go through ruamel.yaml's round-trip mode, so everything but the changed values
stays byte for byte: comments, key order, quoting, flow or block style. The edited
repository is validated and policy-checked in a scratch copy before a single file is
written; with a branch name the files are committed on a new branch, ready for a pull
request.

Without an environment type the connection's ``oke_version`` moves, and per-environment
overrides are tidied so the bump means "at least this version everywhere":
an override pinning the new version or an older one is dropped (it would be redundant or
would hold the environment back); an override pinning a newer version is kept (a pilot
running ahead, e.g. a concept version in acceptance). With an environment type, only the
environments of that type get an override; an override equal to the connection's own
version is removed instead of written.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

from okectl.config.repository import DesiredState
from okectl.config.roundtrip import flow_map, roundtrip_yaml
from okectl.engine.validate import edited_copy
from okectl.engine.workspace import Workspace, load_workspace
from okectl.errors import EXIT_POLICY, OkectlError, ValidationFailed
from okectl.files import replace_file
from okectl.gitops.git import Edited, commit_identity, require_clean, write_edit
from okectl.model.resources import Address
from okectl.model.versions import version_key


class BumpRefused(OkectlError):
    def __init__(self, message: str, details: list[str], *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.details = details
        self.exit_code = exit_code

    def lines(self) -> list[str]:
        return [*self.details, str(self)]


@dataclass
class BumpResult(Edited):
    supplier: str
    oke_version: str
    environment: str | None
    # (address, old version, new version) for every environment whose version moves.
    changes: list[tuple[Address, str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        where = f" {self.environment} environments" if self.environment else ""
        return f"Bump {self.supplier}{where} to OKE {self.oke_version}"

    def commit_message(self) -> str:
        command = f"okectl bump --supplier {self.supplier} --oke-version {self.oke_version}"
        if self.environment:
            command += f" --environment {self.environment}"
        lines = [self.title, "", f"Made with: {command}", "", "Changes:"]
        lines += [f"- {address}: OKE {old} → {new}" for address, old, new in self.changes]
        lines += ["", "Files:"]
        lines += [f"- {path}" for path in sorted(self.files)]
        return "\n".join(lines) + "\n"


def _same_style(old: Any, new: str) -> ScalarString:
    # Keep the quote style the file already uses; versions must stay quoted strings.
    if isinstance(old, ScalarString) and type(old) is not ScalarString:
        value: ScalarString = type(old)(new)
        return value
    quoted: ScalarString = DoubleQuotedScalarString(new)
    return quoted


def _env_types(state: DesiredState, code: str, supplier: str) -> dict[str, str]:
    """Environment name → type for one connection, as profile resolution sees it."""
    conn = state.schools[code].connections[supplier]
    types: dict[str, str] = {}
    profile = state.profiles.get(conn.profile) if conn.profile else None
    if profile is not None:
        types = {name: env.type for name, env in profile.environments.items()}
    for name, override in conn.environments.items():
        types[name] = override.type or types.get(name, "test")
    return types


def _last_holder(mapping: CommentedMap, key: Any) -> tuple[CommentedMap, Any]:
    """The mapping and key whose comment slot holds what follows ``mapping[key]``.

    ruamel.yaml attaches the comment lines and blank lines after a block to its deepest
    last key, so that is where the text before the next entry lives."""
    value = mapping[key]
    while isinstance(value, CommentedMap) and len(value) and not value.fa.flow_style():
        mapping, key = value, list(value)[-1]
        value = mapping[key]
    return mapping, key


def _drop_comment_above(mapping: CommentedMap, key: Any) -> None:
    """Remove the comment lines written directly above ``mapping[key]`` (no blank line in
    between): they describe that entry and would otherwise end up above the next one.
    ruamel.yaml keeps them at the end of the comment slot of the entry before."""
    keys = list(mapping)
    i = keys.index(key)
    if i == 0:
        # Comments under the parent key may head the whole block; they stay.
        return
    holder, hkey = _last_holder(mapping, keys[i - 1])
    slot = holder.ca.items.get(hkey)
    token = slot[2] if slot and len(slot) > 2 else None
    if token is None or "\n" not in token.value:
        return
    end_of_line, *lines = token.value.split("\n")
    trailing = lines.pop() if lines and lines[-1] == "" else None
    while lines and lines[-1].lstrip().startswith("#"):
        lines.pop()
    if trailing is not None:
        lines.append(trailing)
    token.value = "\n".join([end_of_line, *lines])


def _drop(mapping: CommentedMap, key: Any) -> None:
    """Delete ``mapping[key]`` with the comment written directly above it, but keep the
    blank lines and comments that follow it (they belong to the next entry), re-attached
    to the entry now before them."""
    _drop_comment_above(mapping, key)
    keys = list(mapping)
    i = keys.index(key)
    holder, hkey = _last_holder(mapping, key)
    slot = holder.ca.items.get(hkey)
    token = slot[2] if slot and len(slot) > 2 else None
    rest = token.value.split("\n", 1)[1] if token is not None and "\n" in token.value else ""
    del mapping[key]
    if not rest or not mapping:
        return
    if i == 0:
        # Nothing before it any more: the text goes above the new first entry.
        indent = len(rest) - len(rest.lstrip(" "))
        start = CommentToken(rest.lstrip(" "), CommentMark(indent), None)
        if mapping.ca.comment is None:
            mapping.ca.comment = [None, [start]]
        elif mapping.ca.comment[1] is None:
            mapping.ca.comment[1] = [start]
        else:
            mapping.ca.comment[1].append(start)
        return
    holder, hkey = _last_holder(mapping, keys[i - 1])
    slot = holder.ca.items.setdefault(hkey, [None, None, None, None])
    if slot[2] is None:
        slot[2] = CommentToken("\n" + rest, CommentMark(0), None)
    else:
        slot[2].value += rest


def _edit_connection(
    conn: CommentedMap, types: dict[str, str], version: str, environment: str | None
) -> bool:
    """Apply the bump to one connection mapping in place; True when it changed."""
    before = repr(conn)
    envs = conn.get("environments")
    if environment is None:
        conn["oke_version"] = _same_style(conn.get("oke_version"), version)
        if isinstance(envs, CommentedMap):
            emptied = []
            for name in list(envs):
                override = envs[name]
                pinned = override.get("oke_version") if isinstance(override, dict) else None
                if pinned is not None and version_key(str(pinned)) <= version_key(version):
                    del override["oke_version"]
                    if not override:
                        emptied.append(name)
            # Drop the whole block at once when nothing is left, so the comments after it
            # move up to the entry before it in one step.
            if len(emptied) == len(envs):
                _drop(conn, "environments")
            else:
                for name in emptied:
                    _drop(envs, name)
        return repr(conn) != before
    base = str(conn.get("oke_version"))
    for name, etype in types.items():
        if etype != environment:
            continue
        override = envs.get(name) if isinstance(envs, CommentedMap) else None
        if version == base:
            if isinstance(override, dict) and "oke_version" in override:
                del override["oke_version"]
                if not override:
                    if len(envs) == 1:
                        _drop(conn, "environments")
                        envs = None
                    else:
                        _drop(envs, name)
        elif override is None:
            if not isinstance(envs, CommentedMap):
                envs = CommentedMap()
                conn["environments"] = envs
            envs[name] = flow_map({"oke_version": DoubleQuotedScalarString(version)})
        else:
            override["oke_version"] = _same_style(override.get("oke_version"), version)
    return repr(conn) != before


def _runs_everywhere(conn: CommentedMap, types: dict[str, str], version: str) -> bool:
    """Whether every environment of the connection (but absent ones) runs ``version``."""
    envs = conn.get("environments")
    for name in types:
        override = envs.get(name) if isinstance(envs, CommentedMap) else None
        if isinstance(override, dict) and override.get("absent") is True:
            continue
        pinned = override.get("oke_version") if isinstance(override, dict) else None
        if str(pinned if pinned is not None else conn.get("oke_version")) != version:
            return False
    return True


def check_inputs(
    state: DesiredState, supplier: str, version: str, environment: str | None, schools: list[str]
) -> list[str]:
    sup = state.suppliers.get(supplier)
    if sup is None:
        raise OkectlError(f"unknown supplier {supplier!r}; known: {', '.join(sorted(state.suppliers))}")
    catalogue = state.versions.oke_versions if state.versions else {}
    if version not in catalogue:
        raise OkectlError(
            f"unknown OKE version {version!r}; policies/versions.yaml lists: {', '.join(catalogue) or 'none'}"
        )
    if sup.oke_versions and version not in sup.oke_versions:
        raise OkectlError(
            f"{supplier} does not support OKE {version} (suppliers/{supplier}.yaml oke_versions: "
            f"{', '.join(sup.oke_versions)}); add it there when the supplier does"
        )
    connected = sorted(code for code, s in state.schools.items() if supplier in s.connections)
    for code in schools:
        if code not in state.schools:
            raise OkectlError(f"unknown school {code!r}; there is no schools/{code}.yaml")
        if code not in connected:
            raise OkectlError(f"school {code} has no connection to {supplier}")
    if not connected:
        raise OkectlError(f"no school is connected to {supplier}; nothing to bump")
    if environment is not None:
        pool = schools or connected
        if not any(environment in _env_types(state, c, supplier).values() for c in pool):
            raise OkectlError(
                f"no {environment} environment in any {supplier} connection of the selected schools"
            )
    return schools or connected


def unwaived_findings(state: DesiredState) -> tuple[set[str], set[str]]:
    """Unwaived policy (errors, other findings), as comparable lines: what an edit of the
    configuration introduces is what the edited state has and this state had not."""
    from okectl.policy.engine import evaluate

    report = evaluate(state)
    # Without line numbers: an edit moves lines, and a moved finding is not a new one.
    errors: set[str] = set()
    others: set[str] = set()
    for f in report.findings:
        if f.waived_by is None:
            (errors if f.severity == "error" else others).add(f"[{f.policy}] {f.address}: {f.message}")
    return errors, others


def plan_bump(
    ws: Workspace,
    *,
    supplier: str,
    oke_version: str,
    environment: str | None = None,
    schools: list[str] | None = None,
    tidy: bool = False,
) -> BumpResult:
    """Compute the edited files and check the result; writes nothing.

    With ``tidy``, a connection whose every environment runs the version after an
    environment-type bump moves as a whole instead: its own version changes and the
    overrides go (what the last stage of a promotion leaves)."""
    root = ws.root
    validated = ws.validated
    state = validated.state
    targets = check_inputs(state, supplier, oke_version, environment, schools or [])
    result = BumpResult(supplier=supplier, oke_version=oke_version, environment=environment)
    yaml = roundtrip_yaml()
    for code in targets:
        source = state.source("school", code)
        assert source is not None
        rel = source.path
        types = _env_types(state, code, supplier)
        if environment is not None and environment not in types.values():
            result.skipped.append(f"{code}: its {supplier} connection has no {environment} environment")
            continue
        old = (root / rel).read_text(encoding="utf-8")
        doc = yaml.load(old)
        conn = doc["connections"][supplier]
        if not _edit_connection(conn, types, oke_version, environment):
            continue
        if tidy and environment is not None and _runs_everywhere(conn, types, oke_version):
            _edit_connection(conn, types, oke_version, None)
        buf = io.StringIO()
        yaml.dump(doc, buf)
        if buf.getvalue() != old:
            result.files[rel] = (old, buf.getvalue())
    if not result.files:
        return result
    before_versions = {
        r.address: str(r.spec.get("oke_version"))
        for r in validated.resources
        if r.address.kind == "environment"
    }
    before_policy, before_other = unwaived_findings(state)
    with edited_copy(root, result.files, what="a bumped file") as scratch:
        try:
            after_validated = load_workspace(scratch).validated
        except ValidationFailed as exc:
            raise BumpRefused(
                "the bumped configuration does not validate; nothing was written", exc.lines()
            ) from None
        after_policy, after_other = unwaived_findings(after_validated.state)
    after_versions = {
        r.address: str(r.spec.get("oke_version"))
        for r in after_validated.resources
        if r.address.kind == "environment"
    }
    for address in sorted(after_versions):
        old_v, new_v = before_versions.get(address), after_versions[address]
        if old_v is not None and old_v != new_v:
            result.changes.append((address, old_v, new_v))
    if not result.changes:
        # Only tidying, no environment moves: not worth a change of its own.
        result.files.clear()
        return result
    result.warnings.extend(sorted(after_other - before_other))
    introduced = sorted(after_policy - before_policy)
    if introduced:
        raise BumpRefused(
            f"the bump would introduce {len(introduced)} policy error(s); nothing was written",
            introduced,
            exit_code=EXIT_POLICY,
        )
    return result


def write_files(root: Path, files: dict[str, tuple[str, str]]) -> None:
    """Replace each file whole, never half-written (see okectl.files.write_atomic)."""
    for rel, (_, new) in files.items():
        replace_file(root / rel, new, what="a bumped file")


def bump(
    ws: Workspace,
    *,
    supplier: str,
    oke_version: str,
    environment: str | None = None,
    schools: list[str] | None = None,
    branch: str | None = None,
    author: str | None = None,
    write: Callable[[Path, dict[str, tuple[str, str]]], None] = write_files,
    tidy: bool = False,
    describe: Callable[[BumpResult], str] | None = None,
) -> BumpResult:
    """Bump, write the files and, with ``branch``, commit them on a new branch left checked out
    (as ``author``, "Name <email>", or git's own identity), with the message ``describe``
    gives (by default the bump's own: what moves, and the files)."""
    root = ws.root
    if author is not None and branch is None:
        raise OkectlError("--author names who commits: it goes with --branch")
    require_clean(root, "bump", branch=branch)
    # Before the work, not after it: a commit that cannot be made must not leave a branch behind.
    identity = commit_identity(root, author) if branch is not None else None
    result = plan_bump(
        ws, supplier=supplier, oke_version=oke_version, environment=environment, schools=schools, tidy=tidy
    )
    if not result.files:
        return result
    message = describe or BumpResult.commit_message
    write_edit(root, result, lambda: message(result), branch=branch, identity=identity, write=write)
    return result
