"""Mistakes in the rules and waivers themselves: each reported at its own file:line:col."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from okectl.config.repository import load_state
from okectl.errors import ValidationFailed
from okectl.policy.engine import check_rule_definitions, evaluate

USE = "use school, supplier, connection, env, catalogue, today"

Repo = Callable[..., Path]


def problems(root: Path) -> list[str]:
    return [str(p) for p in sorted(check_rule_definitions(load_state(root)))]


def test_valid_rules_have_no_problems(repo: Repo) -> None:
    rules = """
        - {id: envs, kind: max-environments, params: {max: 2}}
        - id: flows
          kind: cel
          expression: env.flows.all(f, f < 6) && env.flows.exists(x, x == 0)
          message: "{env.address} runs flows {env.flows}"
        """
    assert problems(repo(rules)) == []


def test_unknown_kind_with_a_hint(repo: Repo) -> None:
    assert problems(repo("- {id: envs, kind: max-enviroments}")) == [
        "policies/rules.yaml:2:22: unknown rule kind 'max-enviroments'; did you mean 'max-environments'?"
    ]


def test_unknown_kind_lists_the_kinds(repo: Repo) -> None:
    (problem,) = problems(repo("- {id: envs, kind: opa}"))
    assert problem.startswith(
        "policies/rules.yaml:2:22: unknown rule kind 'opa'; one of acceptance-not-behind, cel, certification,"
    )


def test_bad_parameter_value(repo: Repo) -> None:
    assert problems(repo("- {id: envs, kind: max-environments, params: {max: 0}}")) == [
        "policies/rules.yaml:2:54: Input should be greater than or equal to 1 (kind max-environments)"
    ]


def test_unknown_parameter(repo: Repo) -> None:
    assert problems(repo("- {id: envs, kind: max-environments, params: {max: 2, maximum: 2}}")) == [
        "policies/rules.yaml:2:57: unknown parameter 'maximum' for kind max-environments (parameters: max)"
    ]


def test_parameter_naming_an_unknown_role(repo: Repo) -> None:
    assert problems(repo("- {id: roles, kind: school-roles, params: {exclude: [bord]}}")) == [
        "policies/rules.yaml:2:56: role 'bord' is not in the role catalogue"
    ]


def test_duplicate_rule_id(repo: Repo) -> None:
    rules = """
        - {id: envs, kind: max-environments, params: {max: 2}}
        - {id: envs, kind: profile-required}
        """
    assert problems(repo(rules)) == [
        "policies/rules.yaml:3:10: rule id 'envs' is already used by rule #1; ids must be unique"
    ]


def test_expression_on_a_built_in_kind(repo: Repo) -> None:
    assert problems(repo("- {id: p, kind: profile-required, expression: 'true'}")) == [
        "policies/rules.yaml:2:37: expression is only for rules of kind cel; remove it"
    ]


def test_selector_naming_an_unknown_supplier(repo: Repo) -> None:
    assert problems(repo("- {id: p, kind: profile-required, select: {suppliers: [toetz, 'plan-*']}}")) == [
        "policies/rules.yaml:2:58: unknown supplier 'toetz'; did you mean 'toets'?"
    ]


# --- CEL ---------------------------------------------------------------------------------


def test_cel_syntax_error_in_a_plain_scalar(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: env.type == 'production' &&
        """
    assert problems(repo(rules)) == [
        "policies/rules.yaml:4:44: CEL syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', "
        "'.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"
    ]


def test_cel_unknown_variable_in_a_quoted_scalar(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: "env.type == 'school' && envv.flows.size() > 0"
        """
    assert problems(repo(rules)) == [f"policies/rules.yaml:4:42: unknown variable 'envv'; {USE}"]


def test_cel_unknown_variable_in_a_literal_block(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: |
            env.type != 'production' ||
              suplier.support.email != null
        """
    assert problems(repo(rules)) == [f"policies/rules.yaml:6:9: unknown variable 'suplier'; {USE}"]


def test_cel_unknown_variable_in_a_folded_block(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: >-
            env.type != 'production' ||
            size(schol.roles) > 0
        """
    assert problems(repo(rules)) == [f"policies/rules.yaml:6:12: unknown variable 'schol'; {USE}"]


def test_cel_unknown_function(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: env.name.lowerAscii() == 'production'
        """
    assert problems(repo(rules)) == ["policies/rules.yaml:4:26: unknown function 'lowerAscii'"]


def test_cel_message_placeholder_with_an_unknown_variable(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: env.type == 'production'
          message: "{env.name} is not production at {suplier.id}"
        """
    assert problems(repo(rules)) == [f"policies/rules.yaml:5:48: unknown variable 'suplier'; {USE}"]


def test_cel_rule_needs_an_expression(repo: Repo) -> None:
    assert problems(repo("- {id: c, kind: cel}")) == [
        "policies/rules.yaml:2:5: a rule of kind cel needs an expression that must hold"
    ]


def test_a_string_that_looks_like_a_variable_is_not_one(repo: Repo) -> None:
    rules = """
        - id: c
          kind: cel
          expression: "env.type != 'suplier.id'"
        """
    assert problems(repo(rules)) == []


# --- waivers -----------------------------------------------------------------------------


def test_waiver_for_an_unknown_rule(repo: Repo) -> None:
    root = repo(
        "- {id: certification, kind: certification}",
        files={
            "policies/waivers.yaml": """
                waivers:
                  - {policy: certifcation, target: toets, reason: r, owner: o, expires: 2027-01-01}
                """
        },
    )
    assert problems(root) == [
        "policies/waivers.yaml:2:14: no rule with id 'certifcation' in policies/rules.yaml; "
        "did you mean 'certification'?"
    ]


def test_waiver_with_both_target_and_select_does_not_load(repo: Repo) -> None:
    root = repo(
        "- {id: certification, kind: certification}",
        files={
            "policies/waivers.yaml": """
                waivers:
                  - {policy: certification, target: toets, select: {suppliers: [toets]}, reason: r,
                     owner: o, expires: 2027-01-01}
                """
        },
    )
    with pytest.raises(ValidationFailed) as caught:
        load_state(root)
    assert [str(p) for p in caught.value.problems] == [
        "policies/waivers.yaml:2:5: waivers[0]: give exactly one of target (an address) or select "
        "(schools, suppliers, environment_types)"
    ]


def test_evaluate_refuses_broken_rules(repo: Repo) -> None:
    with pytest.raises(ValidationFailed) as caught:
        evaluate(load_state(repo("- {id: envs, kind: max-environments}")))
    assert [str(p) for p in caught.value.problems] == [
        "policies/rules.yaml:2:5: Field required (kind max-environments)"
    ]


def test_policy_check_reports_broken_rules_with_exit_1(repo: Repo, cli: Callable[..., Any]) -> None:
    root = repo(
        """
        - id: c
          kind: cel
          expression: envv.type == 'production'
        """
    )
    result = cli("policy", "check", "--repo", str(root))
    assert result.exit_code == 1
    assert result.err == (f"policies/rules.yaml:4:17: unknown variable 'envv'; {USE}\n")


def test_validate_reports_broken_rules_with_every_other_problem(repo: Repo, cli: Callable[..., Any]) -> None:
    root = repo(
        "- {id: c, kind: cel, expression: \"env.type == 'production' && schol.code != ''\"}",
        edit={"schools/10AA.yaml": [("  toets:\n    profile: standard", "  toets:\n    profile: standrd")]},
    )
    result = cli("validate", "--repo", str(root))
    assert result.exit_code == 1
    rules_problem, school_problem = result.err.splitlines()
    assert rules_problem == f"policies/rules.yaml:2:65: unknown variable 'schol'; {USE}"
    assert school_problem.startswith("schools/10AA.yaml:14:14: unknown profile 'standrd'")


def test_policy_kinds_lists_every_kind_and_the_cel_variables(cli: Callable[..., Any]) -> None:
    from okectl.policy.cel.expressions import VARIABLES
    from okectl.policy.engine import KINDS

    result = cli("policy", "kinds")
    assert result.exit_code == 0
    for kind in KINDS:
        assert f"\n{kind}: " in "\n" + result.out
    for variable in VARIABLES:
        assert f"    {variable}: " in result.out
    assert "    max: The most environments one connection may have\n" in result.out


def test_the_configuration_names_exactly_the_registered_rule_kinds(cli: Callable[..., Any]) -> None:
    """The file schema's help for `kind` is written by hand (configuration knows no policy
    engine); it must list the kinds `okectl policy kinds` shows, no more and no fewer."""
    import re

    from okectl.config.policies import KIND_HELP

    result = cli("policy", "kinds")
    shown = set(re.findall(r"^([a-z][a-z0-9-]*): ", result.out, re.M))
    listed = set(re.findall(r"[a-z][a-z0-9-]+", KIND_HELP.split("(", 1)[1].split(")", 1)[0]))
    assert shown - {"cel"} == listed
    assert "cel" in shown and "`cel`" in KIND_HELP
