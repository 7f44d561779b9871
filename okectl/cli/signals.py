"""Stopping an apply on SIGTERM or Ctrl-C: the edge's to handle, never the core's."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any


class Stop:
    """Set by SIGTERM or SIGINT while installed: the apply it is handed to starts no write
    after it, and the writes under way finish. Asked twice, the run stops at once (the
    writes cut off end as the journal's intents without outcome, which the next run reads
    back)."""

    def __init__(self) -> None:
        self.signal: str | None = None

    def __call__(self) -> str | None:
        return self.signal

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Catch SIGTERM and SIGINT for the duration (main thread only)."""
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: Any) -> None:
            if self.signal is not None:
                # Raised inside whichever asyncio task runs now, the exception is also kept
                # on that task, and asyncio logs it with a traceback when the task is
                # collected at exit: a stop asked for twice is no failure to report.
                logging.getLogger("asyncio").addFilter(_stopped_on_purpose)
                if signum == signal.SIGTERM:
                    raise SystemExit(128 + signum)
                raise KeyboardInterrupt
            self.signal = signal.Signals(signum).name
            sys.stderr.write(
                f"{self.signal}: stopping; no write starts now, the ones under way finish "
                "(send it again to stop at once)\n"
            )

        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, handler)
        except ValueError:
            pass  # not the main thread: signals keep their default behaviour
        try:
            yield
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)


def _stopped_on_purpose(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, SystemExit | KeyboardInterrupt)
