"""What the sandbox's OKE environments serve: the synthetic data per OKE version and the
operation templates it is addressed by."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from okectl.model.oke import OPERATIONS

PAGE_SIZES = (10, 20, 50, 100, 250)
# More than the smallest page, so a listing takes two pages at pageSize=10.
COLLECTION_SIZE = 12

# Which field each fault removes, per kind: one the profile requires.
MISSING_FIELD: dict[str, str] = {
    "component": "name",
    "offering": "name",
    "association": "role",
    "programme_association": "role",
    "person": "surname",
    "group": "name",
    "member": "personId",
    "organization": "name",
}
# The one document (a sitting's report) each environment holds: documents have no listing.
DOCUMENT_ID = "5e55a0e1-0000-4000-8000-000000000001"
WRONG_CONSUMER_KEY = "NL-TEST-ADMIN"  # as written before 0.9.3 made consumer keys lower case
ID_FIELD = {
    "offerings": "offeringId",
    "associations": "associationId",
    "persons": "personId",
    "groups": "groupId",
}
SINGULAR = {"offerings": "offering", "associations": "association", "persons": "person", "groups": "group"}


@cache
def fixtures(oke_version: str) -> dict[str, Any]:
    """The synthetic representations served at an OKE version."""
    name = f"oke-{oke_version}.json"
    try:
        text = (resources.files("okectl.sandbox.oke") / "data" / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        text = (resources.files("okectl.sandbox.oke") / "data" / "oke-1.0.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def nth_id(base: str, n: int) -> str:
    # The first item keeps the fixture's id; the others vary its last digits.
    return base if n == 0 else base[:-4] + f"{n:04x}"


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile("^" + pattern + "$")


TEMPLATES: dict[str, re.Pattern[str]] = {op.path: _template_regex(op.path) for op in OPERATIONS}
