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
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from okectl.plans.outcomes import DONE as SUCCEEDED
from okectl.views.escape import terminal

if TYPE_CHECKING:
    from okectl.plans.outcomes import Outcome, ReadProgress, WriteProgress

# What a completed write looks like in a log line.
DONE = {"create": "created", "update": "updated", "delete": "deleted"}
STATUS = {
    "requested": "requested",
    "failed": "failed",
    "unknown": "outcome unknown",
    "refused": "refused",
    "not-attempted": "not attempted",
}
PROBLEM_COLOUR = {"failed": "red", "unknown": "magenta", "refused": "yellow", "not-attempted": "yellow"}


def outcome_line(outcome: Outcome) -> str:
    """The log line of one write: `addr: updated`, or `addr: update failed: why`."""
    address = terminal(outcome.address)
    if outcome.status == "applied":
        return f"{address}: {DONE.get(outcome.action, outcome.action)}"
    status = STATUS.get(outcome.status, outcome.status)
    text = f"{address}: {outcome.action} {status}"
    return f"{text}: {terminal(outcome.message)}" if outcome.message else text


@contextlib.contextmanager
def read_progress(enabled: bool, *, stream: TextIO | None = None) -> Iterator[ReadProgress | None]:
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

    def start(self, total: int) -> None:
        pass

    def __call__(self, outcome: Outcome) -> None:
        self.stream.write(outcome_line(outcome) + "\n")
        self.stream.flush()


class _Live:
    """A bar with the counts so far and the time left; writes that did not succeed are
    printed above it as they happen, so none scrolls by unseen. The bar appears when the
    writes start, not before: a question may come first."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.progress: Any = None
        self.counts: dict[str, int] = {}
        self.task: Any = None

    def start(self, total: int) -> None:
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

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            # The finished bar stays: it is the run's record on screen.
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("Applying", total=total, counts=self._counts())

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _counts(self) -> str:
        parts = [f"{self.counts.get('applied', 0)} applied"]
        parts += [f"{n} {STATUS[s]}" for s, n in sorted(self.counts.items()) if s != "applied" and n]
        return ", ".join(parts)

    def __call__(self, outcome: Outcome) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        if outcome.status not in SUCCEEDED:
            from rich.text import Text

            # A styled Text, not print(style=...): that style would bleed into the bar.
            colour = PROBLEM_COLOUR.get(outcome.status, "red")
            self.progress.console.print(Text(outcome_line(outcome), style=colour))
        self.progress.update(self.task, advance=1, counts=self._counts())


@contextlib.contextmanager
def apply_progress(*, terminal: bool, stream: TextIO | None = None) -> Iterator[WriteProgress]:
    """Where each completed write is shown: a live bar on a terminal, else one line each."""
    out = stream or sys.stdout
    if not terminal:
        yield _Lines(out)
        return
    live = _Live(out)
    try:
        yield live
    finally:
        live.stop()
