"""The wire documents of the admin API: decoding a supplier's answers into resources.

Everything a supplier sends is hostile input: names are checked as whole strings against
what the API allows, and a problem document is cut down to what is safe to show.
"""

from __future__ import annotations

import gc
import json as jsonlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from okectl.model.resources import READ_ONLY_FIELDS, WIRE_FIELDS, ActualResource, Address


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a synchronous burst of allocations.

    Decoding a fleet's resources allocates tens of thousands of acyclic dicts; left on, the
    collector would run full passes over everything the process holds (the whole desired
    state) several times over, which costs more than the decoding itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class Malformed(Exception):
    """A supplier document of the wrong shape (turned into a ProviderError)."""


def text_field(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"a {item.get('kind')} has no {key}")
    return value


# What the API allows in a path (admin-api.yaml), as whole strings.
SCHOOL_PATTERN = re.compile(r"[0-9]{2}[A-Z]{2}")


NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


# An ETag goes back in If-Match: printable ASCII only, and never "*" (that would match
# whatever the supplier holds by then).
ETAG_PATTERN = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,1023}")


# Per pattern, whether a value fits it: names repeat across a fleet (production,
# acceptance, …), so each is checked once.
_fits_cache: dict[re.Pattern[str], dict[str, bool]] = {}


def fits(pattern: re.Pattern[str], value: str) -> bool:
    known = _fits_cache.get(pattern)
    if known is None:
        known = _fits_cache[pattern] = {}
    found = known.get(value)
    if found is None:
        found = pattern.fullmatch(value) is not None
        if len(known) < 100_000:
            known[value] = found
    return found


def name_field(item: dict[str, Any], key: str) -> str:
    """A name as the supplier gave it when it is text, else its JSON form in parentheses,
    which no name okectl can address has (see why_unaddressable): 42 is not "42". A
    missing name breaks the API's contract: the document is malformed."""
    if key not in item:
        raise Malformed(f"a {item.get('kind')} has no {key}")
    value = item[key]
    return value if isinstance(value, str) else f"({jsonlib.dumps(value)})"


def shown(value: str) -> str:
    """A supplier's name, safe to print: escaped, on one line, short."""
    text = jsonlib.dumps(value)[1:-1].replace("/", "\\u002f")
    return text if len(text) <= 80 else text[:79] + "…"


def why_unaddressable(address: Address, etag: str) -> str | None:
    # The common case first, on plain strings and without building anything: this runs
    # once per resource of the fleet on every plan.
    if (
        fits(SCHOOL_PATTERN, address.school)
        and fits(NAME_PATTERN, address.environment)
        and (address.kind == "environment" or fits(NAME_PATTERN, address.name))
        and etag != "*"
        and ETAG_PATTERN.fullmatch(etag) is not None
    ):
        return None
    parts = [
        ("school code", address.school, SCHOOL_PATTERN),
        ("environment name", address.environment, NAME_PATTERN),
    ]
    if address.kind != "environment":
        parts.append((f"{address.kind} name", address.name, NAME_PATTERN))
    for what, value, pattern in parts:
        if not fits(pattern, value):
            return f'its {what} "{shown(value)}" is not one okectl can address'
    return "its ETag cannot be sent back to the supplier"


def escaped(address: Address) -> Address:
    return Address(
        address.supplier,
        shown(address.school),
        shown(address.environment),
        address.kind,
        shown(address.name),
    )


# How much of what a supplier says about a failure is shown or journaled: enough to act on,
# never a whole echoed request.
MAX_DETAIL_CHARS = 300


_CONTROL = dict.fromkeys([*range(0x20), 0x7F], " ")


def reason_phrase(status: int) -> str:
    # The standard phrase of the status, never the one on the wire: a supplier chooses that.
    import httpx  # only for a failed answer, which went through httpx or is rare

    return httpx.codes.get_reason_phrase(status) or "unknown status"


def problem_detail(status: int, content: bytes, scrub: Callable[[str], str]) -> str:
    """What a failed answer (its status and body) says, reduced to its problem document's ``title`` and
    ``detail`` (RFC 9457; the status is shown beside it), on one line and truncated.
    Anything else in the body (the echoed request, a stack trace) is never shown.

    ``scrub`` (a Scrubber of what was sent) runs before the text is cut: a cut through an
    echoed secret would leave a part no scrubber recognises."""
    try:
        data = jsonlib.loads(content)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        return reason_phrase(status)
    if not isinstance(data, dict):
        return reason_phrase(status)
    parts: list[str] = []
    for key in ("title", "detail", "error_description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip() and value.strip() not in parts:
            parts.append(value.strip())
    text = " ".join(scrub(": ".join(parts)).translate(_CONTROL).split()) if parts else reason_phrase(status)
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 1].rstrip() + "…"
    return text


def scope_tenants(scope: Any) -> frozenset[str] | None:
    """The tenants an OAuth scope names (``tenant:21RC tenant:23KM``, ``tenant:*``); None
    when it names none, so nothing can be concluded from it."""
    if not isinstance(scope, str):
        return None
    tenants = frozenset(p[len("tenant:"):] for p in scope.split() if p.startswith("tenant:"))
    return tenants or None


def decode_resource(item: Any, supplier: str) -> ActualResource:
    """A resource document of the admin API as okectl sees it; Malformed when it breaks the
    contract. A name okectl cannot address is listed (unmanaged, with the reason), never
    written: one odd name at a supplier must not stop every plan of it."""
    # Written out per kind: this runs once per resource of the fleet on every plan.
    if type(item) is not dict:
        raise Malformed("a resource is not an object")
    get = item.get
    kind = get("kind")
    if kind == "environment":
        addr = Address(supplier, name_field(item, "tenant"), name_field(item, "name"))
    elif kind in ("client", "role"):
        addr = Address(
            supplier,
            name_field(item, "tenant"),
            name_field(item, "environment"),
            kind,
            name_field(item, kind) if kind == "role" else name_field(item, "system"),
        )
    else:
        raise Malformed("a resource has no known kind (environment, client or role)")
    spec = {f: get(f) for f in WIRE_FIELDS[kind]}
    if kind == "client":
        spec["secret_fingerprint"] = get("secret_fingerprint")
    extra = {f: get(f) for f in READ_ONLY_FIELDS[kind]}
    etag = text_field(item, "etag")
    labels = get("labels") or {}
    if type(labels) is not dict:
        raise Malformed(f"labels of {addr} is not an object")
    why = why_unaddressable(addr, etag)
    if why is not None:
        return ActualResource(escaped(addr), spec, etag, labels, extra, unaddressable=why)
    return ActualResource(addr, spec, etag, labels, extra)
