"""Progress of long runs: a live display on a terminal, plain lines (or nothing) elsewhere.

Reads (plan, import, releases) show one spinner per supplier, on a terminal only: a log
has no use for them. Apply reports every completed write, as Terraform does: on a
terminal a live bar with counts and the time left, elsewhere one line per write, so a CI
log shows what happened and when.

rich is imported only when a live display is shown: it costs more to import than a
small plan costs to render.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TextIO

ReadHook = Callable[[str, str], None]

# What a completed write looks like in a log line.
DONE = {"create": "created", "update": "updated", "delete": "deleted"}
STATUS = {
    "failed": "failed",
    "unknown": "outcome unknown",
    "refused": "refused",
    "not-attempted": "not attempted",
}
PROBLEM_COLOUR = {"failed": "red", "unknown": "magenta", "refused": "yellow", "not-attempted": "yellow"}


class WriteOutcome(Protocol):
    """One completed write, as apply reports it."""

    @property
    def address(self) -> Any: ...

    @property
    def action(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def message(self) -> str: ...


def outcome_line(outcome: WriteOutcome) -> str:
    """The log line of one write: `addr: updated`, or `addr: update failed: why`."""
    if outcome.status == "applied":
        return f"{outcome.address}: {DONE.get(outcome.action, outcome.action)}"
    status = STATUS.get(outcome.status, outcome.status)
    text = f"{outcome.address}: {outcome.action} {status}"
    return f"{text}: {outcome.message}" if outcome.message else text


@contextlib.contextmanager
def read_progress(enabled: bool, *, stream: TextIO | None = None) -> Iterator[ReadHook | None]:
    """A live line per supplier while reading, when ``enabled`` (an interactive terminal)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=stream or sys.stderr)
    columns = (SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def hook(supplier: str, status: str) -> None:
            if supplier not in tasks:
                tasks[supplier] = progress.add_task(f"reading {supplier}", total=1)
            if status in ("done", "failed"):
                # Finished: the spinner gives way to a mark and the clock stops.
                progress.update(tasks[supplier], description=f"{supplier}: {status}", completed=1)

        yield hook


class _Lines:
    """One line per completed write, flushed at once so a CI log follows the run."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, outcome: WriteOutcome) -> None:
        self.stream.write(outcome_line(outcome) + "\n")
        self.stream.flush()


class _Live:
    """A bar with the counts so far and the time left; writes that did not succeed are
    printed above it as they happen, so none scrolls by unseen."""

    def __init__(self, progress: Any, total: int) -> None:
        self.progress = progress
        self.counts: dict[str, int] = {}
        self.task = progress.add_task("Applying", total=total, counts=self._counts())

    def _counts(self) -> str:
        parts = [f"{self.counts.get('applied', 0)} applied"]
        parts += [f"{n} {STATUS[s]}" for s, n in sorted(self.counts.items()) if s != "applied" and n]
        return ", ".join(parts)

    def __call__(self, outcome: WriteOutcome) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status != "applied":
            from rich.text import Text

            # A styled Text, not print(style=...): that style would bleed into the bar.
            colour = PROBLEM_COLOUR.get(outcome.status, "red")
            self.progress.console.print(Text(outcome_line(outcome), style=colour))
        self.progress.update(self.task, advance=1, counts=self._counts())


@contextlib.contextmanager
def apply_progress(
    total: int, *, terminal: bool, stream: TextIO | None = None
) -> Iterator[Callable[[WriteOutcome], None]]:
    """A callback to hand each completed write to, showing the progress of ``total`` writes."""
    out = stream or sys.stdout
    if not terminal:
        yield _Lines(out)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(file=out),
        # The finished bar stays: it is the run's record on screen.
        transient=False,
    )
    with progress:
        yield _Live(progress, total)
