"""`okectl bump`: version moves as byte-exact edits, validated, committed on a branch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.git import GitRepo
from tests.support.repos import EXAMPLE_TODAY, PROJECT

MakeRepo = Callable[..., GitRepo]

# Only the value changes; the comment stays in its column.
SCHOOL_11AA_BUMPED = """\
# yaml-language-server: $schema=../schema/school.schema.json
code: 11AA
name: ROC Aa
federation: surfconext
schac_home: aa.example
systems: {tpl: planwijs}
connections:
  delta:
    profile: standard
    oke_version: "1.0.1"    # the chain runs 1.0
    flows: [0, 2, 3, 4]
    clients:
      planwijs:
        scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]
        secret: {env: DELTA_11AA}
  planwijs:
    profile: minimal
    function: tpl
    oke_version: '1.0'
    flows: [0, 1, 2, 3, 4, 5]
roles:
  assessor: [aa-docenten]
"""


def test_bump_on_a_branch_edits_only_the_versions_and_commits_a_listing(make_repo: MakeRepo) -> None:
    repo = make_repo()
    untouched = repo.read("schools/33CC.yaml")

    result = run_cli(
        "bump", "--supplier", "delta", "--oke-version", "1.0.1", "--branch", "bump/delta-1.0.1",
        "--repo", str(repo.root),
    )

    assert result.exit_code == 0, result.err
    assert repo.read("schools/11AA.yaml") == SCHOOL_11AA_BUMPED
    assert repo.read("schools/22BB.yaml") == (
        "code: 22BB\n"
        "name: ROC Bb\n"
        "federation: entree\n"
        "schac_home: bb.example\n"
        "connections:\n"
        "  delta:\n"
        "    profile: minimal\n"
        '    oke_version: "1.0.1"\n'
        "    flows: [0, 2, 3, 4]\n"
    )
    assert repo.read("schools/33CC.yaml") == untouched
    assert repo.branch == "bump/delta-1.0.1"
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("log", "-1", "--format=%B") == "\n".join([
        "Bump delta to OKE 1.0.1",
        "",
        "Made with: okectl bump --supplier delta --oke-version 1.0.1",
        "",
        "Changes:",
        "- delta/11AA/acceptance: OKE 1.0 → 1.0.1",
        "- delta/11AA/production: OKE 1.0 → 1.0.1",
        "- delta/22BB/production: OKE 1.0 → 1.0.1",
        "",
        "Files:",
        "- schools/11AA.yaml",
        "- schools/22BB.yaml",
    ])
    assert repo.git("diff", "--name-only", "main", "HEAD").splitlines() == [
        "schools/11AA.yaml", "schools/22BB.yaml"
    ]
    assert "git push -u origin bump/delta-1.0.1" in result.out


def test_bump_without_a_branch_writes_in_place_and_leaves_committing_to_the_user(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "11AA",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert repo.read("schools/11AA.yaml") == SCHOOL_11AA_BUMPED
    assert repo.git("status", "--porcelain") == "M schools/11AA.yaml"
    assert repo.branch == "main"


def test_an_environment_type_gets_an_override_in_the_files_own_style(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.1", "--environment", "acceptance",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert result.out.splitlines()[:2] == [
        "Bump delta acceptance environments to OKE 1.1:",
        "  delta/11AA/acceptance: OKE 1.0 → 1.1",
    ]
    assert "skipped: 22BB: its delta connection has no acceptance environment" in result.out
    assert repo.read("schools/11AA.yaml") == SCHOOL_11AA_BUMPED.replace(
        '"1.0.1"    # the chain runs 1.0', '"1.0"      # the chain runs 1.0'
    ).replace(
        "        secret: {env: DELTA_11AA}\n",
        "        secret: {env: DELTA_11AA}\n    environments:\n      acceptance: {oke_version: \"1.1\"}\n",
    )


def test_a_bump_drops_overrides_it_makes_redundant_and_keeps_pilots_ahead(make_repo: MakeRepo) -> None:
    school = """\
        code: 44DD
        name: ROC Dd
        federation: surfconext
        schac_home: dd.example
        connections:
          delta:
            profile: standard
            oke_version: "1.0"
            flows: [0, 2, 3, 4]
            environments:
              production: {oke_version: "1.0"}   # held back until the exam period ends
              acceptance: {oke_version: "1.1"}   # piloting 1.1
              test: {type: test, oke_version: "1.0.1"}
        """
    repo = make_repo()
    repo.commit("44DD", {"schools/44DD.yaml": school})

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "44DD",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert repo.read("schools/44DD.yaml") == (
        "code: 44DD\n"
        "name: ROC Dd\n"
        "federation: surfconext\n"
        "schac_home: dd.example\n"
        "connections:\n"
        "  delta:\n"
        "    profile: standard\n"
        '    oke_version: "1.0.1"\n'
        "    flows: [0, 2, 3, 4]\n"
        "    environments:\n"
        '      acceptance: {oke_version: "1.1"}   # piloting 1.1\n'
        "      test: {type: test}\n"
    )


def test_bump_refuses_on_a_dirty_tree_and_writes_nothing(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.write({"schools/33CC.yaml": repo.read("schools/33CC.yaml") + "# wip\n"})
    before = repo.read("schools/11AA.yaml")

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--branch", "b",
                     "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err == (
        "refusing to bump: the working tree has uncommitted changes (schools/33CC.yaml); "
        "commit or stash them\n"
    )
    assert repo.read("schools/11AA.yaml") == before
    assert repo.branch == "main"


def test_an_unknown_version_is_one_line_and_exit_1(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "2.0", "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err == "unknown OKE version '2.0'; policies/versions.yaml lists: 1.0, 1.0.1, 1.1\n"
    assert repo.git("status", "--porcelain") == ""


def test_an_unknown_supplier_is_one_line_and_exit_1(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "gamma", "--oke-version", "1.0.1", "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err == "unknown supplier 'gamma'; known: delta, planwijs\n"


def test_a_version_the_supplier_does_not_support_is_refused(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "planwijs", "--oke-version", "1.1", "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err.startswith("planwijs does not support OKE 1.1")


def test_an_existing_branch_is_refused_before_anything_is_written(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.git("branch", "taken")

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--branch", "taken",
                     "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err == "branch 'taken' already exists; pick another name or delete it first\n"
    assert repo.git("status", "--porcelain") == ""
    assert repo.branch == "main"


def test_nothing_to_bump_creates_no_branch(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0", "--branch", "noop",
                     "--repo", str(repo.root))

    assert result.exit_code == 0
    assert result.out == "Nothing to bump: every affected environment already runs OKE 1.0.\n"
    assert "noop" not in repo.git("branch")


def test_comments_after_a_dropped_override_block_stay_with_the_next_entry(make_repo: MakeRepo) -> None:
    school = """\
        code: 55EE
        name: ROC Ee
        federation: surfconext
        schac_home: ee.example
        connections:
          delta:
            profile: standard
            oke_version: "1.0"
            flows: [0, 2, 3, 4]
            environments:
              acceptance: {oke_version: "1.0.1"}   # first in line for 1.0.1

          # the planning system follows delta's releases
          planwijs:
            profile: minimal
            oke_version: "1.0"
            flows: [1, 5]
        """
    repo = make_repo()
    repo.commit("55EE", {"schools/55EE.yaml": school})

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "55EE",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert repo.read("schools/55EE.yaml") == (
        "code: 55EE\n"
        "name: ROC Ee\n"
        "federation: surfconext\n"
        "schac_home: ee.example\n"
        "connections:\n"
        "  delta:\n"
        "    profile: standard\n"
        '    oke_version: "1.0.1"\n'
        "    flows: [0, 2, 3, 4]\n"
        "\n"
        "  # the planning system follows delta's releases\n"
        "  planwijs:\n"
        "    profile: minimal\n"
        '    oke_version: "1.0"\n'
        "    flows: [1, 5]\n"
    )


DELTA_55EE = """\
code: 55EE
name: ROC Ee
federation: surfconext
schac_home: ee.example
connections:
  delta:
    profile: standard
    oke_version: "{version}"
    flows: [0, 2, 3, 4]
    environments:
"""
KEPT = (
    "      # the pilot runs ahead of the chain\n"
    '      pilot: {type: pilot, oke_version: "1.1"}\n'
)
TRAINING = (
    "      # the training environment is new\n"
    '      training: {type: test, oke_version: "1.1"}\n'
)
DROPPED = (
    "      # acceptance tries 1.0.1 before production\n"
    '      acceptance: {oke_version: "1.0.1"}   # first in line\n'
)


@pytest.mark.parametrize(
    "environments",
    [
        KEPT + DROPPED + TRAINING,  # the dropped override takes the comment above it
        DROPPED.split("\n", 1)[1] + KEPT + TRAINING,  # the first: the next comments stay put
    ],
    ids=["in-between", "first"],
)
def test_a_dropped_override_takes_its_own_comment_and_leaves_the_others_in_place(
    make_repo: MakeRepo, environments: str
) -> None:
    repo = make_repo()
    repo.commit("55EE", {"schools/55EE.yaml": DELTA_55EE.format(version="1.0") + environments})

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "55EE",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert repo.read("schools/55EE.yaml") == DELTA_55EE.format(version="1.0.1") + KEPT + TRAINING


def test_an_environment_bump_to_the_connections_own_version_changes_no_file(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0", "--environment", "production",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert result.out == "Nothing to bump: every affected environment already runs OKE 1.0.\n"
    assert repo.git("status", "--porcelain") == ""


def _without_identity(repo: GitRepo, tmp_path: Path) -> dict[str, str]:
    """okectl's environment when git knows no one: a new HOME, no global or system
    configuration, and the repository's own identity removed."""
    repo.git("config", "--unset", "user.name")
    repo.git("config", "--unset", "user.email")
    home = tmp_path / "home"
    home.mkdir()
    # Without this git may still make up an identity from the host name on a machine with a
    # full domain name; with it, git refuses on every machine, as it does here on a bare host.
    (home / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "OKECTL_TODAY": EXAMPLE_TODAY,
        "PYTHONPATH": str(PROJECT),
    }


def _okectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "okectl", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def _snapshot(repo: GitRepo) -> tuple[str, str, str, dict[str, str]]:
    files = {p.relative_to(repo.root).as_posix(): p.read_text() for p in repo.root.rglob("*.yaml")}
    head, branches = repo.git("rev-parse", "HEAD"), repo.git("branch", "--list")
    return head, branches, repo.git("status", "--porcelain"), files


def test_bump_on_a_branch_without_a_git_identity_refuses_and_changes_nothing(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo()
    env = _without_identity(repo, tmp_path)
    # git itself refuses to commit here: that is the situation.
    assert subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], cwd=repo.root, env=env,
                          capture_output=True, check=False).returncode != 0
    before = _snapshot(repo)

    result = _okectl(env, "bump", "--supplier", "delta", "--oke-version", "1.0.1", "--branch", "bump/delta",
                     "--repo", str(repo.root))

    assert result.returncode == 1
    assert result.stderr == (
        "git does not know who you are, so okectl will not commit: set it with "
        'git config --global user.name "Your Name" and git config --global user.email you@example.com, '
        'or pass --author "Name <email>"\n'
    )
    assert result.stdout == ""
    assert _snapshot(repo) == before  # no commit, no branch, the working tree as it was
    assert repo.branch == "main"


def test_bump_on_a_branch_commits_as_the_author_given(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo()
    env = _without_identity(repo, tmp_path)

    result = _okectl(env, "bump", "--supplier", "delta", "--oke-version", "1.0.1", "--branch", "bump/delta",
                     "--author", "Ann Example <ann@example.org>", "--repo", str(repo.root))

    assert result.returncode == 0, result.stderr
    assert repo.branch == "bump/delta"
    assert repo.git("log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "Ann Example <ann@example.org>|Ann Example <ann@example.org>"
    )
    assert repo.git("rev-list", "--count", "HEAD") == "2"


def test_bump_on_a_branch_commits_as_gits_own_user(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--branch", "bump/delta",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert repo.git("log", "-1", "--format=%an <%ae>") == "Adoption Team <team@example.org>"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--branch", "b", "--author", "Ann Example"),
         "--author 'Ann Example': write it as \"Name <email>\", e.g. \"Adoption Team <team@example.org>\""),
        (("--author", "Ann Example <ann@example.org>"), "--author names who commits: it goes with --branch"),
    ],
)
def test_a_malformed_or_stray_author_is_refused_before_anything_is_written(
    make_repo: MakeRepo, args: tuple[str, ...], message: str
) -> None:
    repo = make_repo()
    before = _snapshot(repo)

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", *args, "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err == message + "\n"
    assert _snapshot(repo) == before
