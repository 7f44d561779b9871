"""Safety guards: protected production environments and mass deletions."""

from __future__ import annotations

from pathlib import Path

from okectl.config.repository import load_state
from okectl.engine.safety import check_safety
from okectl.model.resources import Address
from okectl.plans.changes import Change, Plan


def deletes(supplier: str, n: int, env_type: str = "test") -> list[Change]:
    return [
        Change(Address(supplier, f"{i:02d}AA", "pilot"), "delete", {"type": env_type}, None, etag="e")
        for i in range(n)
    ]


def test_deleting_a_production_environment_is_refused_with_the_way_to_allow_it(example_repo: Path) -> None:
    state = load_state(example_repo)
    plan = Plan(
        changes=[
            Change(
                Address("delta-toets", "21RC", "production"), "delete", {"type": "production"}, None, etag="e"
            )
        ]
    )
    problems = check_safety(plan, state, {"delta-toets": 20}, force=True)
    assert problems == [
        "delta-toets/21RC/production: refusing to delete a production environment; it is protected. "
        "To delete it, keep it in schools/21RC.yaml under connections.delta-toets.environments.production "
        "with absent: true and protect: false"
    ]


def test_production_marked_absent_and_unprotected_may_be_deleted(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    text = school.read_text().replace(
        "    environments:\n      acceptance:",
        "    environments:\n      production: {absent: true, protect: false}\n      acceptance:",
    )
    school.write_text(text)
    state = load_state(example_repo)
    plan = Plan(
        changes=[
            Change(
                Address("delta-toets", "21RC", "production"), "delete", {"type": "production"}, None, etag="e"
            )
        ]
    )
    assert check_safety(plan, state, {"delta-toets": 20}, force=False) == []


def test_mass_deletion_over_the_fraction_needs_force(example_repo: Path) -> None:
    state = load_state(example_repo)
    plan = Plan(changes=deletes("delta-toets", 3))
    problems = check_safety(plan, state, {"delta-toets": 10}, force=False)
    assert problems == [
        "delta-toets: the plan deletes 3 of its 10 owned environments (30%, over the limit of 25%); "
        "check the change, then run with --force (or raise safety.max_delete_fraction in "
        "suppliers/delta-toets.yaml)"
    ]
    assert check_safety(plan, state, {"delta-toets": 10}, force=True) == []


def test_small_suppliers_are_not_held_by_the_mass_deletion_guard(example_repo: Path) -> None:
    state = load_state(example_repo)
    plan = Plan(changes=deletes("delta-toets", 5))
    assert check_safety(plan, state, {"delta-toets": 7}, force=False) == []


def test_deletions_within_the_fraction_pass(example_repo: Path) -> None:
    state = load_state(example_repo)
    assert check_safety(Plan(changes=deletes("delta-toets", 2)), state, {"delta-toets": 8}, force=False) == []


def test_an_environment_marked_protect_true_is_never_deleted(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(
        school.read_text().replace(
            '      acceptance: {oke_version: "1.1"}', "      acceptance: {absent: true, protect: true}"
        )
    )
    state = load_state(example_repo)
    plan = Plan(
        changes=[
            Change(
                Address("delta-toets", "21RC", "acceptance"), "delete", {"type": "acceptance"}, None, etag="e"
            )
        ]
    )
    assert check_safety(plan, state, {"delta-toets": 20}, force=True) == [
        "delta-toets/21RC/acceptance: refusing to delete it: connections.delta-toets.environments.acceptance "
        "in schools/21RC.yaml says protect: true"
    ]


def test_retyping_a_production_environment_is_refused(example_repo: Path) -> None:
    state = load_state(example_repo)
    plan = Plan(
        changes=[
            Change(
                Address("delta-toets", "21RC", "production"),
                "update",
                {"type": "production"},
                {"type": "test"},
                etag="e",
            )
        ]
    )
    [problem] = check_safety(plan, state, {"delta-toets": 20}, force=True)
    assert problem.startswith("delta-toets/21RC/production: refusing to change a production environment")


def test_a_profiles_protect_true_holds_where_the_school_marks_the_environment_absent(
    example_repo: Path,
) -> None:
    profile = example_repo / "environments" / "extended.yaml"
    profile.write_text(
        profile.read_text().replace(
            "acceptance: {type: acceptance, sso: required}",
            "acceptance: {type: acceptance, sso: required, protect: true}",
        )
    )
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(
        school.read_text().replace(
            '      acceptance: {oke_version: "1.1"}', "      acceptance: {absent: true}"
        )
    )
    state = load_state(example_repo)
    plan = Plan(
        changes=[
            Change(
                Address("delta-toets", "21RC", "acceptance"), "delete", {"type": "acceptance"}, None, etag="e"
            )
        ]
    )
    assert check_safety(plan, state, {"delta-toets": 20}, force=True) == [
        "delta-toets/21RC/acceptance: refusing to delete it: environments.acceptance of profile extended "
        "says protect: true"
    ]


def test_a_production_environment_the_school_marks_only_absent_stays_protected(example_repo: Path) -> None:
    school = example_repo / "schools" / "21RC.yaml"
    school.write_text(
        school.read_text().replace(
            "    environments:\n      acceptance:",
            "    environments:\n      production: {absent: true}\n      acceptance:",
        )
    )
    state = load_state(example_repo)
    plan = Plan(
        changes=[
            Change(
                Address("delta-toets", "21RC", "production"), "delete", {"type": "production"}, None, etag="e"
            )
        ]
    )
    [problem] = check_safety(plan, state, {"delta-toets": 20}, force=True)
    assert "refusing to delete a production environment; it is protected" in problem
