"""User-facing errors and exit codes.

Core code raises these; only the CLI edge turns them into text and an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_POLICY = 3
EXIT_CONFORMANCE = 4
EXIT_INTERRUPTED = 130
# Stopped by SIGTERM (128 + 15), as a shell reports a process it ended.
EXIT_TERMINATED = 143


@dataclass(frozen=True, order=True, slots=True)
class Problem:
    """One thing wrong with the desired state, located in a file."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class OkectlError(Exception):
    """An error the user can act on: printed as one line, never as a traceback."""

    exit_code = EXIT_ERROR

    def lines(self) -> list[str]:
        return [str(self)]


class ValidationFailed(OkectlError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the desired state")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class RepositoryError(OkectlError):
    """The repository itself cannot be used (missing folder, not a repository)."""
