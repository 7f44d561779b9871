"""Git plumbing for commands that write: a change committed on a new branch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git

from okectl.config.revision import (
    GitError,
    open_repo,
)


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
