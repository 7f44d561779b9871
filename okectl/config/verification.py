"""The repository's record of OKE verifications (``verification/<supplier>.json``).

``okectl verify --record`` writes it; the ``verified`` policy rule kind reads it. It is part
of the desired state's evidence, kept in git beside the configuration, and read as every
other file of the repository is: hostile until checked.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from okectl.config.repository import check_file
from okectl.errors import OkectlError
from okectl.files import read_regular
from okectl.model import clock

RECORD_DIR = "verification"
# A record holds a few lines per OKE version; far more is not one.
MAX_RECORD_BYTES = 1 << 20


VerifyStatus = Literal["pass", "fail", "error"]
OkeVersionKey = Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")]
# A record is dated the day of its run; a time zone ahead may make it tomorrow elsewhere.
DATE_TOLERANCE = timedelta(days=1)


class EnvironmentRun(BaseModel):
    """The latest recorded verify of one environment at one OKE version: what a promotion
    asks of the stage before (it passed, recently, and after the version was set there)."""

    model_config = ConfigDict(extra="allow")

    date: date
    # When the run started (UTC): later than the commit that set the version, or not.
    started: AwareDatetime
    level: Annotated[int, Field(ge=0, le=4)]
    passed_level: Annotated[int, Field(ge=-1, le=4)]


class RecordedRun(BaseModel):
    """The latest recorded verify of one supplier at one OKE version, and per environment
    the latest run that verified it (``results``: kept across runs of other environments)."""

    model_config = ConfigDict(extra="allow")

    date: date
    level: Annotated[int, Field(ge=0, le=4)]
    passed_level: Annotated[int, Field(ge=-1, le=4)]
    status: VerifyStatus
    okectl_version: str = ""
    environments: list[str] = Field(default_factory=list)
    drift: dict[str, str] = Field(default_factory=dict)
    results: dict[str, EnvironmentRun] = Field(default_factory=dict)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    supplier: str | None = None
    oke_versions: dict[OkeVersionKey, RecordedRun]


def record_path(root: Path, supplier: str) -> Path:
    return root / RECORD_DIR / f"{supplier}.json"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With a key twice, json keeps the last: what a reader sees would depend on the reader.
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"the key {twice[:40]!r} appears twice")
    return dict(pairs)


def contradiction(run: RecordedRun, supplier: str, today: date) -> str | None:
    """What in this entry cannot be true of a run okectl verify recorded, or None."""
    if run.passed_level > run.level:
        return (
            f"passed_level {run.passed_level} is above level {run.level}: "
            "no run passes a level it did not run"
        )
    if run.status == "fail" and run.passed_level >= run.level:
        return f"status is fail, yet passed_level {run.passed_level} is every level the run had"
    if run.date > today + DATE_TOLERANCE:
        return f"dated {run.date}, after today ({today}): no run has made it yet"
    foreign = [a for a in run.environments if a.split("/", 1)[0] != supplier]
    if foreign:
        return f"names an environment of another supplier ({foreign[0][:80]})"
    unlisted = sorted(set(run.drift) - set(run.environments))
    if unlisted:
        return f"drift names an environment the run did not verify ({unlisted[0][:80]})"
    for address, env in sorted(run.results.items()):
        shown = address[:80]
        if len(address.split("/")) != 3 or address.split("/", 1)[0] != supplier:
            return f"results name {shown!r}, not an environment of {supplier}"
        if env.passed_level > env.level:
            return f"results of {shown}: passed_level {env.passed_level} is above level {env.level}"
        if env.date > today + DATE_TOLERANCE:
            return f"results of {shown}: dated {env.date}, after today ({today})"
        if env.started > clock.SYSTEM.now() + DATE_TOLERANCE:
            return f"results of {shown}: started {env.started.isoformat()}, later than now"
    return None


def read_record(root: Path, supplier: str) -> dict[str, RecordedRun]:
    """The recorded verifications of a supplier: OKE version → its latest run (empty when
    there is no record). A record that is there but cannot be read, is not one, or says
    things that contradict each other (or the calendar) is an error naming it, never an
    absence and never believed."""
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
        data: Any = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
        record = _Record.model_validate(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            reason = f"{where}: {first['msg']}" if where else first["msg"]
        else:
            reason = str(exc)
        raise OkectlError(f"{display}: not a verification record ({reason})") from None
    if record.supplier is not None and record.supplier != supplier:
        raise OkectlError(
            f"{display}: the record of {record.supplier[:80]!r}, not of {supplier}; not believed"
        )
    today = clock.today()
    for version, run in record.oke_versions.items():
        why = contradiction(run, supplier, today)
        if why is not None:
            raise OkectlError(f"{display}: OKE {version}: {why}; not believed")
    return record.oke_versions
