"""`okectl apply --reviewed FILE`: apply exactly what a review approved. Through the real
command line, with real git repositories and the sandbox supplier as a real HTTP server: the
plan a pull request showed is saved, the configuration moves on (or not), and the apply at
merge plans afresh and compares before it writes anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import CliResult, run_cli
from tests.support.git import BASE_FILES, GitRepo

MakeRepo = Callable[..., GitRepo]
pytestmark = pytest.mark.timeout(120)

SCHOOL_22BB = BASE_FILES["schools/22BB.yaml"]
SCHOOL_11AA = BASE_FILES["schools/11AA.yaml"]


def _version(text: str, version: str) -> str:
    return text.replace('oke_version: "1.0"', f'oke_version: "{version}"', 1)



@pytest.fixture
def repo(make_repo: MakeRepo, sandbox: str) -> GitRepo:
    made = make_repo()
    done = run_cli("apply", "--repo", str(made.root), "--auto-approve")
    assert done.exit_code == 0, done.err
    return made


def _review(repo: GitRepo, tmp_path: Path, *args: str) -> Path:
    """The plan a pull request shows, saved as its workflow keeps it."""
    out = tmp_path / "reviewed.json"
    done = run_cli("plan", "--repo", str(repo.root), "--out", str(out), *args)
    assert done.exit_code == 0, done.err
    return out


def _apply_reviewed(repo: GitRepo, reviewed: Path) -> CliResult:
    return run_cli("apply", "--repo", str(repo.root), "--reviewed", str(reviewed), "--auto-approve")


def _journals(repo: GitRepo) -> int:
    return len(list((repo.root / ".okectl" / "runs").glob("*.jsonl")))


def _pending(repo: GitRepo) -> str:
    done = run_cli("plan", "--repo", str(repo.root))
    assert done.exit_code == 0, done.err
    return done.out


def test_an_identical_plan_is_applied_and_says_so(repo: GitRepo, tmp_path: Path) -> None:
    head = repo.commit("22BB to 1.0.1", {"schools/22BB.yaml": _version(SCHOOL_22BB, "1.0.1")})
    reviewed = _review(repo, tmp_path)

    result = _apply_reviewed(repo, reviewed)

    assert result.exit_code == 0, result.err
    said = f"{reviewed} (made at commit {head[:12]}): planning now makes 1 change(s), each as reviewed"
    assert said in result.err
    assert "delta/22BB/production: updated" in result.out
    assert "No changes." in _pending(repo)


def test_an_extra_change_refuses_the_whole_apply_before_any_write(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("22BB to 1.0.1", {"schools/22BB.yaml": _version(SCHOOL_22BB, "1.0.1")})
    reviewed = _review(repo, tmp_path)
    # Merged after the review: a change nobody reviewed.
    repo.commit("11AA to 1.0.1 as well", {"schools/11AA.yaml": _version(SCHOOL_11AA, "1.0.1")})
    runs = _journals(repo)

    result = _apply_reviewed(repo, reviewed)

    assert result.exit_code == 1
    assert result.err.splitlines()[-3:] == [
        f"{reviewed}: delta/11AA/acceptance (update): not in the reviewed plan: planning now gives an update",
        f"{reviewed}: delta/11AA/production (update): not in the reviewed plan: planning now gives an update",
        f"{reviewed}: planning now makes 2 change(s) the reviewed plan does not; nothing was applied "
        "(review the plan as it is now: okectl plan)",
    ]
    # Nothing was written, not even the reviewed change, and no journal was opened.
    assert _journals(repo) == runs
    pending = _pending(repo)
    assert "~ delta/22BB/production  update" in pending and "~ delta/11AA/production  update" in pending


def test_other_values_than_reviewed_are_refused_with_the_difference(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit("22BB to 1.0.1", {"schools/22BB.yaml": _version(SCHOOL_22BB, "1.0.1")})
    reviewed = _review(repo, tmp_path)
    repo.commit("22BB to 1.1 instead", {"schools/22BB.yaml": _version(SCHOOL_22BB, "1.1")})

    result = _apply_reviewed(repo, reviewed)

    assert result.exit_code == 1
    assert (
        f"{reviewed}: delta/22BB/production (update): other values than reviewed "
        "(oke_version: reviewed '1.0.1', now '1.1')"
    ) in result.err.splitlines()
    assert "~ delta/22BB/production  update" in _pending(repo)


def test_fewer_changes_than_reviewed_are_applied_and_the_rest_is_said(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit(
        "22BB and 11AA to 1.0.1",
        {
            "schools/22BB.yaml": _version(SCHOOL_22BB, "1.0.1"),
            "schools/11AA.yaml": _version(SCHOOL_11AA, "1.0.1"),
        },
    )
    reviewed = _review(repo, tmp_path)
    repo.commit("11AA stays on 1.0 after all", {"schools/11AA.yaml": SCHOOL_11AA})

    result = _apply_reviewed(repo, reviewed)

    assert result.exit_code == 0, result.err
    assert (
        "2 reviewed change(s) are no longer needed (done already, or the configuration asks for them "
        "no more), fewer is fine: delta/11AA/acceptance, delta/11AA/production"
    ) in result.err
    assert "Apply: 1 applied" in result.out
    assert "No changes." in _pending(repo)


def test_a_change_outside_the_reviewed_scope_is_left_for_its_own_review(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit("22BB to 1.0.1", {"schools/22BB.yaml": _version(SCHOOL_22BB, "1.0.1")})
    # The pull request's plan covers what it touches, as plan --changed-since scopes it.
    reviewed = _review(repo, tmp_path, "--school", "22BB")
    repo.commit("11AA to 1.0.1", {"schools/11AA.yaml": _version(SCHOOL_11AA, "1.0.1")})

    result = _apply_reviewed(repo, reviewed)

    assert result.exit_code == 0, result.err
    pending = _pending(repo)
    assert "delta/22BB/production" not in pending and "~ delta/11AA/production  update" in pending


def test_a_secret_value_other_than_reviewed_is_refused(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    school = SCHOOL_11AA.replace(
        "scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]", "scopes: [nl-test-admin-flow-2-3-4]"
    )
    repo.commit("11AA's client needs flows 2-4 only", {"schools/11AA.yaml": school})
    reviewed = _review(repo, tmp_path)
    monkeypatch.setenv("DELTA_11AA", "a-value-nobody-reviewed")

    result = _apply_reviewed(repo, reviewed)

    assert result.exit_code == 1
    assert (
        f"{reviewed}: delta/11AA/production/client/planwijs (update): "
        "the value behind its secret reference is not the one reviewed"
    ) in result.err.splitlines()
    assert "a-value-nobody-reviewed" not in result.err + result.out


def test_a_reviewed_plan_of_another_repository_or_a_damaged_one_is_refused(
    repo: GitRepo, tmp_path: Path
) -> None:
    repo.commit("22BB to 1.0.1", {"schools/22BB.yaml": _version(SCHOOL_22BB, "1.0.1")})
    reviewed = _review(repo, tmp_path)
    damaged = tmp_path / "damaged.json"
    doc = json.loads(reviewed.read_text())
    doc["changes"][0]["after"]["oke_version"] = "1.1"
    damaged.write_text(json.dumps(doc))
    repo.commit("another repository id", {"okectl.yaml": 'repository: other\nsecrets: {env: ["DELTA_*"]}\n'})

    other = _apply_reviewed(repo, reviewed)
    broken = _apply_reviewed(repo, damaged)
    both = run_cli("apply", str(reviewed), "--repo", str(repo.root), "--reviewed", str(reviewed))

    assert other.exit_code == 1
    assert "the plan was made for repository 'test', not this one ('other'); nothing was applied" in other.err
    assert broken.exit_code == 1
    assert "the plan file's checksum does not match its content; re-plan" in broken.err
    assert both.exit_code == 1
    assert "give a plan FILE to apply, or --reviewed FILE to apply what planning now gives" in both.err
