"""`--changed-since REF`: which schools a change touches, and why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.config.revision import repo_state
from okectl.errors import OkectlError
from okectl.gitops.scope import changed_scope
from tests.support.git import GitRepo

MakeRepo = Callable[..., GitRepo]


def test_a_changed_school_file_scopes_to_that_school(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.commit("rename", {"schools/22BB.yaml": (repo.read("schools/22BB.yaml").replace("ROC Bb", "ROC B"))})

    scope = changed_scope(repo.root, "HEAD~1")

    assert scope.schools == {"22BB"}
    assert scope.suppliers is None
    assert list(scope.reasons) == ["schools/22BB.yaml modified: school 22BB (that school)"]


def test_a_supplier_file_scopes_to_every_school_connected_to_it(make_repo: MakeRepo) -> None:
    repo = make_repo()
    text = repo.read("suppliers/delta.yaml").replace("name: Delta Toets", "name: Delta")
    repo.commit("rename supplier", {"suppliers/delta.yaml": text})

    scope = changed_scope(repo.root, "HEAD~1")

    assert scope.schools == {"11AA", "22BB"}
    assert scope.suppliers == {"delta"}
    assert list(scope.reasons) == ["suppliers/delta.yaml modified: schools connected to delta (11AA, 22BB)"]


def test_a_profile_file_scopes_to_every_school_with_a_connection_using_it(make_repo: MakeRepo) -> None:
    repo = make_repo()
    text = repo.read("environments/minimal.yaml") + "  test: {type: test}\n"
    repo.commit("add test to minimal", {"environments/minimal.yaml": text})

    scope = changed_scope(repo.root, "HEAD~1")

    # 11AA uses minimal for planwijs, 22BB for delta; 33CC uses standard only.
    assert scope.schools == {"11AA", "22BB"}
    assert scope.suppliers == {"delta", "planwijs"}
    assert list(scope.reasons) == [
        "environments/minimal.yaml modified: schools with a connection using profile minimal (11AA, 22BB)"
    ]


@pytest.mark.parametrize("path", ["policies/versions.yaml", "okectl.yaml"])
def test_a_policy_or_settings_file_scopes_to_everything(make_repo: MakeRepo, path: str) -> None:
    repo = make_repo()
    repo.commit("touch", {path: repo.read(path) + "# reviewed\n"})

    scope = changed_scope(repo.root, "HEAD~1")

    assert scope.schools is None
    assert scope.suppliers is None
    assert "everything is in scope" in scope.reasons[0]


def test_a_deleted_school_file_scopes_to_that_school_so_it_can_be_deleted(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.remove("schools/33CC.yaml")
    repo.commit("school left the programme")

    scope = changed_scope(repo.root, "HEAD~1")

    assert scope.schools == {"33CC"}
    assert list(scope.reasons) == [
        "schools/33CC.yaml deleted: school 33CC (its resources are planned for deletion)"
    ]


def test_a_school_that_leaves_a_supplier_is_still_in_that_suppliers_scope(make_repo: MakeRepo) -> None:
    # Connected before the change, not after: its resources at the supplier must be planned.
    repo = make_repo()
    supplier = repo.read("suppliers/planwijs.yaml").replace("name: Planwijs", "name: PlanWijs")
    school = repo.read("schools/33CC.yaml")
    repo.commit("33CC leaves planwijs", {
        "suppliers/planwijs.yaml": supplier,
        "schools/33CC.yaml": school.split("connections:")[0],
    })

    scope = changed_scope(repo.root, "HEAD~1")

    assert scope.schools == {"11AA", "33CC"}
    assert scope.suppliers is None


def test_uncommitted_and_untracked_changes_count(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.write({"schools/44DD.yaml": repo.read("schools/22BB.yaml").replace("22BB", "44DD")})
    repo.write({"schools/11AA.yaml": repo.read("schools/11AA.yaml").replace("ROC Aa", "ROC A")})

    (repo.root / ".okectl").mkdir()
    (repo.root / ".okectl" / "sandbox.db").write_text("local state")

    scope = changed_scope(repo.root, "HEAD")

    assert scope.schools == {"11AA", "44DD"}
    assert list(scope.reasons) == [
        "schools/11AA.yaml modified: school 11AA (that school)",
        "schools/44DD.yaml added: school 44DD (that school)",
    ]


def test_other_files_do_not_change_the_desired_state(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.commit("docs", {"README.md": "more words\n"})

    scope = changed_scope(repo.root, "HEAD~1")

    assert scope.schools == set()
    assert list(scope.reasons) == [
        f"no configuration file changed since HEAD~1 ({repo.git('rev-parse', '--short=7', 'HEAD~1')}); "
        "nothing to plan",
        "1 other file(s) changed; they do not change the desired state",
    ]


def test_a_branch_is_compared_with_where_it_left_the_base(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.git("switch", "-q", "-c", "feature")
    repo.commit("feature", {"schools/22BB.yaml": repo.read("schools/22BB.yaml").replace("Bb", "B")})
    repo.git("switch", "-q", "main")
    repo.commit("on main meanwhile", {"schools/33CC.yaml": repo.read("schools/33CC.yaml").replace("Cc", "C")})
    repo.git("switch", "-q", "feature")

    assert changed_scope(repo.root, "main").schools == {"22BB"}


def test_the_configuration_may_live_in_a_folder_of_the_repository(make_repo: MakeRepo) -> None:
    repo = make_repo(subdir="oke")
    repo.commit("rename", {"schools/22BB.yaml": repo.read("schools/22BB.yaml").replace("Bb", "B")})

    assert changed_scope(repo.root, "HEAD~1").schools == {"22BB"}


def test_an_unknown_ref_is_one_clear_error(make_repo: MakeRepo) -> None:
    repo = make_repo()

    with pytest.raises(OkectlError, match=r"^unknown git ref 'origin/nope'; give a branch, tag or commit"):
        changed_scope(repo.root, "origin/nope")


def test_outside_git_changed_since_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "schools").mkdir()

    with pytest.raises(OkectlError, match="not inside a git repository"):
        changed_scope(tmp_path, "main")


def test_repo_state_records_the_commit_and_whether_the_configuration_is_dirty(make_repo: MakeRepo) -> None:
    repo = make_repo()
    head = repo.git("rev-parse", "HEAD")
    assert repo_state(repo.root) == (head, False)

    (repo.root / ".okectl").mkdir()
    (repo.root / ".okectl" / "state.sqlite").write_text("x")
    assert repo_state(repo.root) == (head, False), "local state is not a change to the configuration"

    repo.write({"schools/22BB.yaml": repo.read("schools/22BB.yaml") + "# note\n"})
    assert repo_state(repo.root) == (head, True)


def test_repo_state_outside_git_records_nothing(tmp_path: Path) -> None:
    assert repo_state(tmp_path) == (None, False)
