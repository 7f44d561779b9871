"""Which commit the configuration is at: recorded in plans, journals and reports.

The configuration repository may be a folder inside a larger git repository, so every
path here is taken relative to the configuration root, not to the top of the work tree.
GitPython is imported only inside a git work tree: a plain folder is a valid repository.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from okectl.errors import OkectlError

if TYPE_CHECKING:
    import git

CONFIG_FOLDERS = ("schools", "suppliers", "environments", "policies")
SETTINGS_FILE = "okectl.yaml"
YAML_SUFFIXES = (".yaml", ".yml")

class GitError(OkectlError):
    """The repository or a ref cannot be used for a git-aware command."""



def inside_git(root: Path) -> bool:
    """Whether ``root`` lies in a git work tree, without importing GitPython."""
    root = root.resolve()
    return any((p / ".git").exists() for p in (root, *root.parents))


def open_repo(root: Path) -> tuple[git.Repo, str]:
    """The git repository holding ``root`` and root's path inside it ('' at the top)."""
    import git

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
    if not inside_git(root):
        # Not worth importing GitPython to learn that there is no commit.
        return None, False
    try:
        repo, prefix = open_repo(root)
    except (GitError, ImportError):
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
    import git

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


