"""Reading a configuration repository into validated models, collecting every problem."""

from __future__ import annotations

import os
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from okectl.config.calendar import Calendar
from okectl.config.hints import close_match, did_you_mean
from okectl.config.models import (
    NOT_MATCHING,
    Profile,
    RoleCatalogue,
    School,
    Supplier,
    VersionCatalogue,
)
from okectl.config.policies import RuleSet, WaiverSet
from okectl.config.record import RecordedState
from okectl.config.request_files import RequestDocument, RequestStatus
from okectl.config.rollout import Rollout
from okectl.config.yamlsource import YamlError, load_file, locate, raw_key, raw_text
from okectl.errors import Problem, RepositoryError, ValidationFailed

# Folder → (kind, model, the field that must equal the file name).
FOLDERS: dict[str, tuple[str, type[BaseModel], str]] = {
    "schools": ("school", School, "code"),
    "suppliers": ("supplier", Supplier, "id"),
    "environments": ("profile", Profile, "id"),
}
POLICY_FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "roles.yaml": ("roles", RoleCatalogue),
    "versions.yaml": ("versions", VersionCatalogue),
    "rules.yaml": ("rules", RuleSet),
    "waivers.yaml": ("waivers", WaiverSet),
    "calendar.yaml": ("calendar", Calendar),
    "rollout.yaml": ("rollout", Rollout),
}
SCHEMA_KINDS: dict[str, type[BaseModel]] = {
    "school": School,
    "supplier": Supplier,
    "profile": Profile,
    "roles": RoleCatalogue,
    "versions": VersionCatalogue,
    "rules": RuleSet,
    "waivers": WaiverSet,
    "calendar": Calendar,
    "rollout": Rollout,
    # Files okectl keeps for suppliers it manages by change requests.
    "state": RecordedState,
    "request": RequestDocument,
    "request-status": RequestStatus,
}
YAML_SUFFIXES = (".yaml", ".yml")
M = TypeVar("M", bound=BaseModel)


@dataclass(slots=True)
class Source:
    path: str
    data: Any


@dataclass
class DesiredState:
    """The validated desired state of one repository, with where each part came from."""

    root: Path
    schools: dict[str, School] = field(default_factory=dict)
    suppliers: dict[str, Supplier] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    roles: RoleCatalogue | None = None
    versions: VersionCatalogue | None = None
    rules: RuleSet | None = None
    waivers: WaiverSet | None = None
    calendar: Calendar | None = None
    rollout: Rollout | None = None
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)
    # (kind, id) of files that exist but did not load: a reference to one is not reported
    # as unknown, since the file's own problems already are.
    unparsed: set[tuple[str, str]] = field(default_factory=set)

    def source(self, kind: str, ident: str) -> Source | None:
        return self.sources.get((kind, ident))

    def problem(
        self, kind: str, ident: str, loc: tuple[Any, ...], message: str, *, key: bool = False
    ) -> Problem:
        """A problem located at ``loc`` inside the file that defines (kind, ident)."""
        src = self.sources.get((kind, ident))
        if src is None:
            return Problem(f"<{kind} {ident}>", 1, 1, message)
        line, col = locate(src.data, loc, key=key)
        return Problem(src.path, line, col, message)

    def position(self, kind: str, ident: str, loc: tuple[Any, ...]) -> tuple[str, int, int]:
        src = self.sources.get((kind, ident))
        if src is None:
            return (f"<{kind} {ident}>", 1, 1)
        return (src.path, *locate(src.data, loc))


def check_file(path: Path, root: Path, display: str) -> Problem | None:
    """Why ``path`` cannot be read as a configuration file, or None when it is a regular
    file inside the repository (links followed) or does not exist at all.

    A file that is there but cannot be read must never count as absent: a broken link in
    schools/ would otherwise validate as one school fewer, and plan would delete its
    environments."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Problem(display, 1, 1, f"cannot read this file: {exc.strerror}")
    if stat.S_ISLNK(info.st_mode):
        try:
            info = os.stat(path)
        except OSError:
            target = os.readlink(path)
            return Problem(
                display, 1, 1, f"is a link to {target}, which does not exist; restore it or remove the link"
            )
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        return Problem(display, 1, 1, f"cannot read this file: {getattr(exc, 'strerror', None) or exc}")
    if real != root and root not in real.parents:
        return Problem(
            display, 1, 1,
            f"leads outside the repository (to {real}); okectl reads configuration only from inside it",
        )
    if stat.S_ISDIR(info.st_mode):
        return Problem(display, 1, 1, "is a folder, not a YAML file; rename or remove it")
    if not stat.S_ISREG(info.st_mode):
        return Problem(
            display, 1, 1, "is not a regular file (a FIFO, socket or device); okectl reads only regular files"
        )
    if not os.access(path, os.R_OK):
        return Problem(display, 1, 1, "cannot read this file: permission denied")
    return None


def _yaml_files(folder: Path, root: Path, problems: list[Problem]) -> list[Path]:
    """The YAML files of one folder; anything named like one that cannot be read as one
    is a problem, never skipped."""
    display = folder.relative_to(root).as_posix() + "/"
    if not os.path.lexists(folder):
        return []
    real = folder.resolve()
    if real != root and root not in real.parents:
        problems.append(
            Problem(display, 1, 1, f"leads outside the repository (to {real}); okectl reads only inside it")
        )
        return []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        why = "it is not a folder" if isinstance(exc, NotADirectoryError) else exc.strerror
        problems.append(Problem(display, 1, 1, f"cannot read this folder: {why}"))
        return []
    files: list[Path] = []
    for entry in entries:
        if not entry.name.endswith(YAML_SUFFIXES):
            continue
        path = Path(entry.path)
        if entry.is_file(follow_symlinks=False) and os.access(path, os.R_OK):
            # A regular file, not a link, in a folder already known to be inside the
            # repository: nothing more to resolve (scandir knows its type already).
            files.append(path)
            continue
        problem = check_file(path, root, path.relative_to(root).as_posix())
        if problem is not None:
            problems.append(problem)
        else:
            files.append(path)
    return files


def load_state(root: Path) -> DesiredState:
    """Load and validate every file; raises ValidationFailed listing all problems."""
    state, problems = load_state_partially(root)
    if problems:
        raise ValidationFailed(problems)
    return state


def load_state_partially(root: Path) -> tuple[DesiredState, list[Problem]]:
    """Every file that loads, and the problems of those that do not, so that checks
    across files can run on what loaded and a single run reports every problem."""
    root = root.resolve()
    if not root.is_dir():
        raise RepositoryError(f"{root}: not a directory; pass the repository with --repo DIR")
    if not any((root / name).is_dir() for name in (*FOLDERS, "policies")):
        raise RepositoryError(
            f"{root}: no schools/, suppliers/, environments/ or policies/ folder here; "
            "pass the configuration repository with --repo DIR"
        )
    state = DesiredState(root=root)
    problems: list[Problem] = []

    for folder, (kind, model, id_field) in FOLDERS.items():
        target: dict[str, Any] = getattr(state, f"{kind}s")
        for file in _yaml_files(root / folder, root, problems):
            display = file.relative_to(root).as_posix()
            parsed = parse_file(file, display, model, problems)
            stem = file.name.rsplit(".", 1)[0]
            if parsed is None:
                state.unparsed.add((kind, stem))
                continue
            obj, data = parsed
            ident = getattr(obj, id_field)
            if stem != ident:
                state.unparsed.update({(kind, stem), (kind, ident)})
                line, col = locate(data, (id_field,))
                problems.append(
                    Problem(
                        display,
                        line,
                        col,
                        f"{id_field} {ident!r} does not match the file name; "
                        f"rename the file to {ident}{file.suffix} or set {id_field}: {stem}",
                    )
                )
                continue
            if ident in target:
                problems.append(Problem(display, 1, 1, f"{kind} {ident!r} is defined twice; keep one file"))
                continue
            target[ident] = obj
            state.sources[(kind, ident)] = Source(display, data)

    policy_dir = root / "policies"
    for file in _yaml_files(policy_dir, root, problems):
        display = file.relative_to(root).as_posix()
        name = file.name if file.suffix == ".yaml" else file.stem + ".yaml"
        if name not in POLICY_FILES:
            hint = close_match(name, POLICY_FILES)
            problems.append(
                Problem(
                    display,
                    1,
                    1,
                    f"unknown policy file; expected one of {', '.join(POLICY_FILES)}"
                    + (f" (did you mean {hint}?)" if hint else ""),
                )
            )
            continue
        attr, model = POLICY_FILES[name]
        parsed = parse_file(file, display, model, problems)
        if parsed is not None:
            setattr(state, attr, parsed[0])
            state.sources[("policy", attr)] = Source(display, parsed[1])
        else:
            state.unparsed.add(("policy", attr))
    return state, problems


def parse_file(
    file: Path, display: str, model: type[M], problems: list[Problem], *, not_mapping: str | None = None
) -> tuple[M, Any] | None:
    """``file`` as ``model``, with the data it was read from (for positions); None, with
    its problems added to ``problems``, when it is not YAML or not a valid ``model``.
    ``not_mapping`` says what was expected when the top level is no mapping."""
    try:
        data = load_file(file, display)
    except YamlError as exc:
        problems.append(exc.problem)
        return None
    if not isinstance(data, dict):
        message = not_mapping or f"expected a mapping of fields at the top level, got {_kind(data)}"
        problems.append(Problem(display, 1, 1, message))
        return None
    try:
        return model.model_validate(data), data
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, display, data, model))
        return None


# --- turning pydantic errors into messages a user can act on ------------------------

_TYPE_NAMES = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)",
    "int_from_float": "a whole number",
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return type(value).__name__


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that the mapping at ``loc`` is validated against."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(part))
            if info is None:
                return None
            tp = info.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field_description(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    if not loc:
        return None
    parent = _model_at(model, loc[:-1])
    if parent is None:
        return None
    info = parent.model_fields.get(str(loc[-1]))
    if info is None:
        return None
    if info.description:
        return info.description
    for meta in info.metadata:
        desc = getattr(meta, "description", None)
        if desc:
            return str(desc)
    ann = info.annotation
    for arg in typing.get_args(ann):
        for meta in getattr(arg, "__metadata__", ()):
            desc = getattr(meta, "description", None)
            if desc:
                return str(desc)
    return None


def _quote_hint(raw: str | None, value: Any) -> str:
    text = raw if raw is not None else str(value)
    return f'quote it: "{text}"'


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _is_version_field(name: str) -> bool:
    return "version" in name or name in ("oke", "ooapi")


def _misspelt_required(
    errors: list[Any], model: type[BaseModel]
) -> tuple[set[tuple[Any, ...]], dict[tuple[Any, ...], str]]:
    """Required fields that are missing because an unknown field is a misspelling of them.

    One typo then gives one message ("did you mean 'name'?") instead of two.
    """
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    covered: set[tuple[Any, ...]] = set()
    suggestion: dict[tuple[Any, ...], str] = {}
    for err in errors:
        if err["type"] != "extra_forbidden":
            continue
        loc = tuple(err["loc"])
        parent = _model_at(model, loc[:-1])
        if parent is None:
            continue
        absent = [f for f in parent.model_fields if (*loc[:-1], f) in missing]
        close = close_match(str(loc[-1]), absent)
        if close is not None:
            covered.add((*loc[:-1], close))
            suggestion[loc] = close
    return covered, suggestion


def problems_from_validation(
    exc: ValidationError, display: str, data: Any, model: type[BaseModel]
) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[int, int, str]] = set()
    errors = exc.errors(include_url=False, include_input=True)
    covered, suggestion = _misspelt_required(list(errors), model)
    for err in errors:
        loc = tuple(err["loc"])
        etype = err["type"]
        value = err.get("input")
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        if any(part in ("secret", "client_secret") for part in loc) and etype not in (
            "literal_secret", "secret_ref", "extra_forbidden", "missing",
        ):
            # Whatever was written under a secret reference may be the secret itself.
            line, col = locate(data, loc)
            msg = (
                f"{_dotted(loc)}: not a valid secret reference; write {{env: VARIABLE}} "
                "(letters, digits and _) or {file: PATH}"
            )
            if (line, col, msg) not in seen:
                seen.add((line, col, msg))
                out.append(Problem(display, line, col, msg))
            continue
        name = str(loc[-1]) if loc else "file"
        where = _dotted(loc) if loc else "file"
        if etype == "extra_forbidden":
            line, col = locate(data, loc, key=True)
            parent = _model_at(model, loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            close = close_match(name, allowed)
            if loc in suggestion:
                msg = f"unknown field {name!r}; did you mean {suggestion[loc]!r}? (it is required)"
            elif close is not None:
                msg = f"unknown field {name!r}; did you mean {close!r}?"
            else:
                msg = f"unknown field {name!r}; allowed here: {', '.join(allowed)}"
        elif etype == "missing":
            if loc in covered:
                continue
            line, col = locate(data, loc[:-1])
            msg = f"missing required field {name!r}; add it"
            if len(loc) > 1:
                msg += f" to {_dotted(loc[:-1])}"
        elif etype == "literal_secret" or etype == "secret_ref":
            line, col = locate(data, loc)
            msg = f"{where}: {err['msg']}"
        elif is_key:
            line, col = locate(data, loc, key=True)
            raw = raw_key(data, loc)
            parent_where = _dotted(loc[:-1]) if len(loc) > 1 else "file"
            if raw is not None:
                msg = (
                    f"{parent_where}: YAML reads the key {raw} as {_kind(value)}; "
                    f"keys here are text, {_quote_hint(raw, value)}"
                )
            else:
                msg = f"{parent_where}: key {value!r} is not valid here: {_lower(err['msg'])}"
        elif etype == "string_type" and value is not None and raw_text(data, loc) is not None:
            # A plain scalar YAML turned into a number, boolean or date: quoting keeps the text.
            line, col = locate(data, loc)
            raw = raw_text(data, loc)
            if _is_version_field(name) and isinstance(value, (int, float)) and not isinstance(value, bool):
                msg = (
                    f"{where}: YAML reads {raw} as {_kind(value)}; "
                    f"versions are text, {_quote_hint(raw, value)}"
                )
            else:
                msg = f"{where}: expected text, got {_kind(value)}; {_quote_hint(raw, value)}"
        elif etype in _RANGE_ERRORS:
            line, col = locate(data, loc)
            desc = _field_description(model, loc)
            if desc is None and isinstance(loc[-1], int):
                desc = _field_description(model, loc[:-1])
            msg = f"{where}: {value} is out of range; " + (
                f"expected {_lower(desc)}" if desc else _lower(err["msg"])
            )
        elif etype in ("too_short", "too_long"):
            line, col = locate(data, loc)
            ctx = err.get("ctx", {})
            has = ctx.get("actual_length")
            if etype == "too_short":
                msg = f"{where}: needs at least {_entries(ctx.get('min_length'))}, has {has}"
            else:
                msg = f"{where}: allows at most {_entries(ctx.get('max_length'))}, has {has}"
        elif etype in _TYPE_NAMES:
            line, col = locate(data, loc)
            msg = f"{where}: expected {_TYPE_NAMES[etype]}, got {_kind(value)}"
            if value is None:
                msg += "; fill in a value or remove the line"
        elif etype == "literal_error":
            line, col = locate(data, loc)
            expected = err.get("ctx", {}).get("expected", "")
            options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
            raw = raw_text(data, loc)
            if raw is not None and raw in options:
                # YAML 1.1 reads off/no/yes as booleans: the word was right, it needs quotes.
                msg = f"{where}: YAML reads {raw} as {_kind(value)}; {_quote_hint(raw, value)}"
            else:
                msg = f"{where}: {value!r} is not one of {', '.join(o for o in options if o)}"
                msg += did_you_mean(str(value), [o for o in options if o])
        elif etype == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") in NOT_MATCHING:
            line, col = locate(data, loc)
            msg = f"{where}: {value!r} is {NOT_MATCHING[err['ctx']['pattern']]}"
        elif etype == "string_pattern_mismatch":
            line, col = locate(data, loc)
            desc = _field_description(model, loc)
            if desc is None and isinstance(loc[-1], int):
                desc = _field_description(model, loc[:-1])
            msg = f"{where}: {value!r} is not valid" + (f"; expected {_lower(desc)}" if desc else "")
        else:
            line, col = locate(data, loc)
            msg = f"{where}: {_lower(err['msg'])}"
        marker = (line, col, msg)
        if marker in seen:
            continue
        seen.add(marker)
        out.append(Problem(display, line, col, msg))
    return out


def _entries(n: Any) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
            continue
        text = str(part)
        # A key like "1.0" would read as two steps of the path.
        if "." in text or " " in text:
            text = f'"{text}"'
        out += f".{text}" if out else text
    return out


def _lower(text: str) -> str:
    # Keep acronyms such as "OKE" as written.
    if not text or text[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]
