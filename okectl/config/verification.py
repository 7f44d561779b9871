"""The repository's record of OKE verifications (``verification/<supplier>.json``).

``okectl verify --record`` writes it; the ``verified`` policy rule kind reads it. It is part
of the desired state's evidence, kept in git beside the configuration, and read as every
other file of the repository is: hostile until checked.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from okectl.config.repository import check_file
from okectl.errors import OkectlError
from okectl.files import read_regular

RECORD_DIR = "verification"
# A record holds a few lines per OKE version; far more is not one.
MAX_RECORD_BYTES = 1 << 20


class RecordedRun(BaseModel):
    """The latest recorded verify of one supplier at one OKE version."""

    model_config = ConfigDict(extra="allow")

    date: date
    level: Annotated[int, Field(ge=0, le=4)]
    passed_level: Annotated[int, Field(ge=-1, le=4)]
    status: str
    okectl_version: str = ""
    environments: list[str] = Field(default_factory=list)
    drift: dict[str, str] = Field(default_factory=dict)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    oke_versions: dict[str, RecordedRun]


def record_path(root: Path, supplier: str) -> Path:
    return root / RECORD_DIR / f"{supplier}.json"


def read_record(root: Path, supplier: str) -> dict[str, RecordedRun]:
    """The recorded verifications of a supplier: OKE version → its latest run (empty when
    there is no record). A record that is there but cannot be read, or is not one, is an
    error naming it, never an absence."""
    root = root.resolve()
    path = record_path(root, supplier)
    display = f"{RECORD_DIR}/{supplier}.json"
    problem = check_file(path, root, display)
    if problem is not None:
        raise OkectlError(str(problem))
    if not path.exists():
        return {}
    raw = read_regular(path, what="the verification record", limit=MAX_RECORD_BYTES)
    try:
        data: Any = json.loads(raw.decode("utf-8"))
        return _Record.model_validate(data).oke_versions
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = exc.errors(include_url=False)[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise OkectlError(f"{display}: not a verification record ({reason})") from None
