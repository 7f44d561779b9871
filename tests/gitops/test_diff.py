"""`okectl diff REF1 REF2`: the desired-state difference between commits, by address."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.support.cli import run_cli
from tests.support.git import GitRepo

MakeRepo = Callable[..., GitRepo]


def _changed_repo(make_repo: MakeRepo) -> GitRepo:
    repo = make_repo()
    school = (
        repo.read("schools/11AA.yaml")
        .replace('oke_version: "1.0"      # the chain runs 1.0', 'oke_version: "1.0.1"')
        .replace("secret: {env: DELTA_11AA}", "secret: {env: DELTA_11AA_NEW}")
    )
    repo.commit("move 11AA to 1.0.1", {"schools/11AA.yaml": school})
    profile = repo.read("environments/minimal.yaml") + "  test: {type: test}\n"
    repo.remove("schools/33CC.yaml")
    repo.commit("minimal gets a test environment; 33CC leaves", {"environments/minimal.yaml": profile})
    return repo


def test_diff_shows_added_removed_and_changed_resources_by_address(make_repo: MakeRepo) -> None:
    repo = _changed_repo(make_repo)
    first, last = repo.git("rev-parse", "--short=7", "HEAD~2"), repo.git("rev-parse", "--short=7", "HEAD")

    result = run_cli("diff", "HEAD~2", "HEAD", "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert result.out == "\n".join([
        f"Desired-state difference from HEAD~2 ({first}) to HEAD ({last}):",
        "+ delta/22BB/test  (added)",
        '    flows: [0, 2, 3, 4]',
        '    function: "ta"',
        '    oke_version: "1.0"',
        '    ooapi_version: "5.0"',
        '    sso.federation: "entree"',
        '    sso.mode: "required"',
        '    sso.schac_home: "bb.example"',
        '    status: "live"',
        '    type: "test"',
        "+ planwijs/11AA/test  (added)",
        '    flows: [0, 1, 2, 3, 4, 5]',
        '    function: "tpl"',
        '    oke_version: "1.0"',
        '    ooapi_version: "5.0"',
        '    sso.federation: "surfconext"',
        '    sso.mode: "required"',
        '    sso.schac_home: "aa.example"',
        '    status: "live"',
        '    type: "test"',
        "- planwijs/33CC/acceptance  (removed)",
        "- planwijs/33CC/production  (removed)",
        "~ delta/11AA/acceptance",
        '    oke_version: "1.0" → "1.0.1"',
        "~ delta/11AA/acceptance/client/planwijs",
        "    secret: (sensitive) changed",
        "~ delta/11AA/production",
        '    oke_version: "1.0" → "1.0.1"',
        "~ delta/11AA/production/client/planwijs",
        "    secret: (sensitive) changed",
        "2 added, 2 removed, 4 changed.",
        "",
    ])
    assert "DELTA_11AA" not in result.out


def test_diff_as_json_never_shows_secret_references(make_repo: MakeRepo) -> None:
    repo = _changed_repo(make_repo)

    result = run_cli("diff", "HEAD~2", "HEAD~1", "--repo", str(repo.root), "--output", "json")

    doc = json.loads(result.out)
    assert doc["summary"] == {"added": 0, "removed": 0, "changed": 4}
    assert doc["changed"][1] == {
        "address": "delta/11AA/acceptance/client/planwijs",
        "fields": [{"path": "secret", "sensitive": True, "change": "(sensitive) changed"}],
    }
    assert "DELTA_11AA" not in result.out


def test_no_differences_exits_0_and_says_so(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.commit("docs only", {"README.md": "changed\n"})

    result = run_cli("diff", "HEAD~1", "HEAD", "--repo", str(repo.root), "--detailed-exitcode")

    assert result.exit_code == 0
    assert result.out.startswith("No differences in the desired state between HEAD~1")


def test_detailed_exitcode_is_2_when_there_are_differences(make_repo: MakeRepo) -> None:
    repo = _changed_repo(make_repo)

    result = run_cli("diff", "HEAD~1", "HEAD", "--repo", str(repo.root), "--detailed-exitcode")

    assert result.exit_code == 2


def test_without_a_second_ref_the_work_tree_is_compared(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.write({"schools/22BB.yaml": repo.read("schools/22BB.yaml").replace("entree", "surfconext")})

    result = run_cli("diff", "HEAD", "--repo", str(repo.root))

    assert '    sso.federation: "entree" → "surfconext"' in result.out
    assert result.out.endswith("0 added, 0 removed, 1 changed.\n")


def test_diff_reads_git_objects_and_leaves_the_work_tree_alone(make_repo: MakeRepo) -> None:
    repo = _changed_repo(make_repo)
    before = repo.git("status", "--porcelain")

    run_cli("diff", "HEAD~2", "HEAD", "--repo", str(repo.root))

    assert repo.git("status", "--porcelain") == before
    assert repo.branch == "main"


def test_an_unknown_ref_is_one_clear_line(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("diff", "v9", "HEAD", "--repo", str(repo.root))

    assert result.exit_code == 1
    assert result.err.startswith("unknown git ref 'v9'")
    assert len(result.err.splitlines()) == 1


def test_an_invalid_configuration_at_a_ref_says_which_ref_and_where(make_repo: MakeRepo) -> None:
    repo = make_repo()
    repo.commit("typo", {"schools/22BB.yaml": repo.read("schools/22BB.yaml").replace("name:", "nme:")})

    result = run_cli("diff", "HEAD~1", "HEAD", "--repo", str(repo.root))

    assert result.exit_code == 1
    sha = repo.git("rev-parse", "--short=7", "HEAD")
    assert f"at HEAD ({sha}): schools/22BB.yaml:2:1: unknown field 'nme'" in result.err
