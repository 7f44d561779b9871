"""`okectl promote` through the real command line, on real git repositories whose commits
carry the dates a rollout would have: each gate refuses on its own and says which (with
the day it passes or the command to run), a pass recorded before the version changed does
not count, waves go in order, and a promotion on a branch edits only the wave's schools
with their comments kept."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.cli import CliResult, run_cli
from tests.support.git import SUPPLIER_DELTA, VERSIONS, GitRepo

MakeRepo = Callable[..., GitRepo]
# How a gate's line starts, and the line under a failing one that says what makes it pass.
PASS, FAIL, THEN = "    pass  ", "    FAIL  ", " " * 21 + "→ "
VERIFY_TEST = "okectl verify --supplier delta --school 11AA --environment test --level 3 --record"

PROFILE_EXTENDED = """
    id: extended
    environments:
      production: {type: production}
      acceptance: {type: acceptance}
      test: {type: test}
"""
PROFILE_MINIMAL = """
    id: minimal
    environments:
      production: {type: production}
"""
SCHOOL = """
    code: {code}
    name: ROC {code}
    federation: surfconext
    schac_home: {domain}.example
    connections:
      delta:
        profile: {profile}
        oke_version: "1.0"      # the chain runs 1.0
        flows: [0, 2, 3, 4]
"""
ROLLOUT = """
    # The pilot goes first.
    gates: {min_level: 3, max_verify_age_days: 14, soak_days: 7}
    waves:
      - name: pilot
        schools: [11AA]
      - name: rest
        schools: ["*"]
"""
FILES = {
    "okectl.yaml": "repository: test\n",
    "suppliers/delta.yaml": SUPPLIER_DELTA,
    "environments/extended.yaml": PROFILE_EXTENDED,
    "environments/minimal.yaml": PROFILE_MINIMAL,
    "policies/versions.yaml": VERSIONS,
    "policies/rollout.yaml": ROLLOUT,
    "schools/11AA.yaml": SCHOOL.format(code="11AA", domain="aa", profile="extended"),
    "schools/22BB.yaml": SCHOOL.format(code="22BB", domain="bb", profile="minimal"),
    "schools/33CC.yaml": SCHOOL.format(code="33CC", domain="cc", profile="extended"),
}


def _on(monkeypatch: pytest.MonkeyPatch, day: str, hour: str = "10:00") -> None:
    """Commits from here on are made on ``day`` at ``hour`` in Amsterdam's winter time (git's
    own form, which GitPython reads too), and okectl's day is that day."""
    moment = datetime.fromisoformat(f"{day}T{hour}:00+01:00")
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(name, f"{int(moment.timestamp())} +0100")
    monkeypatch.setenv("OKECTL_TODAY", day)


def _record(repo: GitRepo, version: str, results: dict[str, tuple[str, int]], **extra: object) -> None:
    """The record okectl verify --record keeps: per environment, when it started and the level it passed."""
    path = repo.root / "verification" / "delta.json"
    doc = json.loads(path.read_text()) if path.exists() else {"supplier": "delta", "oke_versions": {}}
    entry = doc["oke_versions"].setdefault(
        version,
        {
            "date": "2026-11-01", "level": 3, "passed_level": 3, "status": "pass",
            "environments": [], "results": {},
        },
    )
    for address, (started, passed) in results.items():
        entry["results"][address] = {
            "date": started[:10], "started": started, "level": 3, "passed_level": passed,
        }
        entry["date"] = max(entry["date"], started[:10])
        entry["environments"] = sorted({*entry["environments"], address})
    entry.update(extra)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _promote(repo: GitRepo, *args: str) -> CliResult:
    return run_cli("promote", "--repo", str(repo.root), "--supplier", "delta", "--oke-version", "1.1", *args)


def _gate(result: CliResult, school: str, gate: str) -> list[str]:
    """The lines of one gate of one school (its evidence, and the remedy when it fails)."""
    lines = result.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {school}  "))
    for i in range(start + 1, len(lines)):
        if lines[i].split()[1:2] == [gate]:
            end = i + 1
            while end < len(lines) and lines[end].startswith("          "):
                end += 1
            return lines[i:end]
    raise AssertionError(f"no gate {gate} for {school} in:\n{result.out}")


@pytest.fixture
def repo(make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """OKE 1.1 in 11AA's test environment since 2026-11-02, verified there on 2026-11-03."""
    _on(monkeypatch, "2026-11-01")
    made = make_repo(FILES)
    _on(monkeypatch, "2026-11-02")
    bumped = run_cli(
        "bump", "--repo", str(made.root), "--supplier", "delta", "--oke-version", "1.1",
        "--environment", "test", "--school", "11AA",
    )
    assert bumped.exit_code == 0, bumped.err
    made.commit("11AA tests OKE 1.1")
    _on(monkeypatch, "2026-11-03")
    _record(made, "1.1", {"delta/11AA/test": ("2026-11-03T09:00:00Z", 3)})
    made.commit("verified 11AA test at OKE 1.1")
    return made


def test_every_gate_passes_and_the_wave_moves_on_a_branch_with_its_comments(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _on(monkeypatch, "2026-11-12")
    body = tmp_path / "body.md"
    bumped = _short(repo, "HEAD~1")

    result = _promote(repo, "--to", "acceptance", "--branch", "promote-1.1-pilot", "--body-file", str(body))

    assert result.exit_code == 0, result.out + result.err
    assert _gate(result, "11AA", "verified") == [
        PASS + "verified   delta/11AA/test passed level 3 on 2026-11-03 (started 2026-11-03T09:00:00+00:00), "
        f"after OKE 1.1 was set there on 2026-11-02 (commit {bumped}); counts until 2026-11-17",
    ]
    soak = _gate(result, "11AA", "soak")[0]
    assert soak.startswith(PASS + "soak       delta/11AA/test runs OKE 1.1 since 2026-11-02")
    assert "Every gate passes." in result.out
    # Only the wave's school is edited, in place, its comment kept.
    assert repo.branch == "promote-1.1-pilot"
    assert repo.git("show", "--name-only", "--format=", "HEAD").splitlines() == ["schools/11AA.yaml"]
    school = repo.read("schools/11AA.yaml")
    assert 'oke_version: "1.0"      # the chain runs 1.0' in school
    assert 'acceptance: {oke_version: "1.1"}' in school and 'test: {oke_version: "1.1"}' in school
    message = repo.git("log", "-1", "--format=%B")
    assert message.startswith("Promote delta to OKE 1.1 in acceptance: wave pilot\n\n")
    assert "| 11AA | verified | pass | delta/11AA/test passed level 3 on 2026-11-03" in message
    assert body.read_text().strip() in message


def _short(repo: GitRepo, ref: str) -> str:
    return repo.git("rev-parse", "--short=7", ref)


def test_dry_run_shows_the_gates_and_what_would_move_and_changes_nothing(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on(monkeypatch, "2026-11-12")
    head = repo.git("rev-parse", "HEAD")

    result = _promote(repo, "--dry-run")

    assert result.exit_code == 0, result.out + result.err
    # Without --to: the first wave not there yet, its next stage.
    assert result.out.startswith("Promote delta to OKE 1.1 in acceptance: wave pilot\n")
    assert "  delta/11AA/acceptance: OKE 1.0 → 1.1" in result.out
    assert "Every gate passes. --dry-run: nothing was changed." in result.out
    assert repo.git("rev-parse", "HEAD") == head and repo.git("status", "--porcelain") == ""


def test_no_recorded_verification_refuses_with_the_command_to_run(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo.root / "verification" / "delta.json").unlink()
    repo.commit("forget the record")
    _on(monkeypatch, "2026-11-12")

    result = _promote(repo, "--to", "acceptance")

    assert result.exit_code == 1
    assert _gate(result, "11AA", "verified") == [
        FAIL + "verified   no verification of delta/11AA/test at OKE 1.1 is recorded",
        THEN + "run: " + VERIFY_TEST,
    ]
    assert "Refused: 1 gate(s) fail (11AA: verified); nothing was changed." in result.out
    assert repo.git("status", "--porcelain") == ""


def test_a_pass_recorded_before_the_version_changed_does_not_count(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A later change to the test environment (back to 1.0, then to 1.1 again) after the pass.
    _on(monkeypatch, "2026-11-04")
    school = repo.read("schools/11AA.yaml")
    back = school.replace('test: {oke_version: "1.1"}', 'test: {oke_version: "1.0.1"}')
    repo.commit("11AA test back on 1.0.1", {"schools/11AA.yaml": back})
    _on(monkeypatch, "2026-11-05")
    repo.commit("11AA test on 1.1 again", {"schools/11AA.yaml": school})
    _on(monkeypatch, "2026-11-13")

    result = _promote(repo, "--to", "acceptance")

    assert result.exit_code == 1
    verified = _gate(result, "11AA", "verified")
    assert verified[0] == (
        FAIL + "verified   the recorded pass of delta/11AA/test on 2026-11-03 "
        "(started 2026-11-03T09:00:00+00:00) "
        "is from before OKE 1.1 was set there (2026-11-05T10:00:00+01:00, commit " + _short(repo, "HEAD")
        + "): it verified the old configuration"
    )
    assert verified[1] == THEN + "re-verify: run: " + VERIFY_TEST
    # Soak counts from the same commit: 8 days since 2026-11-05.
    soak = _gate(result, "11AA", "soak")[0]
    assert soak.startswith(PASS + "soak       delta/11AA/test runs OKE 1.1 since 2026-11-05")


def test_a_pass_below_the_level_or_too_old_refuses(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    _on(monkeypatch, "2026-11-18")
    stale = _promote(repo, "--to", "acceptance")
    _record(repo, "1.1", {"delta/11AA/test": ("2026-11-17T09:00:00Z", 2)})
    repo.commit("verified again, level 2 only")
    low = _promote(repo, "--to", "acceptance")

    assert stale.exit_code == 1
    assert _gate(stale, "11AA", "verified")[0].endswith("is older than 14 days")
    assert low.exit_code == 1
    assert _gate(low, "11AA", "verified")[0] == (
        FAIL + "verified   delta/11AA/test passed level 2 only on 2026-11-17 "
        "(started 2026-11-17T09:00:00+00:00); "
        "level 3 is needed"
    )


def test_soak_time_not_yet_over_says_the_day_it_passes(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on(monkeypatch, "2026-11-06")

    result = _promote(repo, "--to", "acceptance")

    assert result.exit_code == 1
    assert _gate(result, "11AA", "soak") == [
        FAIL + "soak       delta/11AA/test runs OKE 1.1 since 2026-11-02 (commit " + _short(repo, "HEAD~1")
        + "): 4 of 7 day(s)",
        THEN + "wait: passes on 2026-11-09",
    ]
    assert (
        "Refused: 1 gate(s) fail (11AA: soak); nothing was changed; waiting is all it takes: "
        "every gate passes "
        "on 2026-11-09."
    ) in result.out


def _to_acceptance(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pilot's acceptance on 1.1 since 2026-11-10, verified there on 2026-11-11."""
    _on(monkeypatch, "2026-11-10")
    done = _promote(repo, "--to", "acceptance")
    assert done.exit_code == 0, done.out
    repo.commit("promote 1.1 to acceptance for the pilot")
    _on(monkeypatch, "2026-11-11")
    _record(repo, "1.1", {"delta/11AA/acceptance": ("2026-11-11T09:00:00Z", 3)})
    repo.commit("verified 11AA acceptance")


def test_an_open_incident_at_the_target_refuses_and_names_it(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _to_acceptance(repo, monkeypatch)
    # The nightly run found production failing verify at the version it runs now.
    _record(
        repo, "1.0", {"delta/11AA/production": ("2026-11-19T02:00:00Z", 1)}, status="fail", passed_level=1,
        date="2026-11-19",
    )
    repo.commit("nightly verify")
    _on(monkeypatch, "2026-11-20")

    result = _promote(repo, "--to", "production")

    assert result.exit_code == 1
    incidents = _gate(result, "11AA", "incidents")
    assert incidents[0].startswith(FAIL + "incidents  1 open: delta: okectl verify fails for OKE 1.0 (")
    assert incidents[1].endswith("→ resolve it; okectl incidents --supplier delta shows the evidence")
    verified = _gate(result, "11AA", "verified")[0]
    assert verified.startswith(PASS + "verified   delta/11AA/acceptance passed level 3")


def test_a_freeze_window_refuses_production_until_the_day_after(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _to_acceptance(repo, monkeypatch)
    repo.commit(
        "exam calendar",
        {
            "policies/calendar.yaml": (
                "windows:\n  - {name: exams-winter, start: 2026-11-16, end: 2026-11-22}\n"
            )
        },
    )
    _on(monkeypatch, "2026-11-20")

    frozen = _promote(repo, "--to", "production")
    monkeypatch.setenv("OKECTL_TODAY", "2026-11-23")
    thawed = _promote(repo, "--to", "production", "--dry-run")

    assert frozen.exit_code == 1
    assert _gate(frozen, "11AA", "freeze") == [
        FAIL + "freeze     freeze window exams-winter (2026-11-16 to 2026-11-22) holds "
        "delta/11AA/production today",
        THEN + "wait: passes on 2026-11-23",
    ]
    assert thawed.exit_code == 0, thawed.out


def test_waves_go_in_order(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    # The rest's test environments run 1.1 too, verified and soaked.
    _on(monkeypatch, "2026-11-02", "11:00")
    bumped = run_cli(
        "bump", "--repo", str(repo.root), "--supplier", "delta", "--oke-version", "1.1",
        "--environment", "test", "--school", "33CC",
    )
    assert bumped.exit_code == 0, bumped.err
    repo.commit("33CC tests 1.1")
    _record(repo, "1.1", {"delta/33CC/test": ("2026-11-03T09:30:00Z", 3)})
    repo.commit("verified 33CC test")
    _on(monkeypatch, "2026-11-12")

    early = _promote(repo, "--to", "acceptance", "--wave", "rest")
    _to_acceptance(repo, monkeypatch)
    _on(monkeypatch, "2026-11-12")
    after = _promote(repo, "--to", "acceptance", "--wave", "rest", "--dry-run")

    assert early.exit_code == 1
    lines = early.out.splitlines()
    assert lines[1:4] == [
        "  wave order",
        FAIL + "order      wave pilot has not reached acceptance at OKE 1.1: delta/11AA/acceptance (1.0)",
        THEN + "promote it first: okectl promote --supplier delta --oke-version 1.1 --to acceptance "
        "--wave pilot",
    ]
    assert after.exit_code == 0, after.out
    assert PASS + "order      wave pilot runs OKE 1.1 in every acceptance environment" in after.out
    # 22BB has production only: nothing moves there in acceptance.
    assert "  22BB  has no acceptance environment for delta" in after.out
    assert "  delta/33CC/acceptance: OKE 1.0 → 1.1" in after.out


def test_a_school_with_production_only_takes_the_evidence_of_its_waves_acceptance(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _to_acceptance(repo, monkeypatch)
    _on(monkeypatch, "2026-11-20")
    pilot = _promote(repo, "--to", "production")
    assert pilot.exit_code == 0, pilot.out
    repo.commit("promote 1.1 to production for the pilot")
    # 33CC of the rest still runs 1.0 in test and acceptance: 22BB borrows the pilot's evidence.

    result = _promote(repo, "--to", "production", "--wave", "rest", "--dry-run")

    assert _gate(result, "22BB", "verified")[0].startswith(
        PASS + "verified   (22BB has no earlier stage: evidence from delta/11AA/acceptance) "
        "delta/11AA/acceptance "
        "passed level 3"
    )
    assert _gate(result, "33CC", "verified")[0] == (
        FAIL + "verified   delta/33CC/acceptance runs OKE 1.0, not 1.1"
    )
    # The last stage of the pilot moved the connection as a whole: one version, no overrides.
    school = repo.read("schools/11AA.yaml")
    assert 'oke_version: "1.1"      # the chain runs 1.0' in school and "environments:" not in school


def test_promote_outside_git_or_without_waves_is_one_line(build_tree: Callable[..., Path]) -> None:
    plain = build_tree(FILES)

    outside = run_cli("promote", "--repo", str(plain), "--supplier", "delta", "--oke-version", "1.1")
    (plain / "policies" / "rollout.yaml").unlink()
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    missing = run_cli("promote", "--repo", str(plain), "--supplier", "delta", "--oke-version", "1.1")

    assert outside.exit_code == 1 and "not inside a git repository" in outside.err
    assert missing.exit_code == 1
    assert missing.err.strip().endswith(
        "promote needs policies/rollout.yaml: the waves of schools a version reaches, in order"
    )


def _run(started: str, level: int = 3, passed: int = 3) -> dict[str, object]:
    return {"date": "2026-11-03", "started": started, "level": level, "passed_level": passed}


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (
            {"other/11AA/test": _run("2026-11-03T09:00:00Z")},
            "results name 'other/11AA/test', not an environment of delta",
        ),
        (
            {"delta/11AA/test": _run("2026-11-03T09:00:00Z", level=2, passed=4)},
            "results of delta/11AA/test: passed_level 4 is above level 2",
        ),
        (
            {"delta/11AA/test": _run("2999-01-01T00:00:00Z")},
            "results of delta/11AA/test: started 2999-01-01T00:00:00+00:00, later than now",
        ),
        (
            {"delta/11AA/test": _run("2026-11-03 09:00")},
            "not a verification record (oke_versions.1.1.results.delta/11AA/test.started:",
        ),
    ],
)
def test_a_record_whose_results_contradict_themselves_is_never_believed(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, result: dict[str, object], problem: str
) -> None:
    path = repo.root / "verification" / "delta.json"
    doc = json.loads(path.read_text())
    doc["oke_versions"]["1.1"]["results"] = result
    path.write_text(json.dumps(doc))
    _on(monkeypatch, "2026-11-12")

    done = _promote(repo, "--to", "acceptance", "--dry-run")

    assert done.exit_code == 1
    (line,) = done.err.splitlines()
    assert line.startswith("verification/delta.json: ") and problem in line


def test_a_real_verification_recorded_after_the_change_lets_the_wave_move(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.support.serving import serve_in_background

    _on(monkeypatch, "2026-11-01")
    repo = make_repo(FILES)
    with serve_in_background(tmp_path / "sandbox.db") as url:
        monkeypatch.setenv("OKECTL_SANDBOX_URL", url)
        assert run_cli("apply", "--repo", str(repo.root), "--auto-approve").exit_code == 0
        _on(monkeypatch, "2026-11-02")
        assert run_cli(
            "bump", "--repo", str(repo.root), "--supplier", "delta", "--oke-version", "1.1",
            "--environment", "test", "--school", "11AA",
        ).exit_code == 0
        repo.commit("11AA tests OKE 1.1")
        before = _promote(repo, "--to", "acceptance", "--dry-run")
        applied = run_cli("apply", "--repo", str(repo.root), "--auto-approve")
        assert applied.exit_code == 0, applied.err
        _on(monkeypatch, "2026-11-05")
        verified = run_cli(
            "verify", "--repo", str(repo.root), "--supplier", "delta", "--school", "11AA",
            "--environment", "test", "--level", "3", "--record",
        )
        assert verified.exit_code == 0, verified.out + verified.err
        repo.commit("verified 11AA test at OKE 1.1")
        _on(monkeypatch, "2026-11-12")
        after = _promote(repo, "--to", "acceptance", "--dry-run")
        assert _promote(repo, "--to", "acceptance").exit_code == 0
        repo.commit("promote 1.1 to acceptance for the pilot")
        assert run_cli("apply", "--repo", str(repo.root), "--auto-approve").exit_code == 0
        _on(monkeypatch, "2026-11-13")
        again = run_cli(
            "verify", "--repo", str(repo.root), "--supplier", "delta", "--school", "11AA",
            "--environment", "acceptance", "--level", "3", "--record",
        )
        assert again.exit_code == 0, again.out + again.err

    # A run of acceptance leaves what the record says of test.
    record = json.loads((repo.root / "verification" / "delta.json").read_text())
    results = record["oke_versions"]["1.1"]["results"]
    assert sorted(results) == ["delta/11AA/acceptance", "delta/11AA/test"]
    assert (results["delta/11AA/test"]["date"], results["delta/11AA/acceptance"]["date"]) == (
        "2026-11-05", "2026-11-13",
    )
    assert before.exit_code == 1
    assert _gate(before, "11AA", "verified")[0] == (
        FAIL + "verified   no verification of delta/11AA/test at OKE 1.1 is recorded"
    )
    assert after.exit_code == 0, after.out
    assert _gate(after, "11AA", "verified")[0].startswith(
        PASS + "verified   delta/11AA/test passed level 3 on 2026-11-05"
    )


def test_on_main_a_version_is_set_when_its_merge_arrives_not_when_its_branch_commit_was_made(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on(monkeypatch, "2026-11-03", "12:00")
    repo.git("switch", "-q", "-c", "pilot-acceptance")
    school = repo.read("schools/11AA.yaml").replace(
        'test: {oke_version: "1.1"}', 'test: {oke_version: "1.1"}\n      acceptance: {oke_version: "1.1"}'
    )
    repo.commit("11AA acceptance to 1.1", {"schools/11AA.yaml": school})
    # Verified between the branch's commit and its merge: the merge is when main changed.
    _record(repo, "1.1", {"delta/11AA/acceptance": ("2026-11-05T09:00:00Z", 3)})
    repo.git("switch", "-q", "main")
    _on(monkeypatch, "2026-11-10")
    repo.git("merge", "-q", "--no-ff", "-m", "merge the pilot's acceptance", "pilot-acceptance")
    _on(monkeypatch, "2026-11-20")

    result = _promote(repo, "--to", "production", "--dry-run")

    assert result.exit_code == 1
    merge = _short(repo, "HEAD")
    assert _gate(result, "11AA", "verified")[0] == (
        FAIL + "verified   the recorded pass of delta/11AA/acceptance on 2026-11-05 "
        f"(started 2026-11-05T09:00:00+00:00) is from before OKE 1.1 was set there "
        f"(2026-11-10T10:00:00+01:00, commit {merge}): it verified the old configuration"
    )
    assert _gate(result, "11AA", "soak")[0].startswith(
        PASS + f"soak       delta/11AA/acceptance runs OKE 1.1 since 2026-11-10 (commit {merge})"
    )
