"""What a message says about a value of the wrong shape, and which names it suggests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from okectl.config.hints import close_match
from okectl.config.models import NOT_MATCHING, Profile, RoleCatalogue, School, Supplier, VersionCatalogue
from okectl.config.policies import RuleSet, WaiverSet
from tests.support.cli import Problems
from tests.support.repos import BuildRepo, school_yaml


@pytest.mark.parametrize(
    ("written", "col"),
    # The last: Arabic-Indic digits, which a pattern's \d would take for digits.
    [('"1.O"', 18), ("1.O", 18), ('"1.0.x"', 18), ("'v1.0'", 18), ('"1..0"', 18), ('"\u0661.\u0660"', 18)],
)
def test_a_version_that_is_not_one_is_said_to_be_no_version_quoted_or_not(
    repo: BuildRepo, problems: Problems, written: str, col: int
) -> None:
    root = repo({"schools/99ZZ.yaml": school_yaml(oke_version=written)})
    value = written.strip("'\"")

    assert problems(root) == [
        f"schools/99ZZ.yaml:9:{col}: connections.delta.oke_version: {value!r} is not a version: "
        'write digits, e.g. "1.0"'
    ]


def test_every_value_of_the_wrong_shape_says_what_it_is_not_and_how_to_write_it(
    repo: BuildRepo, problems: Problems
) -> None:
    school = (
        school_yaml()
        .replace("schac_home: voorbeeld.nl", "schac_home: Voorbeeld.NL")
        .replace("profile: standard", "profile: Standard")
    )
    supplier = (
        "id: delta\nname: Delta\nroles: [ta]\nflows: [0, 2, 3, 4]\n"
        "role_names: {assessor: Beoordelaar}\nsupport: {email: support at delta}\n"
    )
    root = repo({"schools/99ZZ.yaml": school, "suppliers/delta.yaml": supplier})

    assert problems(root) == [
        "schools/99ZZ.yaml:4:13: schac_home: 'Voorbeeld.NL' is not a domain name: write it in lower case, "
        "e.g. school.nl",
        "schools/99ZZ.yaml:8:14: connections.delta.profile: 'Standard' is not a name okectl accepts: "
        "write lower-case letters, digits and dashes, e.g. delta-toets",
        "suppliers/delta.yaml:6:18: support.email: 'support at delta' is not an e-mail address: "
        "write name@domain, e.g. support@school.nl",
    ]


@pytest.mark.parametrize(
    "address", ["a,b@delta.example", "desk <desk@delta.example>", '"desk"@delta.example', "a;b@delta.example"]
)
def test_a_support_address_that_is_not_one_plain_address_is_refused_at_its_line(
    repo: BuildRepo, problems: Problems, address: str
) -> None:
    """A change request's e-mail goes to exactly this address: a list, a display name or
    a quoted local part would send it elsewhere, or to more recipients."""
    supplier = (
        "id: delta\nname: Delta\nroles: [ta]\nflows: [0, 2, 3, 4]\n"
        f"role_names: {{assessor: Beoordelaar}}\nsupport: {{email: '{address}'}}\n"
    )
    root = repo({"schools/99ZZ.yaml": school_yaml(), "suppliers/delta.yaml": supplier})

    assert problems(root) == [
        f"suppliers/delta.yaml:6:18: support.email: {address!r} is not an e-mail address: "
        "write name@domain, e.g. support@school.nl"
    ]


def _patterns(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _patterns(item)


def test_every_pattern_of_the_configuration_files_has_its_own_message() -> None:
    # A new constrained type without one falls back to its schema description, which is
    # written for editors, not for someone looking at a value that does not fit.
    found = {
        p
        for model in (School, Supplier, Profile, RoleCatalogue, VersionCatalogue, RuleSet, WaiverSet)
        for p in _patterns(model.model_json_schema())
    }

    assert found and found <= set(NOT_MATCHING)
    assert all(" quoted " not in message for message in NOT_MATCHING.values())


# The base school with its systems mistyped.
SYSTEMS_TYPO = school_yaml().replace(
    "systems: {sis: eduplan, tpl: eduplan}", "systems: {sis: eduplam, tpl: eduplam}"
)


def test_a_mistyped_system_is_never_suggested_back(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": SYSTEMS_TYPO})

    assert problems(root) == [
        "schools/99ZZ.yaml:5:16: unknown supplier 'eduplam': there is no suppliers/eduplam.yaml; "
        "did you mean 'eduplan'?",
        "schools/99ZZ.yaml:5:30: unknown supplier 'eduplam': there is no suppliers/eduplam.yaml; "
        "did you mean 'eduplan'?",
        # Not "did you mean 'eduplam'?": that is the typo the lines above point at.
        "schools/99ZZ.yaml:12:7: unknown system 'eduplan': not among this school's systems (eduplam); "
        "add it under systems or fix the name",
    ]


def test_a_mistyped_client_system_is_pointed_at_the_existing_one(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": SYSTEMS_TYPO.replace("eduplam", "eduplan").replace(
        "      eduplan:", "      edupaln:")})

    assert problems(root) == [
        "schools/99ZZ.yaml:12:7: unknown system 'edupaln': not among this school's systems (eduplan); "
        "did you mean 'eduplan'?",
    ]


def test_a_suggestion_is_never_what_was_written() -> None:
    assert close_match("eduplan", ["eduplan", "eduplam"]) == "eduplam"
    assert close_match("eduplan", ["eduplan"]) is None
    assert close_match("eduplan", []) is None
