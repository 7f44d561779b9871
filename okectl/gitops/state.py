"""The desired state at a git ref, read from git's object store without a checkout."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from okectl.config.revision import (
    CONFIG_FOLDERS,
    GitError,
    _is_config_path,
    open_repo,
    resolve_ref,
)
from okectl.engine.validate import Validated
from okectl.engine.workspace import load_workspace
from okectl.errors import OkectlError, ValidationFailed


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
            return load_workspace(scratch).validated, sha
        except ValidationFailed as exc:
            raise StateAtRefInvalid(label, exc.lines()) from None


