"""Files that are YAML but not what okectl expects: unknown fields, wrong types, numbers as versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cli import Problems
from tests.support.repos import BuildRepo, school_yaml


def test_unknown_field_close_to_a_known_one(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "suppliers/delta.yaml": """
                id: delta
                name: Delta
                roles: [ta]
                flows: [0, 2, 3, 4]
                role_name: {assessor: Beoordelaar}
                """
        }
    )
    assert problems(root) == [
        "suppliers/delta.yaml:5:1: unknown field 'role_name'; did you mean 'role_names'?"
    ]


def test_misspelt_required_field_is_one_problem_not_two(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"suppliers/delta.yaml": "id: delta\nnmae: Delta\nroles: [ta]\nflows: [0, 2, 3, 4]\n"})
    assert problems(root) == [
        "suppliers/delta.yaml:2:1: unknown field 'nmae'; did you mean 'name'? (it is required)"
    ]


def test_unknown_field_lists_what_is_allowed(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "environments/standard.yaml": """
                id: standard
                environments:
                  production: {type: production, colour: blue}
                """
        }
    )
    assert problems(root) == [
        "environments/standard.yaml:3:34: unknown field 'colour'; allowed here: protect, sso, status, type"
    ]


def test_missing_required_field(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nname: Standard\n"})
    assert problems(root) == ["environments/standard.yaml:1:1: missing required field 'environments'; add it"]


def test_missing_required_field_in_a_nested_mapping(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {"environments/standard.yaml": "id: standard\nenvironments:\n  production: {sso: optional}\n"}
    )
    assert problems(root) == [
        "environments/standard.yaml:3:15: missing required field 'type'; add it to environments.production"
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("roles: ta\nflows: [0, 2, 3, 4]", "suppliers/delta.yaml:3:8: roles: expected a list, got text"),
        (
            "roles: [ta]\nflows: [zero]",
            "suppliers/delta.yaml:4:9: flows[0]: expected a whole number, got text",
        ),
        (
            "roles: [ta]\nflows: [0, 2, 3, 4]\napi: {limits: {concurrency: many}}",
            "suppliers/delta.yaml:5:29: api.limits.concurrency: expected a whole number, got text",
        ),
        (
            "roles: [ta]\nflows: [0, 2, 3, 4]\nsupport: yes",
            "suppliers/delta.yaml:5:10: support: expected a mapping, got true (true/false)",
        ),
    ],
    ids=["list", "int-in-list", "nested-int", "mapping"],
)
def test_wrong_type(repo: BuildRepo, problems: Problems, line: str, message: str) -> None:
    root = repo({"suppliers/delta.yaml": f"id: delta\nname: Delta\n{line}\n"})
    assert problems(root) == [message]


def test_number_where_text_is_expected_says_to_quote_it(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"suppliers/delta.yaml": "id: delta\nname: 2025\nroles: [ta]\nflows: [0, 2, 3, 4]\n"})
    assert problems(root) == [
        'suppliers/delta.yaml:2:7: name: expected text, got the number 2025; quote it: "2025"'
    ]


def test_empty_value_where_text_is_expected(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"suppliers/delta.yaml": "id: delta\nname:\nroles: [ta]\nflows: [0, 2, 3, 4]\n"})
    assert problems(root) == [
        "suppliers/delta.yaml:2:6: name: expected text, got nothing (null); "
        "fill in a value or remove the line"
    ]


def test_value_not_among_the_choices(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school_yaml(federation="surfconnext")})
    assert problems(root) == [
        "schools/99ZZ.yaml:3:13: federation: 'surfconnext' is not one of surfconext, entree; "
        "did you mean 'surfconext'?"
    ]


def test_choice_that_yaml_reads_as_a_boolean_says_to_quote_it(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {"environments/standard.yaml": "id: standard\nenvironments:\n  test: {type: test, sso: off}\n"}
    )
    assert problems(root) == [
        "environments/standard.yaml:3:27: environments.test.sso: YAML reads off as false (true/false); "
        'quote it: "off"'
    ]


def test_value_not_matching_its_pattern_explains_the_pattern(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school_yaml(code="99zz")})
    assert problems(root) == [
        "schools/99ZZ.yaml:1:7: code: '99zz' is not an institution code (BRIN): "
        "write two digits and two capitals, e.g. 25BE"
    ]


def test_flow_out_of_range(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"suppliers/delta.yaml": "id: delta\nname: Delta\nroles: [ta]\nflows: [0, 2, 7]\n"})
    assert problems(root) == [
        "suppliers/delta.yaml:4:15: flows[2]: 7 is out of range; expected OKE flow number, 0 to 6"
    ]


def test_empty_list_where_one_entry_is_needed(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"suppliers/delta.yaml": "id: delta\nname: Delta\nroles: []\nflows: [0, 2, 3, 4]\n"})
    assert problems(root) == ["suppliers/delta.yaml:3:8: roles: needs at least 1 entry, has 0"]


def test_impossible_date(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "policies/versions.yaml": """
                oke_versions:
                  "1.0": {ooapi: "5.0", status: final, released: 2024-13-01}
                  "1.0.1": {ooapi: "5.0", status: final}
                """
        }
    )
    assert problems(root) == [
        "policies/versions.yaml:2:50: 2024-13-01 is not a valid date; write a real date as YYYY-MM-DD"
    ]


def test_top_level_must_be_a_mapping(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "- production\n- acceptance\n"})
    assert problems(root) == [
        "environments/standard.yaml:1:1: expected a mapping of fields at the top level, got a list"
    ]


def test_version_written_as_a_number_says_to_quote_it(repo: BuildRepo, problems: Problems) -> None:
    # 1.10 unquoted is the number 1.1: the message must show what was written.
    root = repo({"schools/99ZZ.yaml": school_yaml(oke_version="1.10")})
    assert problems(root) == [
        "schools/99ZZ.yaml:9:18: connections.delta.oke_version: YAML reads 1.10 as the number 1.1; "
        'versions are text, quote it: "1.10"'
    ]


def test_version_key_written_as_a_number_says_to_quote_it(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "policies/versions.yaml": """
                oke_versions:
                  "1.0": {ooapi: "5.0", status: final}
                  1.10: {ooapi: "5.0", status: concept}
                """
        }
    )
    assert problems(root) == [
        "policies/versions.yaml:3:3: oke_versions: YAML reads the key 1.10 as the number 1.1; "
        'keys here are text, quote it: "1.10"'
    ]


def test_version_under_a_dotted_key_is_named_unambiguously(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "policies/versions.yaml": """
                oke_versions:
                  "1.0": {ooapi: 5.0, status: final}
                """
        }
    )
    assert problems(root) == [
        'policies/versions.yaml:2:18: oke_versions."1.0".ooapi: YAML reads 5.0 as the number 5.0; '
        'versions are text, quote it: "5.0"'
    ]


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        (
            "suppliers/delta.yaml",
            "id: delta-toets\nname: Delta\nroles: [ta]\nflows: [0]\n",
            "suppliers/delta.yaml:1:5: id 'delta-toets' does not match the file name; "
            "rename the file to delta-toets.yaml or set id: delta",
        ),
        (
            "schools/99ZZ.yaml",
            None,
            "schools/99ZZ.yaml:1:7: code '98ZZ' does not match the file name; "
            "rename the file to 98ZZ.yaml or set code: 99ZZ",
        ),
    ],
    ids=["supplier", "school"],
)
def test_file_name_must_match_its_identifier(
    repo: BuildRepo, problems: Problems, path: str, text: str | None, message: str
) -> None:
    root = repo({path: text if text is not None else school_yaml(code="98ZZ")})
    assert problems(root) == [message]


SECRET = "s3cr3t-Th1s-Must-N0t-Leak"


@pytest.mark.parametrize(
    "written",
    [SECRET, "31415926535897932", f"[{SECRET}]"],
    ids=["text", "number", "list"],
)
def test_literal_secret_is_refused_and_never_echoed(
    repo: BuildRepo, cli: Callable[..., Any], written: str
) -> None:
    root = repo(
        {
            "suppliers/delta.yaml": f"""
                id: delta
                name: Delta
                roles: [ta]
                flows: [0, 2, 3, 4]
                api:
                  provider: http
                  url: https://admin.delta.example/oke/v1
                  auth:
                    token_url: https://admin.delta.example/token
                    client_id: okectl
                    client_secret: {written}
                """
        }
    )
    result = cli("validate", "--repo", str(root))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        "suppliers/delta.yaml:11:20: api.auth.client_secret: a secret must not be written in the "
        "repository; use a reference: {env: VARIABLE} or {file: PATH}"
    ]
    secret = written.strip("[]")
    assert secret not in result.out
    assert secret not in result.err


def test_literal_client_secret_in_a_school_is_refused_and_never_echoed(
    repo: BuildRepo, cli: Callable[..., Any]
) -> None:
    root = repo({"schools/99ZZ.yaml": school_yaml(secret=SECRET)})
    result = cli("validate", "--repo", str(root))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        "schools/99ZZ.yaml:14:17: connections.delta.clients.eduplan.secret: a secret must not be "
        "written in the repository; use a reference: {env: VARIABLE} or {file: PATH}"
    ]
    assert SECRET not in result.out + result.err


def test_a_secret_pasted_as_a_variable_name_is_refused_and_never_echoed(
    repo: BuildRepo, cli: Callable[..., Any]
) -> None:
    root = repo({"schools/99ZZ.yaml": school_yaml(secret='{env: "hunter2-LEAK!"}')})
    result = cli("validate", "--repo", str(root))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        "schools/99ZZ.yaml:14:23: connections.delta.clients.eduplan.secret.env: not a valid secret "
        "reference; write {env: VARIABLE} (letters, digits and _) or {file: PATH}"
    ]
    assert "hunter2" not in result.out + result.err


def test_secret_reference_needs_exactly_one_source(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school_yaml(secret="{env: DELTA_SECRET, file: /run/secrets/delta}")})
    assert problems(root) == [
        "schools/99ZZ.yaml:14:17: connections.delta.clients.eduplan.secret: give exactly one of env or "
        "file, e.g. {env: DELTA_SECRET}"
    ]
