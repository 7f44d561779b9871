"""References between files: every name a school or supplier uses must exist and fit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BuildRepo = Callable[..., Path]
Problems = Callable[[Path], list[str]]

HEAD = """\
code: 99ZZ
name: ROC Voorbeeld
federation: surfconext
schac_home: voorbeeld.nl
systems: {sis: eduplan, tpl: eduplan}
connections:
"""


def school(connections: str, *, head: str = HEAD, roles: str = "roles:\n  assessor: [docenten]\n") -> str:
    """A school file: the fixed head (6 lines), then the given connections, then roles."""
    return head + connections + roles


DELTA = """\
  delta:
    profile: standard
    oke_version: "1.0"
    flows: [0, 2, 3, 4]
"""


def test_unknown_supplier_in_a_connection(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA.replace("delta:", "deltaa:"))})
    assert problems(root) == [
        "schools/99ZZ.yaml:7:3: unknown supplier 'deltaa': there is no suppliers/deltaa.yaml; "
        "did you mean 'delta'?"
    ]


def test_unknown_supplier_as_a_system(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA, head=HEAD.replace("tpl: eduplan", "tpl: edplan"))})
    assert problems(root) == [
        "schools/99ZZ.yaml:5:30: unknown supplier 'edplan': there is no suppliers/edplan.yaml; "
        "did you mean 'eduplan'?"
    ]


def test_system_whose_supplier_does_not_play_that_role(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA, head=HEAD.replace("sis: eduplan", "sis: delta"))})
    assert problems(root) == [
        "schools/99ZZ.yaml:5:16: supplier 'delta' does not play the sis role (it plays ta); "
        "pick a supplier that does"
    ]


def test_unknown_profile(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA.replace("standard", "standrd"))})
    assert problems(root) == [
        "schools/99ZZ.yaml:8:14: unknown profile 'standrd': there is no environments/standrd.yaml; "
        "did you mean 'standard'?"
    ]


def test_unknown_client_system(repo: BuildRepo, problems: Problems) -> None:
    conn = DELTA + "    clients: {edupln: {scopes: [nl-test-admin-flow-0]}}\n"
    assert problems(repo({"schools/99ZZ.yaml": school(conn)})) == [
        "schools/99ZZ.yaml:11:15: unknown system 'edupln': not among this school's systems (eduplan); "
        "did you mean 'eduplan'?"
    ]


def test_unknown_role_in_a_school(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA, roles="roles:\n  asessor: [docenten]\n")})
    assert problems(root) == [
        "schools/99ZZ.yaml:12:3: role 'asessor' is not in the role catalogue (policies/roles.yaml); "
        "did you mean 'assessor'?"
    ]


def test_unknown_role_in_a_supplier(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "suppliers/delta.yaml": """
                id: delta
                name: Delta
                roles: [ta]
                flows: [0, 2, 3, 4]
                role_names: {surveillant: Surveillant}
                """
        }
    )
    assert problems(root) == [
        "suppliers/delta.yaml:5:14: role 'surveillant' is not in the role catalogue (policies/roles.yaml); "
        "add it there or fix the name"
    ]


def test_unknown_oke_version(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA.replace('"1.0"', '"1.2"'))})
    assert problems(root) == [
        "schools/99ZZ.yaml:9:18: OKE version '1.2' is not in the version catalogue "
        "(policies/versions.yaml: 1.0, 1.0.1); did you mean '1.0'?"
    ]


def test_unknown_oke_version_in_an_environment_override(repo: BuildRepo, problems: Problems) -> None:
    conn = DELTA + '    environments: {production: {oke_version: "0.9"}}\n'
    assert problems(repo({"schools/99ZZ.yaml": school(conn)})) == [
        "schools/99ZZ.yaml:11:46: OKE version '0.9' is not in the version catalogue "
        "(policies/versions.yaml: 1.0, 1.0.1); use one of those, or add it to the catalogue"
    ]


def test_flow_the_supplier_does_not_implement(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA.replace("[0, 2, 3, 4]", "[0, 1, 2]"))})
    assert problems(root) == [
        "schools/99ZZ.yaml:10:12: supplier 'delta' does not implement flow(s) 1 "
        "(it implements 0, 2, 3, 4); remove them from flows"
    ]


def test_flow_that_does_not_exist(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA.replace("[0, 2, 3, 4]", "[0, 9]"))})
    assert problems(root) == [
        "schools/99ZZ.yaml:10:16: connections.delta.flows[1]: 9 is out of range; "
        "expected OKE flow number, 0 to 6"
    ]


def test_scope_that_is_not_an_oke_scope(repo: BuildRepo, problems: Problems) -> None:
    conn = DELTA + "    clients: {eduplan: {scopes: [nl-test-admin-flow-7]}}\n"
    assert problems(repo({"schools/99ZZ.yaml": school(conn)})) == [
        "schools/99ZZ.yaml:11:34: unknown scope 'nl-test-admin-flow-7'; OKE scopes are "
        "nl-test-admin-flow-0, nl-test-admin-flow-1-5, nl-test-admin-flow-2-3-4, nl-test-admin-flow-6; "
        "did you mean 'nl-test-admin-flow-6'?"
    ]


def test_scope_that_does_not_match_the_connection_flows(repo: BuildRepo, problems: Problems) -> None:
    conn = DELTA + "    clients: {eduplan: {scopes: [nl-test-admin-flow-0, nl-test-admin-flow-1-5]}}\n"
    assert problems(repo({"schools/99ZZ.yaml": school(conn)})) == [
        "schools/99ZZ.yaml:11:56: scope 'nl-test-admin-flow-1-5' is for flow(s) 1, 5, none of which this "
        "connection uses (flows: 0, 2, 3, 4); remove the scope or add the flow"
    ]


def test_connection_for_a_role_the_supplier_does_not_play(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA + "    function: tpl\n")})
    assert problems(root) == [
        "schools/99ZZ.yaml:11:15: supplier 'delta' does not play the tpl role (it plays ta); "
        "set function to one of those, or connect a supplier that plays it"
    ]


def test_multi_role_supplier_needs_a_function(repo: BuildRepo, problems: Problems) -> None:
    conn = """\
  eduplan:
    profile: standard
    oke_version: "1.0"
    flows: [1, 5]
"""
    assert problems(repo({"schools/99ZZ.yaml": school(conn)})) == [
        "schools/99ZZ.yaml:7:3: supplier 'eduplan' plays several roles (sis, tpl); "
        "say which one this connection is for with function: <role>"
    ]


def test_environment_not_in_the_profile_needs_a_type(repo: BuildRepo, problems: Problems) -> None:
    conn = DELTA + "    environments: {acceptance: {sso: optional}}\n"
    assert problems(repo({"schools/99ZZ.yaml": school(conn)})) == [
        "schools/99ZZ.yaml:11:20: environment 'acceptance' is not in profile 'standard'; "
        "give it a type to add it"
    ]


def test_unknown_role_in_separation_of_duties(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "policies/roles.yaml": """
                roles:
                  assessor: {description: Beoordelaar}
                  exam-office: {description: Examenbureau}
                separation_of_duties:
                  - {roles: [assessor, exam-ofice], reason: not both}
                """
        }
    )
    assert problems(root) == [
        "policies/roles.yaml:5:24: role 'exam-ofice' is not in the catalogue; did you mean 'exam-office'?"
    ]


@pytest.mark.parametrize("version", ['"1.0"', '"1.0.1"'])
def test_known_versions_are_accepted(repo: BuildRepo, cli: Callable[..., Any], version: str) -> None:
    root = repo({"schools/99ZZ.yaml": school(DELTA.replace('"1.0"', version))})
    assert cli("validate", "--repo", str(root)).exit_code == 0
