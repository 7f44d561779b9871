"""Validating answers against a profile: JSON Schema, consumer extensions, date-times.

Instances are validated directly against the loaded (possibly cyclic) schema objects:
jsonschema only follows the schema as deep as the finite instance goes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from okectl.model.oke import CONSUMER_KEY

MAX_MESSAGE = 240
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(?P<offset>Z|z|[+-]\d{2}:\d{2})?$")


def where(path: Any) -> str:
    """A JSON path as ``items[0].name``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the body"


Clean = Callable[[str], str]


def _as_is(text: str) -> str:
    return text


def _short(error: ValidationError, clean: Clean) -> str:
    message = error.message
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = best_match(error.context)
        message = f"{deepest.message} (in no single {error.validator} branch)"
    # Cleaned whole before it is cut: messages quote the answer, and a cut through a
    # secret would leave part of it.
    text = clean(f"{where(error.absolute_path)}: {message}")
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def schema_errors(
    schema: Any, instance: Any, *, draft2020: bool = False, limit: int = 5, clean: Clean = _as_is
) -> list[str]:
    """Up to ``limit`` messages, each naming where in the instance it went wrong, passed
    through ``clean`` (the run's secrets removed) before they are cut short."""
    validator = (Draft202012Validator if draft2020 else Draft4Validator)(schema)
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    return [_short(e, clean) for e in errors[:limit]]


def _walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, (*path, i))


def date_times_without_offset(instance: Any) -> list[str]:
    """Date-times that do not say their offset from UTC (OKE requires one)."""
    out: list[str] = []
    for path, value in _walk(instance):
        if isinstance(value, str):
            match = _DATE_TIME.match(value)
            if match and not match.group("offset"):
                out.append(f"{where(path)} {value!r} has no UTC offset")
    return out


def consumer_problems(item: Any, path: tuple[Any, ...] = ()) -> list[str]:
    """Consumer blocks that are not OKE's: the extension travels under ``nl-test-admin``
    exactly (lower case since 0.9.3)."""
    out: list[str] = []
    for where_, value in _walk(item, path):
        if not (where_ and where_[-1] == "consumers" and isinstance(value, list)):
            continue
        keys = [c.get("consumerKey") for c in value if isinstance(c, dict)]
        if keys and CONSUMER_KEY not in keys:
            out.append(
                f"{where(where_)} carries consumerKey {', '.join(repr(k) for k in keys)}, "
                f"not {CONSUMER_KEY!r}"
            )
    return out


def _extension_schema(consumers_schema: Any) -> Any:
    """The consumer extension among a ``consumers`` array's item schemas: the richest
    branch (the generic one only knows ``consumerKey``)."""
    items = consumers_schema.get("items") if isinstance(consumers_schema, dict) else None
    if not isinstance(items, dict):
        return None
    branches = items.get("anyOf") or items.get("oneOf") or [items]
    richest = max(branches, key=lambda b: len(b.get("properties", {})) if isinstance(b, dict) else 0)
    return richest if isinstance(richest, dict) and len(richest.get("properties", {})) > 1 else None


def extension_errors(schema: Any, instance: Any, limit: int = 5, clean: Clean = _as_is) -> list[str]:
    """Each ``nl-test-admin`` consumer block validated against the profile's OKE extension
    for its place (``offeringState``, ``attendance``, …). A plain schema check cannot see
    these: every ``consumers`` array also accepts a generic block with only a key.

    Walks the schema along the (finite) instance, so cyclic schemas are no problem."""
    out: list[str] = []

    def descend(node: Any, value: Any, path: tuple[Any, ...], depth: int) -> None:
        if len(out) >= limit or depth > 60 or not isinstance(node, dict):
            return
        for part in node.get("allOf") or []:
            descend(part, value, path, depth + 1)
        for key in ("oneOf", "anyOf"):
            branches = node.get(key)
            if branches:
                chosen = next((b for b in branches if Draft4Validator(b).is_valid(value)), None)
                if chosen is not None:
                    descend(chosen, value, path, depth + 1)
        if isinstance(value, dict):
            props = node.get("properties") or {}
            for name, item in value.items():
                sub = props.get(name)
                if sub is None:
                    continue
                if name == "consumers" and isinstance(item, list):
                    ext = _extension_schema(sub)
                    for i, block in enumerate(item):
                        if (
                            ext is None
                            or not isinstance(block, dict)
                            or block.get("consumerKey") != CONSUMER_KEY
                        ):
                            continue
                        for message in schema_errors(ext, block, limit=limit, clean=clean):
                            inner = message.removeprefix("the body: ")
                            out.append(f"{where((*path, name, i))} (the {CONSUMER_KEY} extension): {inner}")
                else:
                    descend(sub, item, (*path, name), depth + 1)
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for i, item in enumerate(value):
                descend(node["items"], item, (*path, i), depth + 1)

    descend(schema, instance, (), 0)
    return out[:limit]


KEPT_STRING = 80
KEPT_ITEMS = 3
KEPT_DEPTH = 6


def _properties(schema: Any, depth: int = 0) -> dict[str, Any]:
    """Every property a schema defines, through allOf/anyOf/oneOf."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    out: dict[str, Any] = {}
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            for name, sub in _properties(branch, depth + 1).items():
                out.setdefault(name, sub)
    props = schema.get("properties")
    if isinstance(props, dict):
        out.update(props)
    return out


def _items(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 8:
        return None
    if isinstance(schema.get("items"), dict):
        return schema["items"]
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            found = _items(branch, depth + 1)
            if found is not None:
                return found
    return None


def kept_fields(schema: Any, instance: Any, depth: int = 0, clean: Clean = _as_is) -> Any:
    """What evidence keeps of an answer: only the fields the profile's schema defines,
    strings cleaned and then cut to a few dozen characters, lists to their first items, so
    a supplier's text reaches the evidence only where the profile gives it a place, and
    briefly."""
    if isinstance(instance, str):
        instance = clean(instance)
        return instance if len(instance) <= KEPT_STRING else instance[:KEPT_STRING] + "…"
    if isinstance(instance, bool | int | float) or instance is None:
        return instance
    if depth >= KEPT_DEPTH:
        return "…"
    if isinstance(instance, list):
        sub = _items(schema)
        kept = [kept_fields(sub, item, depth + 1, clean) for item in instance[:KEPT_ITEMS]]
        if len(instance) > KEPT_ITEMS:
            kept.append(f"… {len(instance) - KEPT_ITEMS} more")
        return kept
    if isinstance(instance, dict):
        props = _properties(schema)
        return {
            str(name): kept_fields(props[name], value, depth + 1, clean)
            for name, value in instance.items()
            if name in props
        }
    return None
