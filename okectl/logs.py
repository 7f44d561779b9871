"""Logging: silent by default; ``-v`` shows what okectl does at the suppliers.

Every module logs to a child of the ``okectl`` logger (``logging.getLogger(__name__)``).
Nothing is shown unless the command line asks: ``-v`` shows retries, throttling, token
renewals and each write; ``-vv`` adds every request. ``--log-format json`` writes one JSON
object a line, for CI systems that collect logs. Messages carry no secret: they name
addresses, methods, URLs and statuses only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

ROOT = "okectl"
LogFormat = Literal["text", "json"]

# Fields a record may carry (through ``extra=``) that the JSON format writes as keys.
_EXTRA_FIELDS = ("address", "supplier", "method", "url", "status", "attempt", "wait", "action", "outcome")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _EXTRA_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure(verbosity: int, fmt: LogFormat = "text") -> None:
    """Set up the ``okectl`` logger for one run of the command line."""
    logger = logging.getLogger(ROOT)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = False
    if verbosity <= 0:
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.CRITICAL + 1)
        return
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
