"""Git plumbing for commands that write: a change committed on a new branch."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from okectl.config.revision import (
    GitError,
    dirty_files,
    inside_git,
    open_repo,
)
from okectl.errors import OkectlError

# "Name <email>", as git commit --author takes it.
_AUTHOR = re.compile(r"\s*(?P<name>[^<>\n]*[^<>\s])\s*<(?P<email>[^<>\s]+@[^<>\s]+)>\s*")
# What git var prints: "Name <email> 1700000000 +0100".
_IDENT = re.compile(r"(?P<name>[^<>\n]*) <(?P<email>[^<>\n]*)> \d+ [+-]\d{4}")
NO_IDENTITY = (
    "git does not know who you are, so okectl will not commit: set it with "
    'git config --global user.name "Your Name" and git config --global user.email you@example.com, '
    'or pass --author "Name <email>"'
)


@dataclass(kw_only=True)
class Edited:
    """What an edit of the configuration (bump, accepted drift) changes, and where it
    went: the work tree, or a commit on a new branch."""

    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path → (old, new)
    # Policy warnings the edit brings (errors refuse it).
    warnings: list[str] = field(default_factory=list)
    written: bool = False
    branch: str | None = None
    commit: str | None = None


def write_edit(
    root: Path,
    edited: Edited,
    message: Callable[[], str],
    *,
    branch: str | None,
    identity: tuple[git.Actor, git.Actor] | None,
    write: Callable[[Path, dict[str, tuple[str, str]]], None],
) -> None:
    """Write ``edited``'s files: with ``branch``, committed on it (see commit_on_branch)
    with the ``message`` asked for only then; without, into the work tree."""
    if branch is not None and identity is not None:
        edited.branch = branch
        edited.commit = commit_on_branch(
            root, branch, edited.files, message(), write=write, identity=identity
        )
    else:
        write(root, edited.files)
    edited.written = True


def parse_author(text: str) -> git.Actor:
    """``Name <email>`` as an actor; anything else is refused."""
    match = _AUTHOR.fullmatch(text)
    if match is None:
        raise GitError(
            f'--author {text!r}: write it as "Name <email>", e.g. "Adoption Team <team@example.org>"'
        )
    return git.Actor(match["name"], match["email"])


def _known(repo: git.Repo, which: str) -> git.Actor | None:
    # git's own answer, from its configuration, GIT_AUTHOR_*/GIT_COMMITTER_* and what it may
    # detect, and None where `git commit` would refuse. GitPython would make up user@host.
    try:
        match = _IDENT.fullmatch(repo.git.var(which).strip())
    except git.GitCommandError:
        return None
    return git.Actor(match["name"], match["email"]) if match else None


def require_clean(root: Path, doing: str, *, branch: str | None) -> None:
    """Refuse to edit the configuration over uncommitted changes (they would be mixed into
    the edit, and onto its branch); ``branch`` needs a git repository at all."""
    if inside_git(root):
        dirty = dirty_files(root)
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            raise OkectlError(
                f"refusing to {doing}: the working tree has uncommitted changes ({shown}); "
                "commit or stash them"
            )
    elif branch is not None:
        raise OkectlError(f"{root}: not inside a git repository; --branch needs one")


def commit_identity(root: Path, author: str | None = None) -> tuple[git.Actor, git.Actor]:
    """Author and committer of a commit okectl makes, found as `git commit` finds them.

    ``author`` ("Name <email>") is the author, and the committer too where git knows none.
    Without an identity this refuses, as git does, before anything is written."""
    given = parse_author(author) if author is not None else None
    repo, _ = open_repo(root)
    with repo:
        committer = _known(repo, "GIT_COMMITTER_IDENT")
        by = given or _known(repo, "GIT_AUTHOR_IDENT")
    if by is None:
        raise GitError(NO_IDENTITY)
    return by, committer or by


def check_new_branch(root: Path, branch: str) -> None:
    """Refuse a branch name git would refuse, or one that exists: checked before work that
    ends in committing on it, so that work is not done for nothing."""
    repo, _ = open_repo(root)
    with repo:
        _check_new_branch(repo, branch)


def _check_new_branch(repo: git.Repo, branch: str) -> None:
    try:
        repo.git.check_ref_format("--branch", branch)
    except git.GitCommandError:
        raise GitError(f"{branch!r} is not a valid branch name") from None
    if branch in repo.heads:
        raise GitError(f"branch {branch!r} already exists; pick another name or delete it first")


def commit_on_branch(
    root: Path,
    branch: str,
    files: dict[str, tuple[str, str]],
    message: str,
    *,
    write: Any,
    identity: tuple[git.Actor, git.Actor],
) -> str:
    """Create ``branch`` at HEAD, switch to it, write ``files`` and commit them as
    ``identity`` (author, committer: see commit_identity).

    The user is left on the new branch, as with ``git switch -c``: the next step is to
    push it and open a pull request. The caller has checked that the tree is clean, so
    switching carries no one else's changes along.
    """
    repo, prefix = open_repo(root)
    with repo:
        _check_new_branch(repo, branch)
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
            commit = index.commit(message, parent_commits=[head], author=identity[0], committer=identity[1])
        except (git.GitCommandError, ValueError) as exc:
            raise GitError(
                f"wrote the files on branch {branch} but could not commit them: {exc}; commit them yourself"
            ) from None
        return str(commit.hexsha)
