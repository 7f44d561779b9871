"""One behaviour per rule kind: a fixture that breaks it, one that meets it, the exact location."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

from okectl.config.repository import load_state
from okectl.config.resolve import desired_resources
from okectl.model.releases import Release
from okectl.policy.engine import evaluate

Findings = Callable[..., list[str]]

SCHOOL = "schools/10AA.yaml"
TOETS_CLIENTS = "    clients: {plan: {scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]}}\n"


def toets_envs(*lines: str) -> dict[str, list[tuple[str, str]]]:
    """Add environment overrides to the toets connection (from line 18 on)."""
    block = "    environments:\n" + "".join(f"      {ln}\n" for ln in lines)
    return {SCHOOL: [(TOETS_CLIENTS, TOETS_CLIENTS + block)]}


def toets_version(version: str) -> dict[str, list[tuple[str, str]]]:
    return {
        SCHOOL: [
            (
                '  toets:\n    profile: standard\n    oke_version: "1.0.1"',
                f'  toets:\n    profile: standard\n    oke_version: "{version}"',
            )
        ]
    }


# --- environments ----------------------------------------------------------------------


def test_max_environments_points_at_the_environment_that_goes_over(findings: Findings) -> None:
    rules = "- {id: envs, kind: max-environments, params: {max: 2}}"
    assert findings(rules) == []
    assert findings(rules, edit=toets_envs("test: {type: test}")) == [
        "schools/10AA.yaml:19:7: error[envs] toets/10AA: 3 environments (production, acceptance, test); "
        "the harmonised maximum is 2 per connection"
    ]


def test_max_environments_points_at_the_profile_when_the_profile_has_too_many(findings: Findings) -> None:
    rules = "- {id: envs, kind: max-environments, severity: warning, params: {max: 1}}"
    assert findings(rules, edit=toets_envs("acceptance: {absent: true}")) == [
        "schools/10AA.yaml:8:14: warning[envs] plan/10AA: 2 environments (production, acceptance); "
        "the harmonised maximum is 1 per connection"
    ]


def test_profile_environment_types(findings: Findings) -> None:
    rules = "- {id: types, kind: profile-environment-types}"
    assert findings(rules) == []
    assert findings(rules, edit=toets_envs("chain: {type: chain-test}")) == [
        "schools/10AA.yaml:19:21: error[types] toets/10AA/chain: environment type chain-test is not in "
        "profile standard (it allows acceptance, production); "
        "drop the environment or choose a profile with it"
    ]
    allowing = "- {id: types, kind: profile-environment-types, params: {also_allow: [chain-test]}}"
    assert findings(allowing, edit=toets_envs("chain: {type: chain-test}")) == []


def test_profile_required(findings: Findings) -> None:
    rules = "- {id: profiled, kind: profile-required}"
    assert findings(rules) == []
    no_profile = {
        SCHOOL: [
            ("  toets:\n    profile: standard\n", "  toets:\n"),
            (TOETS_CLIENTS, TOETS_CLIENTS + "    environments: {production: {type: production}}\n"),
        ]
    }
    assert findings(rules, edit=no_profile) == [
        "schools/10AA.yaml:13:3: error[profiled] toets/10AA: connection has no profile; "
        "use one of the harmonised profiles (standard)"
    ]


# --- versions ----------------------------------------------------------------------------


def test_supported_version_status(findings: Findings) -> None:
    rules = "- {id: supported, kind: supported-version, select: {environment_types: [production]}}"
    assert findings(rules) == []
    assert findings(rules, edit=toets_version("1.1")) == [
        "schools/10AA.yaml:15:18: error[supported] toets/10AA/production: OKE 1.1 is concept in the "
        "version catalogue; production environments run final versions"
    ]


def test_supported_version_end_of_support(findings: Findings) -> None:
    rules = (
        "- {id: eos, kind: supported-version, params: {statuses: [final, outdated]},"
        " select: {environment_types: [production]}}"
    )
    assert findings(rules, edit=toets_version("0.9.4")) == [
        "schools/10AA.yaml:15:18: error[eos] toets/10AA/production: OKE 0.9.4 reached end of support on "
        "2025-06-30; plan the move to OKE 1.0.1"
    ]
    assert findings(rules, edit=toets_version("1.0")) == []


def test_supported_version_end_of_support_coming(findings: Findings) -> None:
    rules = (
        "- {id: eos-soon, kind: supported-version, severity: warning, params: {within_days: 400},"
        " select: {environment_types: [production], suppliers: [toets]}}"
    )
    assert findings(rules, edit=toets_version("1.0")) == [
        "schools/10AA.yaml:15:18: warning[eos-soon] toets/10AA/production: OKE 1.0 reaches end of support "
        "on 2027-12-31, in 398 days; plan the move to OKE 1.0.1"
    ]
    assert findings(rules, edit=toets_version("1.0"), today=date(2026, 11, 1)) == []


def test_ooapi_version_against_the_accepted_list(findings: Findings) -> None:
    rules = """
        - id: ooapi
          kind: ooapi-version
          params: {allowed: ['6.0']}
          select: {schools: ['1*'], suppliers: [toets], environment_types: [production]}
        """
    assert findings(rules) == [
        "schools/10AA.yaml:15:18: error[ooapi] toets/10AA/production: OKE 1.0.1 is built on OOAPI 5.0; "
        "the fleet accepts OOAPI 6.0"
    ]
    assert findings(rules.replace("'6.0'", "'5.0'")) == []


def test_ooapi_version_of_a_resource_that_differs_from_its_oke_base(repo: Callable[..., Path]) -> None:
    root = repo("- {id: ooapi, kind: ooapi-version}")
    state = load_state(root)
    resources = [
        replace(r, spec={**r.spec, "ooapi_version": "6.0"})
        if str(r.address) == "toets/10AA/acceptance"
        else r
        for r in desired_resources(state)
    ]
    report = evaluate(state, today=date(2026, 11, 28), resources=resources)
    assert [str(f) for f in report.findings] == [
        "schools/10AA.yaml:15:18: error[ooapi] toets/10AA/acceptance: "
        "OOAPI 6.0, but OKE 1.0.1 is built on OOAPI 5.0"
    ]


def test_acceptance_not_behind_production(findings: Findings) -> None:
    rules = "- {id: acc, kind: acceptance-not-behind}"
    assert findings(rules, edit=toets_envs('acceptance: {oke_version: "1.1"}')) == []
    assert findings(rules, edit=toets_envs('acceptance: {oke_version: "1.0"}')) == [
        "schools/10AA.yaml:19:33: error[acc] toets/10AA/acceptance: acceptance runs OKE 1.0, behind "
        "production (OKE 1.0.1); a version reaches acceptance before production"
    ]


def test_version_spread_within_a_school(findings: Findings) -> None:
    rules = "- {id: spread, kind: version-spread, select: {environment_types: [production]}}"
    assert findings(rules, edit=toets_version("1.1")) == []
    assert findings(rules, edit=toets_version("0.9.4")) == [
        "schools/10AA.yaml:15:18: error[spread] toets/10AA/production: OKE 0.9.4 is more than 1 minor "
        "version(s) from OKE 1.0.1, the version 10AA mostly runs; keep the school's chain aligned"
    ]


def test_supplier_supports_version_from_its_yaml(findings: Findings) -> None:
    rules = "- {id: supports, kind: supplier-supports-version, select: {environment_types: [production]}}"
    assert findings(rules) == []
    assert findings(rules, edit=toets_version("1.1")) == [
        "schools/10AA.yaml:15:18: error[supports] toets/10AA/production: toets does not support OKE 1.1 "
        "(its oke_versions: 1.0, 1.0.1)"
    ]


def test_supplier_supports_version_from_its_release_feed(findings: Findings) -> None:
    rules = "- {id: supports, kind: supplier-supports-version, select: {environment_types: [production]}}"
    feed = [
        Release("7.2", ("1.0",), date(2025, 1, 1), None, None),
        Release("8.0", ("1.0", "1.0.1"), date(2026, 6, 1), date(2026, 10, 1), None),
    ]
    assert findings(rules, releases={"toets": feed}) == [
        "schools/10AA.yaml:15:18: error[supports] toets/10AA/production: no current release of toets "
        "supports OKE 1.0.1 (its release feed supports 1.0)"
    ]
    assert findings(rules, releases={"toets": feed}, today=date(2026, 9, 1)) == []


# --- single sign-on ----------------------------------------------------------------------


def test_sso_federation_in_production(findings: Findings) -> None:
    rules = "- {id: federation, kind: sso-federation, select: {suppliers: [toets]}}"
    assert findings(rules) == []
    off = {
        "environments/standard.yaml": [
            ("production: {type: production, sso: required}", 'production: {type: production, sso: "off"}')
        ]
    }
    assert findings(rules, edit=off) == [
        "environments/standard.yaml:3:39: error[federation] toets/10AA/production: sign-in is off without "
        "the school's federation (surfconext); production environments use it"
    ]
    entree_only = (
        "- {id: federation, kind: sso-federation, params: {federations: [entree]}, "
        "select: {suppliers: [toets]}}"
    )
    assert findings(entree_only) == [
        "schools/10AA.yaml:3:13: error[federation] toets/10AA/production: federation surfconext is not "
        "accepted here (accepted: entree)"
    ]


def test_sso_never_off_in_production(findings: Findings) -> None:
    rules = "- {id: sso, kind: sso-mode}"
    assert findings(rules, edit=toets_envs("production: {sso: optional}")) == []
    assert findings(rules, edit=toets_envs('production: {sso: "off"}')) == [
        "schools/10AA.yaml:19:25: error[sso] toets/10AA/production: SSO is off in production environment "
        "production; it must be required or optional"
    ]


# --- privacy -----------------------------------------------------------------------------


def test_privacy_needs_an_approved_dpia(findings: Findings) -> None:
    rules = "- {id: privacy, kind: privacy}"
    assert findings(rules) == []
    pending = {"suppliers/toets.yaml": [("dpia: {status: approved}", "dpia: {status: pending}")]}
    assert findings(rules, edit=pending) == [
        "suppliers/toets.yaml:7:59: error[privacy] toets: 1 production environment(s) (e.g. "
        "toets/10AA/production) at toets, but its DPIA is pending; go live only with a DPIA that is approved"
    ]


def test_privacy_needs_the_processing_agreement(findings: Findings) -> None:
    rules = "- {id: privacy, kind: privacy, params: {agreements: [model-4.0]}}"
    other = {"suppliers/toets.yaml": [("processing_agreement: model-4.0", "processing_agreement: own-terms")]}
    assert findings(rules, edit=other) == [
        "suppliers/toets.yaml:7:33: error[privacy] toets: 1 production environment(s) (e.g. "
        "toets/10AA/production) at toets, but its processing agreement is own-terms; sign model-4.0 first"
    ]


def test_flow_6_only_where_the_dpia_covers_it(findings: Findings) -> None:
    rules = "- {id: flow6, kind: flow-6-dpia}"
    with_flow_6 = {SCHOOL: [("    flows: [0, 2, 3, 4]\n", "    flows: [0, 2, 3, 4, 6]\n")]}
    message = (
        "flow 6 (analysis) at toets, whose DPIA does not cover it; drop flow 6 or have the DPIA extended "
        "(privacy.dpia.covers_flow_6)"
    )
    assert findings(rules, edit=with_flow_6) == [
        f"schools/10AA.yaml:16:25: error[flow6] toets/10AA/acceptance: {message}",
        f"schools/10AA.yaml:16:25: error[flow6] toets/10AA/production: {message}",
    ]
    covered = {
        **with_flow_6,
        "suppliers/toets.yaml": [
            ("dpia: {status: approved}", "dpia: {status: approved, covers_flow_6: true}")
        ],
    }
    assert findings(rules, edit=covered) == []


# --- certification -----------------------------------------------------------------------


def test_certification_for_production(findings: Findings) -> None:
    rules = "- {id: certified, kind: certification}"
    assert findings(rules) == []
    in_progress = {
        "suppliers/toets.yaml": [('{oke: "1.0.1", status: certified}', '{oke: "1.0.1", status: in-progress}')]
    }
    assert findings(rules, edit=in_progress) == [
        "schools/10AA.yaml:15:18: error[certified] toets/10AA/production: toets is not certified for OKE "
        "1.0.1 (certification: in-progress); production runs only on certified versions"
    ]


# --- roles and rights --------------------------------------------------------------------


def test_supplier_maps_every_required_role(findings: Findings) -> None:
    rules = "- {id: mapping, kind: supplier-role-mapping}"
    assert findings(rules) == []
    unmapped = {"suppliers/toets.yaml": [(", invigilator: Surveillant}", "}")]}
    assert findings(rules, edit=unmapped) == [
        "suppliers/toets.yaml:6:1: error[mapping] toets: toets (ta) maps no name for required catalogue "
        "role(s) invigilator; add them under role_names"
    ]


def test_schools_grant_only_catalogue_roles(findings: Findings) -> None:
    rules = "- {id: roles, kind: school-roles, params: {exclude: [board]}}"
    assert findings(rules) == []
    extra = {
        SCHOOL: [
            (
                "  assessor: [10aa-docenten]\n",
                "  assessor: [10aa-docenten]\n  board: [10aa-cvb]\n  examinator: [x]\n",
            )
        ]
    }
    assert findings(rules, edit=extra) == [
        "schools/10AA.yaml:21:3: error[roles] 10AA: role board is not granted through OKE connections; "
        "remove it",
        "schools/10AA.yaml:22:3: error[roles] 10AA: role examinator is not in the role catalogue "
        "(policies/roles.yaml)",
    ]


def test_separation_of_duties_in_school_groups(findings: Findings) -> None:
    rules = "- {id: sod, kind: separation-of-duties}"
    assert findings(rules) == []
    shared = {SCHOOL: [("  assessor: [10aa-docenten]", "  assessor: [10aa-docenten, 10aa-examencommissie]")]}
    assert findings(rules, edit=shared) == [
        "schools/10AA.yaml:20:29: error[sod] 10AA: group 10aa-examencommissie holds both exam-committee and "
        "assessor; the committee does not assess"
    ]


def test_separation_of_duties_in_supplier_role_names(findings: Findings) -> None:
    rules = "- {id: sod, kind: separation-of-duties, params: {pairs: [[assessor, invigilator]]}}"
    merged = {"suppliers/toets.yaml": [("invigilator: Surveillant", "invigilator: Beoordelaar")]}
    assert findings(rules, edit=merged) == [
        "suppliers/toets.yaml:6:50: error[sod] toets: toets maps assessor and invigilator to the same role "
        "'Beoordelaar'; separation of duties (rule parameter)"
    ]


def test_client_scopes_are_the_minimum_for_the_flows(findings: Findings) -> None:
    rules = "- {id: scopes, kind: minimal-scopes}"
    assert findings(rules) == []
    assert findings(rules, edit=toets_envs("acceptance: {flows: [0]}")) == [
        "schools/10AA.yaml:17:53: error[scopes] toets/10AA/acceptance/client/plan: scope "
        "nl-test-admin-flow-2-3-4 is for flow(s) 2, 3, 4, which acceptance does not run (flows 0); remove it"
    ]


# --- custom rules in CEL -----------------------------------------------------------------


def test_cel_rule_with_a_message_template(findings: Findings) -> None:
    rules = """
        - id: same-version
          kind: cel
          severity: warning
          params: {at: oke_version}
          select: {environment_types: [production]}
          expression: env.oke_version == school.connections[school.systems.tpl].oke_version
          message: >-
            {supplier.id} runs OKE {env.oke_version}, planning ({school.systems.tpl})
            runs {school.connections[school.systems.tpl].oke_version}
        """
    assert findings(rules) == []
    assert findings(rules, edit=toets_version("1.0")) == [
        "schools/10AA.yaml:15:18: warning[same-version] toets/10AA/production: toets runs OKE 1.0, "
        "planning (plan) runs 1.0.1"
    ]


def test_cel_rule_that_cannot_be_evaluated_is_a_finding(findings: Findings) -> None:
    rules = """
        - id: dpia-date
          kind: cel
          select: {suppliers: [toets], environment_types: [production]}
          expression: supplier.privacy.dpia.date > '2025-01-01'
        """
    assert findings(rules) == [
        "schools/10AA.yaml:13:3: error[dpia-date] toets/10AA/production: cannot evaluate the expression: "
        "No such overload: the operation is not defined for the given operand types"
    ]


def test_cel_rule_with_dates_and_today(findings: Findings) -> None:
    rules = """
        - id: dpia-renewed
          kind: cel
          select: {suppliers: [toets], environment_types: [production]}
          expression: >-
            timestamp(today + 'T00:00:00Z') - timestamp(supplier.privacy.dpia.date + 'T00:00:00Z')
            < duration('26280h')
          message: "{supplier.id}'s DPIA dates from {supplier.privacy.dpia.date}"
        """
    dated = {
        "suppliers/toets.yaml": [("dpia: {status: approved}", "dpia: {status: approved, date: 2023-11-01}")]
    }
    assert findings(rules, edit=dated, today=date(2026, 10, 1)) == []
    assert findings(rules, edit=dated) == [
        "schools/10AA.yaml:13:3: error[dpia-renewed] toets/10AA/production: "
        "toets's DPIA dates from 2023-11-01"
    ]
