"""What a change touches: the schools and suppliers a plan since a git ref must cover."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import git

from okectl.config.revision import (
    SETTINGS_FILE,
    YAML_SUFFIXES,
    _is_config_path,
    _under,
    open_repo,
    resolve_ref,
)
from okectl.config.yamlsource import YamlError, load_text
from okectl.model.scope import Scope


@dataclass
class _Usage:
    """Who uses what, read loosely from school files (an old commit need not validate)."""

    suppliers: dict[str, set[str]] = field(default_factory=dict)  # supplier → schools
    profiles: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # profile → (school, supplier)

    def add(self, code: str, data: Any) -> None:
        connections = data.get("connections") if isinstance(data, dict) else None
        if not isinstance(connections, dict):
            return
        for sid, conn in connections.items():
            self.suppliers.setdefault(str(sid), set()).add(code)
            if isinstance(conn, dict) and isinstance(conn.get("profile"), str):
                self.profiles.setdefault(conn["profile"], set()).add((code, str(sid)))


def _school_texts_at(commit: git.Commit, prefix: str) -> Iterator[tuple[str, str]]:
    folder = f"{prefix}/schools" if prefix else "schools"
    try:
        tree = commit.tree / folder
    except KeyError:
        return
    for blob in tree.blobs:
        if blob.name.endswith(YAML_SUFFIXES):
            yield blob.name, blob.data_stream.read().decode("utf-8", errors="replace")


def _school_texts_on_disk(root: Path) -> Iterator[tuple[str, str]]:
    folder = root / "schools"
    if not folder.is_dir():
        return
    for file in sorted(folder.iterdir()):
        if file.name.endswith(YAML_SUFFIXES) and file.is_file():
            yield file.name, file.read_text(encoding="utf-8", errors="replace")


def _usage(texts: Iterable[tuple[str, str]], usage: _Usage) -> None:
    for name, text in texts:
        try:
            data = load_text(text, f"schools/{name}")
        except YamlError:
            continue
        usage.add(name.rsplit(".", 1)[0], data)


def _stem(rel: str) -> str:
    return PurePosixPath(rel).name.rsplit(".", 1)[0]


def _list(names: Iterable[str]) -> str:
    items = sorted(names)
    return ", ".join(items) if items else "none"


def changed_files(root: Path, ref: str) -> tuple[str, list[tuple[str, str]]]:
    """(base commit, [(status, path relative to root)]) for configuration files changed
    since the point where HEAD left ``ref``, including uncommitted and untracked changes.

    The base is the merge base, so on a branch a later commit on ``ref`` itself does not
    count as a change of the branch (what ``git diff REF...`` shows)."""
    repo, prefix = open_repo(root)
    with repo:
        target = resolve_ref(repo, ref)
        try:
            head: git.Commit | None = repo.head.commit
        except ValueError:
            head = None
        base = target
        if head is not None:
            bases = repo.merge_base(target, head)
            if bases and isinstance(bases[0], git.Commit):
                base = bases[0]
        out: dict[str, str] = {}
        # Against the work tree (None): committed and uncommitted changes together.
        for d in base.diff(None):
            if d.change_type == "R":
                pairs = [("deleted", d.a_path), ("added", d.b_path)]
            elif d.change_type == "D":
                pairs = [("deleted", d.a_path)]
            elif d.change_type == "A":
                pairs = [("added", d.b_path)]
            else:
                pairs = [("modified", d.b_path or d.a_path)]
            for status, path in pairs:
                rel = _under(prefix, path) if path else None
                if rel is not None:
                    out[rel] = status
        for path in repo.untracked_files:
            rel = _under(prefix, path)
            # Untracked local state (.okectl/, editor files) is not part of any change.
            if rel is not None and rel not in out and _is_config_path(rel):
                out[rel] = "added"
        return base.hexsha, [(out[rel], rel) for rel in sorted(out)]


def changed_scope(root: Path, ref: str) -> Scope:
    """The schools (and suppliers) a change since ``ref`` touches, and why.

    - a school file (changed, added or deleted) → that school
    - a supplier file → every school connected to it, before or after the change
    - a profile file → every school with a connection using it, before or after
    - a policy file or okectl.yaml → everything
    Files outside the configuration folders do not change the desired state.
    """
    root = root.resolve()
    base_sha, changes = changed_files(root, ref)
    relevant = [(status, rel) for status, rel in changes if _is_config_path(rel)]
    ignored = len(changes) - len(relevant)
    short = base_sha[:7]
    reasons: list[str] = []
    if not relevant:
        reasons.append(f"no configuration file changed since {ref} ({short}); nothing to plan")
        if ignored:
            reasons.append(f"{ignored} other file(s) changed; they do not change the desired state")
        return Scope(schools=set(), suppliers=set(), reasons=tuple(reasons))

    everything = [rel for _, rel in relevant if rel == SETTINGS_FILE or rel.startswith("policies/")]
    if everything:
        reasons.append(f"{_list(everything)} changed since {ref} ({short}): everything is in scope")
        return Scope(schools=None, suppliers=None, reasons=tuple(reasons))

    usage = _Usage()
    repo, prefix = open_repo(root)
    with repo:
        _usage(_school_texts_at(repo.commit(base_sha), prefix), usage)
    _usage(_school_texts_on_disk(root), usage)

    schools: set[str] = set()
    suppliers: set[str] = set()
    all_suppliers = False
    for status, rel in relevant:
        folder, ident = PurePosixPath(rel).parts[0], _stem(rel)
        if folder == "schools":
            schools.add(ident)
            all_suppliers = True
            why = "its resources are planned for deletion" if status == "deleted" else "that school"
            reasons.append(f"{rel} {status}: school {ident} ({why})")
        elif folder == "suppliers":
            users = usage.suppliers.get(ident, set())
            schools |= users
            suppliers.add(ident)
            reasons.append(f"{rel} {status}: schools connected to {ident} ({_list(users)})")
        else:
            pairs = usage.profiles.get(ident, set())
            schools |= {code for code, _ in pairs}
            suppliers |= {sid for _, sid in pairs}
            reasons.append(
                f"{rel} {status}: schools with a connection using profile {ident} "
                f"({_list({code for code, _ in pairs})})"
            )
    if ignored:
        reasons.append(f"{ignored} other file(s) changed; they do not change the desired state")
    # A changed school file may touch any of its connections, so the supplier dimension
    # can only narrow when no school file changed.
    return Scope(schools=schools, suppliers=None if all_suppliers else suppliers, reasons=tuple(reasons))


