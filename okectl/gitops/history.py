"""What git's history says about the configuration: when an environment's OKE version was
set, and which environments changed since a day or a ref.

History is read along the first parents of HEAD: on the main branch a merge commit is the
moment its change arrived there, whenever its branch's own commits were made. A school
file of an old commit is read as the hostile text it may be (``load_text``); one that
cannot be read counts as naming no version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okectl.config.revision import GitError, inside_git, open_repo
from okectl.config.yamlsource import YamlError, load_text
from okectl.engine.workspace import Workspace
from okectl.errors import OkectlError
from okectl.policy.rules.base import ChangedEnvironments

if TYPE_CHECKING:
    import git

# A school file is small; one far larger in an old commit is not read.
MAX_SCHOOL_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class SetAt:
    """The first-parent commit that set a value, and when it was committed."""

    commit: str
    when: datetime

    @property
    def day(self) -> date:
        """The day of the commit, in the committer's own time zone."""
        return self.when.date()

    @property
    def short(self) -> str:
        return self.commit[:7]


def _version_in(data: Any, supplier: str, environment: str) -> str | None:
    """The OKE version a school file gives one environment of a connection, or None."""
    conns = data.get("connections") if isinstance(data, dict) else None
    conn = conns.get(supplier) if isinstance(conns, dict) else None
    if not isinstance(conn, dict):
        return None
    envs = conn.get("environments")
    override = envs.get(environment) if isinstance(envs, dict) else None
    if isinstance(override, dict):
        if override.get("absent") is True:
            return None
        pinned = override.get("oke_version")
        if isinstance(pinned, str):
            return pinned
    version = conn.get("oke_version")
    return version if isinstance(version, str) else None


class SchoolHistory:
    """A school file's first-parent history (newest first), read once for every question."""

    def __init__(self, root: Path, rel: str) -> None:
        self.rel = rel
        self._entries: list[tuple[str, datetime, Any]] = []
        repo, prefix = open_repo(root)
        with repo:
            path = f"{prefix}/{rel}" if prefix else rel
            try:
                commits: Iterator[git.Commit] = repo.iter_commits("HEAD", paths=path, first_parent=True)
                for commit in commits:
                    self._entries.append((commit.hexsha, commit.committed_datetime, self._read(commit, path)))
            except ValueError:
                # A repository without commits: no history at all.
                self._entries = []

    def _read(self, commit: git.Commit, path: str) -> Any:
        try:
            blob = commit.tree / path
        except KeyError:
            return None  # deleted in this commit
        if blob.size > MAX_SCHOOL_BYTES:
            return None
        try:
            return load_text(blob.data_stream.read().decode("utf-8"), f"{self.rel}@{commit.hexsha[:7]}")
        except (YamlError, UnicodeDecodeError):
            return None

    def version_set(self, supplier: str, environment: str, version: str) -> SetAt | None:
        """The commit from which on the environment runs ``version`` without a break up to
        HEAD: when it was set there. None when HEAD does not give it that version."""
        found: SetAt | None = None
        for sha, when, data in self._entries:
            if _version_in(data, supplier, environment) != version:
                break
            found = SetAt(sha, when)
        return found


def last_commit_before(root: Path, day: date) -> str | None:
    """The newest first-parent commit of HEAD made before ``day`` (by its committer's
    clock), or None when the history starts on or after it."""
    repo, _ = open_repo(root)
    with repo:
        try:
            for commit in repo.iter_commits("HEAD", first_parent=True):
                if commit.committed_datetime.date() < day:
                    return str(commit.hexsha)
        except ValueError:
            return None
    return None


def changed_environments(ws: Workspace, base: str) -> frozenset[str]:
    """The environments whose desired configuration (the environment, its clients or its
    roles) differs between commit ``base`` and the work tree, as addresses."""
    from okectl.gitops.diff import diff_states
    from okectl.gitops.state import state_at

    before, sha = state_at(ws.root, base)
    diff = diff_states(before.resources, ws.resources, base=sha, target="the work tree")
    touched = [r.address for r in (*diff.added, *diff.removed)] + [a for a, _ in diff.changed]
    return frozenset(str(a.parent or a) for a in touched)


def changes_since(ws: Workspace, ref: str | None = None) -> ChangedEnvironments | None:
    """For the ``freeze`` rule: the environments changed since a window began (against
    the last commit before its first day), or since ``ref`` (its merge base with HEAD, as
    ``plan --changed-since`` counts) when given. None outside git: nothing to tell."""
    if not inside_git(ws.root):
        if ref is not None:
            raise GitError(f"{ws.root}: not inside a git repository; --changed-since needs one")
        return None
    fixed: str | None = None
    if ref is not None:
        from okectl.gitops.scope import changed_files

        fixed = changed_files(ws.root, ref)[0]
    cache: dict[str, frozenset[str]] = {}

    def changed(since: date) -> frozenset[str] | None:
        base = fixed or last_commit_before(ws.root, since)
        if base is None:
            return None
        if base not in cache:
            try:
                cache[base] = changed_environments(ws, base)
            except OkectlError:
                # The configuration at that commit does not load: nothing to compare with.
                return None
        return cache[base]

    return changed
