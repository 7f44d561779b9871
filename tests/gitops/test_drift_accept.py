"""okectl drift --accept: what accept-mode suppliers have goes into the YAML, through the
same round-trip editing and checks as import and bump, policy-checked, on a new branch
whose configuration plans to a no-op against the supplier. The supplier is the sandbox
on a real socket, the repository a real git repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.commands.drift import drift
from okectl.engine.planner import make_plan
from okectl.engine.workspace import load_workspace
from okectl.gitops.drift.detect import find_drift
from tests.support.cli import run_cli
from tests.support.drift_fleet import Fleet

pytestmark = pytest.mark.timeout(120)


def _hand_edits(fleet: Fleet) -> None:
    for code in ("11AA", "22BB", "33CC"):
        fleet.desk.edit(f"{code}/acceptance", oke_version="1.0.1")
    for env in ("production", "acceptance"):
        fleet.desk.edit(f"44DD/{env}/client/planwijs", scopes=["nl-test-admin-flow-0"])
        fleet.desk.edit(f"22BB/{env}/role/assessor", groups=["22bb-examinatoren", "22bb-docenten"])
    for gone in ("33CC/acceptance/client/planwijs", "33CC/acceptance/role/assessor", "33CC/acceptance"):
        fleet.desk.delete(gone)


def test_accepted_drift_is_committed_on_a_branch_whose_yaml_plans_to_a_no_op(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("accept")
    _hand_edits(fleet)
    journals = sorted((fleet.root / ".okectl/runs").iterdir())

    run = drift(load_workspace(fleet.root), accept=True, branch="okectl/accept-drift")

    accepted = run.accepted
    assert accepted is not None and accepted.refused == []
    assert [run.outcome(f).status for f in run.report.findings] == ["accepted"] * 4
    assert fleet.repo.branch == "okectl/accept-drift"
    assert fleet.repo.git("log", "-1", "--format=%an <%ae>|%s") == (
        "Adoption Team <team@example.org>|Accept drift at the suppliers: 4 findings at 7 places"
    )
    assert sorted(accepted.files) == [
        "schools/11AA.yaml",
        "schools/22BB.yaml",
        "schools/33CC.yaml",
        "schools/44DD.yaml",
    ]
    # Against the supplier, the branch's configuration has nothing left to do.
    on_branch = load_workspace(fleet.root)
    assert make_plan(on_branch).plan.changes == []
    assert find_drift(on_branch).findings == []
    # Nothing was written to the supplier (no apply ran), and the edits kept the comments.
    assert sorted((fleet.root / ".okectl/runs").iterdir()) == journals
    school = fleet.repo.read("schools/33CC.yaml")
    assert 'oke_version: "1.0"      # the chain runs 1.0' in school
    assert "    environments:\n      acceptance: {absent: true}\nroles:" in school
    assert fleet.repo.read("schools/22BB.yaml").endswith("  assessor: [22bb-docenten, 22bb-examinatoren]\n")
    # The base branch is left as it was: until the pull request is merged, it still drifts.
    fleet.repo.git("checkout", "-q", "main")
    assert len(find_drift(load_workspace(fleet.root)).findings) == 4


def test_accepting_what_would_break_an_error_policy_is_refused_naming_the_rule(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("accept")
    fleet.desk.edit("11AA/production", oke_version="1.1")  # a concept version in production
    fleet.desk.edit("22BB/acceptance", oke_version="1.0.1")

    run = drift(load_workspace(fleet.root), accept=True)

    statuses = {str(f.places[0].address): run.outcome(f) for f in run.report.findings}
    refused = statuses["delta/11AA/production"]
    assert refused.status == "not accepted"
    (line,) = refused.detail
    assert line.startswith("it would introduce a policy error: [production-final] delta/11AA/production: ")
    assert statuses["delta/22BB/acceptance"].status == "accepted"
    assert 'oke_version: "1.1"' not in fleet.repo.read("schools/11AA.yaml")
    assert 'acceptance: {oke_version: "1.0.1"}' in fleet.repo.read("schools/22BB.yaml")


def test_a_value_shared_with_places_that_did_not_drift_is_not_accepted(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("accept")
    # A connection's client has the same scopes in every environment; one moved.
    fleet.desk.edit("44DD/acceptance/client/planwijs", scopes=["nl-test-admin-flow-0"])
    # A production environment removed at the supplier: protected, never accepted.
    for gone in ("11AA/production/client/planwijs", "11AA/production/role/assessor", "11AA/production"):
        fleet.desk.delete(gone)

    run = drift(load_workspace(fleet.root), accept=True)

    assert run.accepted is not None and not run.accepted.written and run.accepted.files == {}
    details = {f.kind: run.outcome(f).detail for f in run.report.findings}
    assert details["client"] == (
        "it would also change delta/44DD/production/client/planwijs (scopes), which did not drift: the value "
        "is shared with places the supplier did not change",
    )
    assert details["environment"] == (
        "delta/11AA/production is protected; okectl never accepts the removal of a protected environment "
        "(heal it, or set protect: false yourself in a reviewed change)",
    )
    assert run.unresolved == run.report.findings


def test_accept_on_a_branch_without_a_git_identity_refuses_before_healing_or_writing(
    make_fleet: Callable[..., Fleet], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = make_fleet("{environment: heal, client: accept}")
    fleet.desk.edit("11AA/acceptance", oke_version="1.0.1")
    for env in ("production", "acceptance"):
        fleet.desk.edit(f"44DD/{env}/client/planwijs", scopes=["nl-test-admin-flow-0"])
    fleet.repo.git("config", "--unset", "user.name")
    fleet.repo.git("config", "--unset", "user.email")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")

    result = run_cli("drift", "--heal", "--accept", "--branch", "accept", "--repo", str(fleet.root))

    assert result.exit_code == 1 and result.out == ""
    assert result.err.startswith("git does not know who you are, so okectl will not commit")
    assert fleet.repo.branch == "main" and fleet.repo.git("status", "--porcelain") == ""
    assert len(find_drift(load_workspace(fleet.root)).findings) == 2


def test_accept_refuses_a_tree_with_uncommitted_changes(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet("accept")
    (fleet.root / "schools/11AA.yaml").write_text(fleet.repo.read("schools/11AA.yaml") + "# note\n")

    result = run_cli("drift", "--accept", "--branch", "accept", "--repo", str(fleet.root))

    assert result.exit_code == 1
    assert result.err == (
        "refusing to accept drift: the working tree has uncommitted changes (schools/11AA.yaml); "
        "commit or stash them\n"
    )


def test_the_command_writes_the_pull_requests_text_for_what_it_accepted(
    make_fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    fleet = make_fleet("accept")
    for code in ("11AA", "22BB"):
        fleet.desk.edit(f"{code}/acceptance", oke_version="1.0.1")
    fleet.desk.edit("33CC/production", oke_version="1.1")
    body = tmp_path / "pr.md"

    result = run_cli(
        "drift", "--accept", "--branch", "okectl/accept-drift", "--pr-body", str(body),
        "--repo", str(fleet.root), "--detailed-exitcode",
    )  # fmt: skip

    # The refused finding is left: drift remains that this run did not settle.
    assert result.exit_code == 2, result.err
    assert "[accept: accepted]" in result.out and "[accept: not accepted]" in result.out
    assert "on branch okectl/accept-drift (you are on it now)" in result.out
    text = body.read_text()
    assert text.startswith(
        "<!-- okectl-drift-accept -->\n## Accept drift at the suppliers: 1 finding at 2 places\n"
    )
    assert '### delta: environment oke\\_version → "1.0.1", changed at the supplier' in text
    assert '- `delta/11AA/acceptance`: the configuration says oke\\_version `"1.0"`' in text
    assert "### Not accepted" in text and "\\[production-final\\]" in text
    assert "- `schools/11AA.yaml`\n- `schools/22BB.yaml`\n" in text


def test_the_pull_requests_text_is_only_for_accepting(
    make_fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    fleet = make_fleet("accept")

    result = run_cli("drift", "--pr-body", str(tmp_path / "pr.md"), "--repo", str(fleet.root))

    assert result.exit_code == 1
    assert "--pr-body is for accepted drift" in result.err


def test_a_value_with_control_or_invisible_characters_is_never_written(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet("accept")
    for env in ("production", "acceptance"):
        fleet.desk.edit(f"11AA/{env}/role/assessor", groups=["11aa-docenten\u202egnp.exe"])
        fleet.desk.edit(f"22BB/{env}/role/assessor", groups=["22bb-docenten\x1b[2J"])

    run = drift(load_workspace(fleet.root), accept=True)

    assert [run.outcome(f).status for f in run.report.findings] == ["not accepted", "not accepted"]
    assert run.outcome(run.report.findings[0]).detail[0] == (
        "delta/11AA/acceptance/role/assessor: groups: the supplier's value holds control or invisible "
        "characters; okectl does not write it"
    )
    assert fleet.repo.git("status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("branch", "problem"),
    [
        ("bad..name", "'bad..name' is not a valid branch name"),
        ("main", "branch 'main' already exists; pick another name or delete it first"),
    ],
)
def test_a_branch_that_cannot_be_made_is_refused_before_anything_is_healed(
    make_fleet: Callable[..., Fleet], branch: str, problem: str
) -> None:
    fleet = make_fleet("{environment: heal, client: accept}")
    fleet.desk.edit("11AA/acceptance", oke_version="1.0.1")

    result = run_cli("drift", "--heal", "--accept", "--branch", branch, "--repo", str(fleet.root))

    assert (result.exit_code, result.out, result.err) == (1, "", problem + "\n")
    assert fleet.desk.get("11AA/acceptance")[0]["oke_version"] == "1.0.1"
