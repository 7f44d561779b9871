"""Git awareness: which commit a run used, what a change touches, the desired state at a ref.

The configuration repository may be a folder inside a larger git repository, so every
path here is taken relative to the configuration root, not to the top of the work tree.
Reading a ref never checks anything out: files come straight from git's object store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import git

from okectl.config.validate import Validated, validate_repository
from okectl.config.yamlsource import YamlError, load_text
from okectl.engine.plan import SENSITIVE_CHANGE, FieldChange, field_changes
from okectl.errors import OkectlError, ValidationFailed
from okectl.model.resources import SENSITIVE, Address, Resource

CONFIG_FOLDERS = ("schools", "suppliers", "environments", "policies")
SETTINGS_FILE = "okectl.yaml"
YAML_SUFFIXES = (".yaml", ".yml")


class GitError(OkectlError):
    """The repository or a ref cannot be used for a git-aware command."""


@dataclass(frozen=True)
class Scope:
    """What a change touches. None means "everything" for that dimension."""

    schools: set[str] | None
    suppliers: set[str] | None
    reasons: list[str] = field(default_factory=list)


# --- opening the repository ----------------------------------------------------------


def open_repo(root: Path) -> tuple[git.Repo, str]:
    """The git repository holding ``root`` and root's path inside it ('' at the top)."""
    root = root.resolve()
    try:
        repo = git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitError(f"{root}: not inside a git repository; run git init or pass --repo DIR") from None
    top = Path(repo.working_tree_dir or root).resolve()
    prefix = root.relative_to(top).as_posix()
    return repo, "" if prefix == "." else prefix


def _is_config_path(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    if rel == SETTINGS_FILE:
        return True
    return len(parts) == 2 and parts[0] in CONFIG_FOLDERS and parts[1].endswith(YAML_SUFFIXES)


def _under(prefix: str, path: str) -> str | None:
    """``path`` (relative to the work tree) relative to the configuration root, or None."""
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None


def repo_state(root: Path) -> tuple[str | None, bool]:
    """(HEAD commit, dirty) for recording in plans, journals and reports.

    Dirty means the configuration differs from the commit: a tracked file under the root
    is changed (staged or not), or a configuration file is not tracked yet. Untracked
    files elsewhere (state under .okectl/, editor files) do not count. Outside git the
    answer is (None, False): a plain folder is a valid configuration repository too.
    """
    try:
        repo, prefix = open_repo(root)
    except GitError:
        return None, False
    with repo:
        try:
            commit: str | None = repo.head.commit.hexsha
        except ValueError:
            # A repository without commits yet.
            commit = None
        return commit, bool(_dirty_paths(repo, prefix, has_head=commit is not None))


def _dirty_paths(repo: git.Repo, prefix: str, *, has_head: bool) -> list[str]:
    out: set[str] = set()
    diffs: list[Any] = list(repo.index.diff(None))
    if has_head:
        diffs += list(repo.index.diff("HEAD"))
    else:
        out.update(str(p) for p, _ in repo.index.entries)
    for d in diffs:
        for path in (d.a_path, d.b_path):
            if path and _under(prefix, path) is not None:
                out.add(path)
    for path in repo.untracked_files:
        rel = _under(prefix, path)
        if rel is not None and _is_config_path(rel):
            out.add(path)
    return sorted(out)


def dirty_files(root: Path) -> list[str]:
    """The files that make the configuration dirty (paths relative to the work tree)."""
    repo, prefix = open_repo(root)
    with repo:
        try:
            repo.head.commit  # noqa: B018 - raises on a repository without commits
            has_head = True
        except ValueError:
            has_head = False
        return _dirty_paths(repo, prefix, has_head=has_head)


def resolve_ref(repo: git.Repo, ref: str) -> git.Commit:
    try:
        commit = repo.commit(ref)
    except (git.BadName, git.BadObject, ValueError, IndexError):
        raise GitError(
            f"unknown git ref {ref!r}; give a branch, tag or commit that exists here "
            "(in CI, fetch it first, e.g. actions/checkout with fetch-depth: 0)"
        ) from None
    if not isinstance(commit, git.Commit):
        raise GitError(f"git ref {ref!r} does not name a commit")
    return commit


# --- what a change touches -----------------------------------------------------------


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
        return Scope(schools=set(), suppliers=set(), reasons=reasons)

    everything = [rel for _, rel in relevant if rel == SETTINGS_FILE or rel.startswith("policies/")]
    if everything:
        reasons.append(f"{_list(everything)} changed since {ref} ({short}): everything is in scope")
        return Scope(schools=None, suppliers=None, reasons=reasons)

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
    return Scope(schools=schools, suppliers=None if all_suppliers else suppliers, reasons=reasons)


# --- the desired state at a ref ------------------------------------------------------


class StateAtRefInvalid(OkectlError):
    def __init__(self, label: str, lines: list[str]) -> None:
        self.label = label
        self.problem_lines = lines
        super().__init__(f"the configuration at {label} does not validate")

    def lines(self) -> list[str]:
        return [f"at {self.label}: {line}" for line in self.problem_lines]


@contextmanager
def _tree_at(root: Path, ref: str) -> Iterator[tuple[Path, str]]:
    """The configuration files of ``ref`` written to a scratch folder (blobs, no checkout)."""
    repo, prefix = open_repo(root)
    with repo, tempfile.TemporaryDirectory(prefix="okectl-ref-") as tmp:
        commit = resolve_ref(repo, ref)
        scratch = Path(tmp)
        base: Any = commit.tree / prefix if prefix else commit.tree
        for item in base.traverse():
            if item.type != "blob":
                continue
            rel = PurePosixPath(item.path).relative_to(prefix).as_posix() if prefix else item.path
            if not _is_config_path(rel):
                continue
            dest = scratch / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(item.data_stream.read())
        yield scratch, commit.hexsha


def state_at(root: Path, ref: str) -> tuple[Validated, str]:
    """The validated desired state and resources at ``ref``, and the commit it named."""
    with _tree_at(root, ref) as (scratch, sha):
        label = f"{ref} ({sha[:7]})"
        if not any((scratch / f).is_dir() for f in CONFIG_FOLDERS):
            raise GitError(f"{label} has no schools/, suppliers/, environments/ or policies/ folder")
        try:
            return validate_repository(scratch), sha
        except ValidationFailed as exc:
            raise StateAtRefInvalid(label, exc.lines()) from None


# --- the difference between two desired states ---------------------------------------


@dataclass
class StateDiff:
    base: str
    target: str
    added: list[Resource] = field(default_factory=list)
    removed: list[Resource] = field(default_factory=list)
    changed: list[tuple[Address, list[FieldChange]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.base,
            "to": self.target,
            "summary": {"added": len(self.added), "removed": len(self.removed), "changed": len(self.changed)},
            "added": [{"address": str(r.address), "spec": _redacted(r)} for r in self.added],
            "removed": [{"address": str(r.address), "spec": _redacted(r)} for r in self.removed],
            "changed": [
                {"address": str(a), "fields": [f.to_json() for f in fields]} for a, fields in self.changed
            ],
        }

    def render_text(self) -> str:
        if self.empty:
            return f"No differences in the desired state between {self.base} and {self.target}.\n"
        lines = [f"Desired-state difference from {self.base} to {self.target}:"]
        for res in self.added:
            lines.append(f"+ {res.address}  (added)")
            lines.extend(f"    {k}: {_show(v)}" for k, v in _flatten(_redacted(res)))
        for res in self.removed:
            lines.append(f"- {res.address}  (removed)")
        for address, fields in self.changed:
            lines.append(f"~ {address}")
            for f in fields:
                shown = SENSITIVE_CHANGE if f.sensitive else f"{_show(f.before)} → {_show(f.after)}"
                lines.append(f"    {f.path}: {shown}")
        lines.append(f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed.")
        return "\n".join(lines) + "\n"


def _redacted(res: Resource) -> dict[str, Any]:
    hidden = SENSITIVE[res.kind]
    return {k: ("(sensitive)" if k in hidden and v is not None else v) for k, v in res.spec.items()}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _flatten(spec: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key in sorted(spec):
        value = spec[key]
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, path + "."))
        else:
            out.append((path, value))
    return out


def _field_diffs(before: Resource, after: Resource) -> list[FieldChange]:
    return field_changes(
        {**before.spec, "protected": before.protected},
        {**after.spec, "protected": after.protected},
        SENSITIVE[after.kind],
    )


def diff_states(before: list[Resource], after: list[Resource], *, base: str, target: str) -> StateDiff:
    old = {r.address: r for r in before}
    new = {r.address: r for r in after}
    result = StateDiff(base=base, target=target)
    result.added = [new[a] for a in sorted(new.keys() - old.keys(), key=str)]
    result.removed = [old[a] for a in sorted(old.keys() - new.keys(), key=str)]
    # By address text, so an environment comes right before its clients and roles.
    for address in sorted(old.keys() & new.keys(), key=str):
        fields = _field_diffs(old[address], new[address])
        if fields:
            result.changed.append((address, fields))
    return result


def diff_refs(root: Path, ref1: str, ref2: str | None) -> StateDiff:
    """The desired-state difference between two refs (``ref2`` None: the work tree)."""
    root = root.resolve()
    before, sha1 = state_at(root, ref1)
    if ref2 is None:
        try:
            after = validate_repository(root)
        except ValidationFailed as exc:
            raise StateAtRefInvalid("the work tree", exc.lines()) from None
        label2 = "the work tree"
    else:
        after, sha2 = state_at(root, ref2)
        label2 = f"{ref2} ({sha2[:7]})"
    return diff_states(before.resources, after.resources, base=f"{ref1} ({sha1[:7]})", target=label2)


# --- committing a change on a new branch ---------------------------------------------


def commit_on_branch(
    root: Path,
    branch: str,
    files: dict[str, tuple[str, str]],
    message: str,
    *,
    write: Any,
) -> str:
    """Create ``branch`` at HEAD, switch to it, write ``files`` and commit them.

    The user is left on the new branch, as with ``git switch -c``: the next step is to
    push it and open a pull request. The caller has checked that the tree is clean, so
    switching carries no one else's changes along.
    """
    repo, prefix = open_repo(root)
    with repo:
        try:
            repo.git.check_ref_format("--branch", branch)
        except git.GitCommandError:
            raise GitError(f"{branch!r} is not a valid branch name") from None
        if branch in repo.heads:
            raise GitError(f"branch {branch!r} already exists; pick another name or delete it first")
        try:
            head = repo.head.commit
        except ValueError:
            raise GitError("the repository has no commit yet; commit the configuration first") from None
        repo.create_head(branch, head).checkout()
        write(root, files)
        paths = [f"{prefix}/{rel}" if prefix else rel for rel in sorted(files)]
        index = repo.index
        index.add(paths)
        try:
            commit = index.commit(message, parent_commits=[head])
        except (git.GitCommandError, ValueError) as exc:
            raise GitError(
                f"wrote the files on branch {branch} but could not commit them: {exc}; commit them yourself"
            ) from None
        return str(commit.hexsha)
