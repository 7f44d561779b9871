"""The recorded state of a supplier managed by change requests (``state/<supplier>/<school>.yaml``).

A supplier without an administration API cannot be read. What okectl treats as its actual
state is what the supplier has confirmed: a change request confirmed by its support desk,
or an export the supplier sent. That record is kept in the repository, committed and
reviewed like the configuration, and read as every other file is: hostile until checked,
every problem at its file:line:col.

Each resource carries its provenance (``source``): the request and ticket that confirmed
it, or the export it was imported from. The record belongs to this repository: everything
in it is managed by it (there is nothing to adopt).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, StringConstraints

from okectl.config.models import (
    EnvironmentStatus,
    EnvironmentType,
    Federation,
    Flow,
    FunctionalRole,
    IsoDate,
    Model,
    SchoolCode,
    Slug,
    SsoMode,
    Version,
)
from okectl.config.yamlsource import locate
from okectl.errors import Problem, ValidationFailed
from okectl.files import replace_file

RECORD_DIR = "state"
SCHEMA_LINE = "# yaml-language-server: $schema=../../schema/state.schema.json"

Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class Provenance(Model):
    """Where a recorded resource comes from: a confirmed change request, or an export."""

    date: IsoDate = Field(description="The day it was confirmed or imported")
    request: Text | None = Field(default=None, description="The change request that was confirmed")
    ticket: Text | None = Field(default=None, description="The supplier's ticket reference")
    by: Text | None = Field(default=None, description="Who confirmed it")
    export: Text | None = Field(default=None, description="The export file it was imported from")
    export_digest: Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    observed: Text | None = Field(
        default=None,
        description="The evidence of the observation it comes from (okectl verify --record)",
    )


class RecordedSecret(Model):
    """The client secret the supplier confirmed having: the reference it was read from and a
    salted, slow digest of the value, so a changed value is noticed and nothing guessable
    about it is committed."""

    ref: Annotated[str, StringConstraints(pattern=r"^(env|file):.{1,4096}$")]
    digest: Annotated[str, StringConstraints(pattern=r"^pbkdf2-sha256:[0-9]{1,7}:[0-9a-f]{32}:[0-9a-f]{64}$")]


class RecordedSso(Model):
    mode: SsoMode | None = None
    federation: Federation | None = None
    schac_home: Text | None = None


class RecordedClient(Model):
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    scopes: list[Text] = Field(default_factory=list)
    secret: RecordedSecret | None = None
    source: Provenance | None = None


class RecordedRole(Model):
    name: Text | None = Field(default=None, description="The supplier's name for the role")
    groups: list[Text] = Field(default_factory=list)
    source: Provenance | None = None


class RecordedEnvironment(Model):
    type: EnvironmentType | None = None
    status: EnvironmentStatus | None = None
    function: FunctionalRole | None = None
    oke_version: Version | None = None
    ooapi_version: Version | None = None
    flows: list[Flow] = Field(default_factory=list)
    sso: RecordedSso | None = None
    clients: dict[Slug, RecordedClient] = Field(default_factory=dict)
    roles: dict[Slug, RecordedRole] = Field(default_factory=dict)
    source: Provenance | None = None


class RecordedState(Model):
    """What one supplier has confirmed for one school."""

    supplier: Slug
    school: SchoolCode
    environments: dict[Slug, RecordedEnvironment] = Field(default_factory=dict)


@dataclass(frozen=True)
class LoadedRecord:
    record: RecordedState
    path: str
    data: Any

    def problem(self, loc: tuple[Any, ...], message: str) -> Problem:
        return Problem(self.path, *locate(self.data, loc), message)


def record_path(root: Path, supplier: str, school: str) -> Path:
    return root / RECORD_DIR / supplier / f"{school}.yaml"


def load_records(root: Path, supplier: str) -> tuple[dict[str, LoadedRecord], list[Problem]]:
    """Every record of a supplier, by school, and the problems of those that do not load
    (a file that is there but cannot be read is a problem, never an absence)."""
    # Imported here: the repository module names the record's model among its schema kinds.
    from okectl.config.repository import _yaml_files

    root = root.resolve()
    problems: list[Problem] = []
    out: dict[str, LoadedRecord] = {}
    # The folder may be missing (nothing recorded yet); one that leads outside the
    # repository or is not a folder is a problem, as for every configuration folder.
    folder = root / RECORD_DIR / supplier
    for file in _yaml_files(folder, root, problems):
        display = file.relative_to(root).as_posix()
        loaded = _load(file, display, problems)
        if loaded is None:
            continue
        stem = file.name.rsplit(".", 1)[0]
        rec = loaded.record
        if rec.supplier != supplier:
            problems.append(
                loaded.problem(
                    ("supplier",),
                    f"supplier {rec.supplier!r} in the record of {supplier}; "
                    f"it belongs in {RECORD_DIR}/{rec.supplier}/",
                )
            )
            continue
        if rec.school != stem:
            problems.append(
                loaded.problem(
                    ("school",),
                    f"school {rec.school!r} does not match the file name; "
                    f"rename the file to {rec.school}.yaml",
                )
            )
            continue
        out[rec.school] = loaded
    return out, problems


def load_record(root: Path, supplier: str, school: str) -> LoadedRecord | None:
    """The record of one school (None when there is none); ValidationFailed when it is
    there but not a valid record."""
    from okectl.config.repository import check_file

    root = root.resolve()
    path = record_path(root, supplier, school)
    display = path.relative_to(root).as_posix()
    problem = check_file(path, root, display)
    if problem is not None:
        raise ValidationFailed([problem])
    if not path.exists():
        return None
    problems: list[Problem] = []
    loaded = _load(path, display, problems)
    if loaded is None:
        raise ValidationFailed(problems)
    if (loaded.record.supplier, loaded.record.school) != (supplier, school):
        raise ValidationFailed([loaded.problem(("school",), f"not the record of {supplier}/{school}")])
    return loaded


def _load(file: Path, display: str, problems: list[Problem]) -> LoadedRecord | None:
    from okectl.config.repository import parse_file

    expected = "expected a recorded state: supplier, school, environments"
    parsed = parse_file(file, display, RecordedState, problems, not_mapping=expected)
    return LoadedRecord(parsed[0], display, parsed[1]) if parsed is not None else None


def render_record(record: RecordedState) -> str:
    """The record as YAML, with its modeline; leaves in flow style so a resource reads as
    one block and a diff in review shows the field that moved."""
    doc = record.model_dump(mode="python", exclude_none=True, exclude_defaults=False)
    for env in doc.get("environments", {}).values():
        for key in ("clients", "roles"):
            if not env.get(key):
                env.pop(key, None)
    return render_yaml(doc, SCHEMA_LINE, flow_leaves=True)


class _PlainDumper(yaml.SafeDumper):
    # A file reviewed in a pull request says each value where it stands: no &anchors and
    # *aliases for values that happen to be shared (the same date twice).
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_yaml(doc: Any, modeline: str, *, flow_leaves: bool = False) -> str:
    """A file okectl writes for review in git: its modeline, then plain YAML in the given
    key order (leaf collections in flow style when ``flow_leaves``)."""
    body = yaml.dump(
        doc,
        Dumper=_PlainDumper,
        sort_keys=False,
        default_flow_style=None if flow_leaves else False,
        allow_unicode=True,
        width=110,
    )
    return f"{modeline}\n{body}"


def write_record(root: Path, record: RecordedState) -> Path:
    """Replace the record of one school whole (write_atomic), creating its folder."""
    from okectl.files import state_folder

    folder = state_folder(root.resolve(), Path(RECORD_DIR) / record.supplier)
    path = folder / f"{record.school}.yaml"
    replace_file(path, render_record(record), what="the recorded state")
    return path
