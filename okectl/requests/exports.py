"""Importing a supplier's export into the recorded state (``okectl import --from FILE``).

Many suppliers can send an export of what they have (CSV, sometimes JSON or YAML). It is
read as hostile input: bounded in size and rows, decoded strictly, every bad cell named by
its line. The supplier file's ``api.settings.export`` maps its columns (and its words) to
okectl's fields. A school in the export replaces that school's record; schools it does not
mention keep theirs.

An export is also an observation (judged as every observation is, in
:mod:`okectl.requests.observe`): a request whose every change the export shows is
confirmed by it, and a confirmed request the export contradicts is reopened. What the
export showed is kept as evidence in the request's folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from okectl.config.models import Model, SchoolCode, Slug, Supplier
from okectl.config.record import (
    Provenance,
    RecordedClient,
    RecordedEnvironment,
    RecordedRole,
    RecordedState,
    load_record,
    write_record,
)
from okectl.config.repository import DesiredState
from okectl.config.request_files import RequestedChange
from okectl.config.yamlsource import YamlError, YList, load_text
from okectl.errors import OkectlError, Problem, ValidationFailed
from okectl.files import read_regular
from okectl.model import clock
from okectl.model.resources import Address
from okectl.requests.observe import Observation, Seen, evidence_name, flat, observe, record_observation
from okectl.requests.recorded import (
    client_spec,
    confirmed_by,
    environment_spec,
    resources_of,
    role_spec,
    with_resources,
)
from okectl.requests.settings import ExportMapping, ListField, requests_settings
from okectl.requests.store import StoredRequest, list_requests

MAX_EXPORT_BYTES = 16 << 20
MAX_ROWS = 100_000
Spec = dict[str, Any]
# The resource's fields an export can show, flattened (sso.mode), by export column.
OBSERVABLE: dict[str, str] = {
    "type": "type", "status": "status", "function": "function", "oke_version": "oke_version",
    "ooapi_version": "ooapi_version", "flows": "flows", "sso_mode": "sso.mode",
    "sso_federation": "sso.federation", "sso_schac_home": "sso.schac_home",
    "client_id": "client_id", "scopes": "scopes", "role_name": "name", "groups": "groups",
}  # fmt: skip


class ExportError(ValidationFailed):
    """An export that cannot be read: every problem, at its line."""


class _Key(Model):
    school: SchoolCode
    environment: Slug
    kind: Literal["environment", "client", "role"] = "environment"
    name: Slug | None = None


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, Any]  # okectl field → value (text or list of text), present cells only
    # A JSON export has no lines to point at: its rows are named by their place in the list.
    item: int | None = None

    @property
    def at(self) -> str:
        return f"item {self.item}: " if self.item is not None else ""

    @property
    def where(self) -> str:
        return f"item {self.item}" if self.item is not None else f"line {self.line}"


# Control and formatting characters (an escape sequence, a new line, a bidirectional
# override, a zero-width space): no value a supplier exports holds one, and one that does
# would restyle a terminal or hide what a reviewer reads in the record.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
# Digits in a cell a JSON or YAML export gives as a number; more is not a value.
_MAX_DIGITS = 20


def _hidden(text: str) -> str | None:
    """The first control or formatting character in ``text``, as U+XXXX; None when plain."""
    for ch in text:
        if unicodedata.category(ch) in _HIDDEN:
            return f"U+{ord(ch):04X}"
    return None


@dataclass
class Export:
    """What an export says, per school: each resource's fields, and which fields it shows."""

    display: str
    digest: str
    schools: dict[str, dict[Address, Spec]] = field(default_factory=dict)
    observable: frozenset[str] = frozenset()


# --- reading --------------------------------------------------------------------------


def _decode(raw: bytes, encoding: str, display: str) -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ExportError(
            [Problem(display, line, col, f"not {encoding} text; set api.settings.export.encoding")]
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ExportError([Problem(display, line, 1, "holds a NUL character; not a text export")])
    return text.removeprefix("\ufeff")


def _csv_rows(text: str, mapping: ExportMapping, display: str, problems: list[Problem]) -> list[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ExportError([Problem(display, 1, 1, "is empty; expected a header row")]) from None
    except csv.Error as exc:
        raise ExportError([Problem(display, 1, 1, f"malformed CSV: {exc}")]) from None
    names = [h.strip() for h in header]
    # Counted once: a header of a million cells is read in linear time.
    dupes = sorted(h for h, n in Counter(names).items() if n > 1 and h)
    if dupes:
        named = ", ".join(dupes[:5]) + (f", … ({len(dupes):,} in all)" if len(dupes) > 5 else "")
        raise ExportError([Problem(display, 1, 1, f"the column(s) {named} appear twice")])
    columns = _columns(names, mapping, display)
    rows: list[_Row] = []
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(display, reader.line_num, 1, f"malformed CSV: {exc}"))
            break
        line = start
        if not any(v.strip() for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            raise ExportError([Problem(display, line, 1, f"more than {MAX_ROWS:,} rows; split the export")])
        if len(values) != len(names):
            problems.append(Problem(display, line, 1, f"has {len(values)} cells, the header {len(names)}"))
            continue
        cells = {f: values[i] for f, i in columns.items()}
        rows.append(_Row(line, {f: v for f, v in cells.items() if v.strip()}))
    return rows


def _columns(names: list[str], mapping: ExportMapping, display: str) -> dict[str, int]:
    """Export field → column index, for the fields the export has a column for."""
    out = {f: names.index(mapping.header(f)) for f in _FIELDS if mapping.header(f) in names}
    missing = [mapping.header(f) for f in ("school", "environment") if f not in out]
    if missing:
        raise ExportError(
            [
                Problem(
                    display,
                    1,
                    1,
                    f"no column {', '.join(repr(m) for m in missing)}; name it in "
                    "api.settings.export.columns of the supplier file",
                )
            ]
        )
    return out


_FIELDS = (
    "school", "environment", "kind", "name", *OBSERVABLE,
)  # fmt: skip


def _document_rows(
    data: Any, mapping: ExportMapping, display: str, problems: list[Problem], *, lines: bool
) -> list[_Row]:
    if not isinstance(data, list):
        raise ExportError([Problem(display, 1, 1, "expected a list of resources, one object each")])
    if len(data) > MAX_ROWS:
        raise ExportError([Problem(display, 1, 1, f"more than {MAX_ROWS:,} resources; split the export")])
    rows: list[_Row] = []
    for i, item in enumerate(data):
        line = data.marks[i][0] if isinstance(data, YList) else 1
        if not isinstance(item, dict):
            problems.append(Problem(display, line, 1, f"item {i + 1}: expected an object of fields"))
            continue
        cells: dict[str, Any] = {}
        for f in _FIELDS:
            value = item.get(mapping.header(f))
            if value is None or value == "" or value == []:
                continue
            try:
                cells[f] = _document_cell(value)
            except ValueError as exc:
                problems.append(Problem(display, line, 1, f"item {i + 1}: {mapping.header(f)}: {exc}"))
        rows.append(_Row(line, cells, None if lines else i + 1))
    return rows


def _document_cell(value: Any) -> str | list[str]:
    """A JSON or YAML export's value as the text a CSV cell would hold: text, a whole
    number, or a list of those. Anything else is refused, never dropped or reshaped."""
    if isinstance(value, list):
        return [_scalar(v, "an item of the list") for v in value]
    return _scalar(value, "the value")


def _scalar(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        # 1.10 read as a number is 1.1: the export would say another version than it meant.
        raise ValueError(f'{what} is a number with a fraction; write it as text ("1.10")')
    kind = (
        "true or false" if isinstance(value, bool)
        else "an object" if isinstance(value, dict)
        else "a list" if isinstance(value, list)
        else "a date" if isinstance(value, date)
        else f"a {type(value).__name__}"
    )  # fmt: skip
    raise ValueError(f"{what} is {kind}; expected text, a whole number or a list of those")


class _JsonRefused(ValueError):
    """What the JSON reader refuses beyond the grammar: okectl reads JSON as RFC 8259 says."""


def _json_constant(name: str) -> Any:
    raise _JsonRefused(f"{name} is not a JSON value")


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise _JsonRefused(f"a number of {len(text)} digits is not a value of an export")
    return int(text)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Which of the two a reader takes is not said anywhere: a contradiction.
            raise _JsonRefused(f"the key {json.dumps(key)[:80]} appears twice in one object")
        out[key] = value
    return out


def _load_json(text: str, display: str) -> Any:
    try:
        return json.loads(
            text, parse_constant=_json_constant, parse_int=_json_int, object_pairs_hook=_json_object
        )
    except json.JSONDecodeError as exc:
        raise ExportError([Problem(display, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}")]) from None
    except _JsonRefused as exc:
        raise ExportError([Problem(display, 1, 1, f"not an export: {exc}")]) from None
    except RecursionError:
        raise ExportError([Problem(display, 1, 1, "nested too deeply to be an export")]) from None


def _cell(field: str, value: Any, mapping: ExportMapping) -> Any:
    words = mapping.values.get(field, {})  # type: ignore[call-overload]
    if field in ListField:
        items = value if isinstance(value, list) else str(value).split(mapping.list_separator)
        out = [words.get(s, s) for s in (str(v).strip() for v in items) if s]
        return [int(v) if field == "flows" and v.lstrip("-").isdigit() else v for v in out]
    text = str(value).strip()
    return words.get(text, text)


def _validated(model: type[BaseModel], values: Mapping[str, Any], row: _Row, where: str) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = ".".join(str(p) for p in err["loc"]) or "row"
        raise _RowProblem(Problem(where, row.line, 1, f"{row.at}{name}: {err['msg']}")) from None


class _RowProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def read_export(path: Path, mapping: ExportMapping, *, supplier: str, display: str | None = None) -> Export:
    """The export at ``path``, read with the supplier's mapping. ExportError lists every
    problem, each at its line."""
    shown = display or path.name
    raw = read_regular(path, what="the export", limit=MAX_EXPORT_BYTES)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    fmt = mapping.format or {".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(
        path.suffix.lower()
    )
    if fmt is None:
        raise ExportError(
            [Problem(shown, 1, 1, "unknown format; name the file .csv, .json or .yaml, or set export.format")]
        )
    problems: list[Problem] = []
    if fmt == "csv":
        rows = _csv_rows(_decode(raw, mapping.encoding, shown), mapping, shown, problems)
    elif fmt == "json":
        data = _load_json(_decode(raw, "utf-8", shown), shown)
        rows = _document_rows(data, mapping, shown, problems, lines=False)
    else:
        try:
            data = load_text(_decode(raw, "utf-8", shown), shown)
        except YamlError as exc:
            raise ExportError([exc.problem]) from None
        rows = _document_rows(data, mapping, shown, problems, lines=True)
    export = Export(shown, digest)
    lines: dict[Address, _Row] = {}
    for row in rows:
        try:
            address, spec = _resource(row, mapping, shown, supplier)
        except _RowProblem as exc:
            problems.append(exc.problem)
            continue
        if address in lines:
            first = lines[address].where
            problems.append(Problem(shown, row.line, 1, f"{row.at}{address} again (first at {first})"))
            continue
        lines[address] = row
        export.schools.setdefault(address.school, {})[address] = spec
    for address, row in sorted(lines.items(), key=lambda item: (item[1].line, item[1].item or 0)):
        parent = address.parent
        if parent is not None and parent not in lines:
            problems.append(
                Problem(
                    shown,
                    row.line,
                    1,
                    f"{row.at}{address}: its environment {parent.environment} is not in the export",
                )
            )
    if problems:
        raise ExportError(problems)
    present = set(_present_fields(rows))
    export.observable = frozenset(OBSERVABLE[f] for f in present if f in OBSERVABLE)
    return export


def _present_fields(rows: Iterable[_Row]) -> Iterable[str]:
    for row in rows:
        yield from row.cells


def _resource(row: _Row, mapping: ExportMapping, display: str, supplier: str) -> tuple[Address, Spec]:
    for f, value in row.cells.items():
        for text in value if isinstance(value, list) else [value]:
            if (char := _hidden(text)) is not None:
                raise _RowProblem(
                    Problem(
                        display,
                        row.line,
                        1,
                        f"{row.at}{mapping.header(f)}: holds a control or formatting character "
                        f"({char}); an exported value is plain text",
                    )
                )
    cells = {f: _cell(f, v, mapping) for f, v in row.cells.items()}
    key = _validated(
        _Key,
        {k: cells[k] for k in ("school", "environment", "kind", "name") if k in cells},
        row,
        display,
    )
    if key.kind != "environment" and key.name is None:
        raise _RowProblem(
            Problem(display, row.line, 1, f"{row.at}a {key.kind} needs its name ({mapping.header('name')})")
        )
    if key.kind == "environment":
        sso = {k: cells.get(f"sso_{k}") for k in ("mode", "federation", "schac_home")}
        values = {k: cells.get(k) for k in ("type", "status", "function", "oke_version", "ooapi_version")}
        env = _validated(
            RecordedEnvironment,
            {
                **_given(values),
                "flows": cells.get("flows", []),
                "sso": _given(sso) if any(sso.values()) else None,
            },
            row,
            display,
        )
        return Address(supplier, key.school, key.environment), environment_spec(env)
    if key.kind == "client":
        client_fields = _given({"client_id": cells.get("client_id"), "scopes": cells.get("scopes", [])})
        client = _validated(RecordedClient, client_fields, row, display)
        return Address(supplier, key.school, key.environment, "client", key.name), client_spec(client)
    role_fields = _given({"name": cells.get("role_name"), "groups": cells.get("groups", [])})
    role = _validated(RecordedRole, role_fields, row, display)
    return Address(supplier, key.school, key.environment, "role", key.name), role_spec(role)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The cells a row fills: an empty one leaves the model's default."""
    return {k: v for k, v in values.items() if v is not None}


# --- comparing with the record, and observing requests -----------------------------------


@dataclass(frozen=True)
class Difference:
    address: Address
    action: Literal["add", "remove", "change"]
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (path, recorded, exported)


@dataclass
class SchoolImport:
    school: str
    path: str
    differences: list[Difference]
    record: RecordedState
    # The record as it was before the import.
    before: RecordedState


@dataclass
class ExportImport:
    supplier: str
    source: str
    digest: str
    schools: list[SchoolImport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    written: bool = False

    @property
    def changed(self) -> list[SchoolImport]:
        return [s for s in self.schools if s.differences]


def _differences(recorded: Mapping[Address, Spec], exported: Mapping[Address, Spec]) -> list[Difference]:
    out: list[Difference] = []
    for address in sorted(set(recorded) | set(exported)):
        before, after = recorded.get(address), exported.get(address)
        if before is None:
            out.append(Difference(address, "add"))
        elif after is None:
            out.append(Difference(address, "remove"))
        else:
            b, a = flat(before), flat(after)
            fields = tuple((k, b.get(k), a.get(k)) for k in sorted(set(b) | set(a)) if b.get(k) != a.get(k))
            if fields:
                out.append(Difference(address, "change", fields))
    return out


@dataclass
class ExportSource:
    """A supplier's export as an observation: it lists everything the supplier has for
    each school it covers, so it shows every change of such a school's requests (a
    resource it lacks is gone), in the fields it has columns for."""

    export: Export
    header: dict[str, Any]

    @property
    def label(self) -> str:
        return self.export.display

    def seen(self, request: StoredRequest, change: RequestedChange) -> Seen | None:
        school = self.export.schools.get(request.status.school)
        if school is None:
            return None
        found = school.get(Address.parse(change.address))
        return Seen(_mismatches(change, found, self.export.observable), True, found)


def _mismatches(
    change: RequestedChange, found: Spec | None, observable: frozenset[str]
) -> list[dict[str, Any]]:
    """Where the export differs from what ``change`` asked for (observable fields only)."""
    if change.action == "delete":
        return [] if found is None else [{"address": change.address, "expected": None, "found": "present"}]
    if found is None:
        return [{"address": change.address, "expected": "present", "found": None}]
    want, got = flat(change.after), flat(found)
    return [
        {"address": change.address, "field": k, "expected": want.get(k), "found": got.get(k)}
        for k in sorted(want)
        if k in observable and want.get(k) != got.get(k)
    ]


def import_export(
    root: Path,
    state: DesiredState,
    supplier_id: str,
    file: Path,
    *,
    schools: set[str] | None = None,
    write: bool = False,
    today: date | None = None,
) -> ExportImport:
    """Compare a supplier's export with its record; with ``write``, replace the record of
    each school the export shows, then confirm or reopen the requests it observes.

    Records are written before any request's status: an interrupted run leaves requests
    as they were, and running it again finds the records current and observes the same."""
    supplier = _requests_supplier(state, supplier_id)
    settings = requests_settings(supplier)
    export = read_export(file, settings.export, supplier=supplier_id, display=file.name)
    day = today or clock.today()
    result = ExportImport(supplier_id, export.display, export.digest)
    connected = {code for code, s in state.schools.items() if supplier_id in s.connections}
    source = Provenance(date=day, export=export.display[:256], export_digest=export.digest)
    for code in sorted(export.schools):
        if schools is not None and code not in schools:
            export.schools.pop(code)
            continue
        if code not in connected:
            result.skipped.append(
                f"{supplier_id}/{code}: no connection to {supplier_id} in schools/{code}.yaml; "
                "add the connection, then import again"
            )
            export.schools.pop(code)
            continue
        loaded = load_record(root, supplier_id, code)
        record = loaded.record if loaded is not None else RecordedState(supplier=supplier_id, school=code)
        recorded = resources_of(record)
        exported = export.schools[code]
        differences = _differences(recorded, exported)
        updated = with_resources(
            record,
            [(a, exported.get(a)) for a in set(recorded) | set(exported)],
            source=source,
        )
        result.schools.append(
            SchoolImport(code, f"state/{supplier_id}/{code}.yaml", differences, updated, record)
        )
    requests, problems = list_requests(root, supplier=supplier_id)
    if problems:
        raise ValidationFailed(problems)
    header = {"kind": "export", "file": export.display, "digest": export.digest}
    header["observed_on"] = day.isoformat()
    # Which request each recorded value comes from: the records as they were before this import.
    by = {a: r for s in result.schools for a, r in confirmed_by(s.before).items()}
    observed = observe(requests, ExportSource(export, header), by)
    result.observations = [o for _, o in observed]
    if write:
        for school in result.changed:
            write_record(root, school.record)
        name = evidence_name("export", export.digest.removeprefix("sha256:"), day)
        for req, obs in observed:
            record_observation(root, req, obs, name, day)
        result.written = True
    return result


def _requests_supplier(state: DesiredState, supplier_id: str) -> Supplier:
    supplier = state.suppliers.get(supplier_id)
    if supplier is None:
        raise OkectlError(f"unknown supplier {supplier_id!r}; known: {', '.join(sorted(state.suppliers))}")
    if supplier.api is None or supplier.api.provider != "requests":
        kind = (
            "has no api: it is verified only"
            if supplier.api is None
            else f"has api.provider {supplier.api.provider}: its state is read from its API"
        )
        raise OkectlError(
            f"supplier {supplier_id} {kind}, not imported from an export "
            "(--from is for suppliers managed by change requests)"
        )
    return supplier
