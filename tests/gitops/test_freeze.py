"""Freeze windows (policies/calendar.yaml) through the real command line: plan marks the
changes a window holds back, apply refuses them with one line each (exit 1) unless broken
open with --break-glass --reason (kept in the journal), a waiver of the freeze rule lets a
planned exception through, and policy check reports configuration changed inside a window
from the git history. The sandbox supplier runs as a real HTTP server; `OKECTL_TODAY` moves
the calendar."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.cli import run_cli
from tests.support.git import BASE_FILES, GitRepo

MakeRepo = Callable[..., GitRepo]
pytestmark = pytest.mark.timeout(120)

CALENDAR = """
    windows:
      - name: exams-2026-winter
        description: Winter exams.
        start: 2026-11-25
        end: 2026-12-04
"""
# 22BB's delta connection has production only; 11AA's has production and acceptance.
BUMPED_22BB = BASE_FILES["schools/22BB.yaml"].replace('oke_version: "1.0"', 'oke_version: "1.0.1"')
BUMPED_11AA = BASE_FILES["schools/11AA.yaml"].replace(
    'oke_version: "1.0"      # the chain runs 1.0', 'oke_version: "1.0.1"    # the chain runs 1.0.1'
)
FREEZE_RULE = """
    rules:
      - id: exam-freeze
        kind: freeze
        description: Nothing changes under candidates sitting an exam.
"""
WAIVER_22BB = """
    waivers:
      - policy: exam-freeze
        target: delta/22BB/production
        reason: The supplier's fix for a grading fault; approved by the exam board.
        owner: Exam board <examens@example.org>
        expires: 2026-12-31
"""
FROZEN_LINE = (
    "refused: delta/22BB/production (update): frozen: freeze window exams-2026-winter "
    "(2026-11-25 to 2026-12-04); apply writes it from 2026-12-05 on, or now with --break-glass --reason TEXT"
)



@pytest.fixture
def applied(make_repo: MakeRepo, sandbox: str, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """The base configuration applied before the window, with the calendar in place."""
    repo = make_repo({**BASE_FILES, "policies/calendar.yaml": CALENDAR})
    monkeypatch.setenv("OKECTL_TODAY", "2026-11-01")
    done = run_cli("apply", "--repo", str(repo.root), "--auto-approve")
    assert done.exit_code == 0, done.err
    monkeypatch.setenv("OKECTL_TODAY", "2026-11-28")
    return repo


def _journal_events(repo: GitRepo) -> list[dict[str, object]]:
    """The records of the latest apply's journal."""
    latest = sorted((repo.root / ".okectl" / "runs").glob("*.jsonl"))[-1]
    return [json.loads(line) for line in latest.read_text().splitlines()]


def _pending(repo: GitRepo) -> str:
    result = run_cli("plan", "--repo", str(repo.root))
    assert result.exit_code == 0, result.err
    return result.out


def test_plan_marks_only_the_frozen_environment_with_the_window_and_its_dates(applied: GitRepo) -> None:
    applied.commit("move 11AA to OKE 1.0.1", {"schools/11AA.yaml": BUMPED_11AA})

    result = run_cli("plan", "--repo", str(applied.root), "--detailed-exitcode")

    # Frozen changes are still changes to make: --detailed-exitcode says 2.
    assert result.exit_code == 2, result.err
    lines = result.out.splitlines()
    production = lines.index("    ~ delta/11AA/production  update")
    acceptance = lines.index("    ~ delta/11AA/acceptance  update")
    mark = (
        "        frozen: freeze window exams-2026-winter (2026-11-25 to 2026-12-04); "
        "apply writes it from 2026-12-05 on, or now with --break-glass --reason TEXT"
    )
    assert lines[production + 1] == mark
    assert mark not in lines[acceptance : acceptance + 3]
    assert (
        "warning: 1 change(s) lie inside freeze window(s) exams-2026-winter: apply refuses them until the "
        "window ends, unless run with --break-glass --reason TEXT"
    ) in lines
    saved = run_cli("plan", "--repo", str(applied.root), "--output", "json")
    changes = {c["address"]: c.get("marks") for c in json.loads(saved.out)["changes"]}
    assert changes["delta/11AA/acceptance"] is None
    assert changes["delta/11AA/production"] == [{"kind": "frozen", "reason": mark.split("frozen: ", 1)[1]}]


def test_apply_refuses_a_frozen_production_change_with_one_line_and_exit_1(applied: GitRepo) -> None:
    applied.commit(
        "move 22BB and 11AA to OKE 1.0.1",
        {"schools/22BB.yaml": BUMPED_22BB, "schools/11AA.yaml": BUMPED_11AA},
    )

    result = run_cli("apply", "--repo", str(applied.root), "--auto-approve")

    assert result.exit_code == 1
    refused = [line for line in result.err.splitlines() if line.startswith("refused: ")]
    assert refused == [
        FROZEN_LINE.replace("delta/22BB/production", "delta/11AA/production"),
        FROZEN_LINE,
    ]
    assert "Apply: 1 applied, 0 failed, 2 refused, 0 not attempted." in result.out
    # What was not frozen went in; the frozen changes are still to do.
    pending = _pending(applied)
    assert "delta/11AA/acceptance" not in pending
    assert "~ delta/22BB/production  update" in pending and "~ delta/11AA/production  update" in pending


def test_break_glass_with_a_reason_writes_the_frozen_change_and_the_journal_keeps_why(
    applied: GitRepo,
) -> None:
    applied.commit("move 22BB to OKE 1.0.1", {"schools/22BB.yaml": BUMPED_22BB})
    reason = "grading fault INC-4711 in exam software; approved by the exam board"

    result = run_cli(
        "apply", "--repo", str(applied.root), "--auto-approve", "--break-glass", "--reason", reason
    )

    assert result.exit_code == 0, result.err
    assert f"--break-glass: writing 1 frozen change(s) now; the journal records why: {reason}" in result.err
    assert "No changes." in _pending(applied)
    events = _journal_events(applied)
    (glass,) = [e for e in events if e["event"] == "break-glass"]
    start = events[0]
    assert glass["reason"] == reason
    assert glass["addresses"] == ["delta/22BB/production"]
    assert glass["user"] == start["user"] and glass["user"]
    # Recorded before the write it lets through.
    call = next(e for e in events if e["event"] == "call" and e["address"] == "delta/22BB/production")
    assert events.index(glass) < events.index(call) and call["outcome"] == "applied"


def test_the_day_after_the_window_the_change_goes_in_without_breaking_glass(
    applied: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied.commit("move 22BB to OKE 1.0.1", {"schools/22BB.yaml": BUMPED_22BB})
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-05")

    result = run_cli("apply", "--repo", str(applied.root), "--auto-approve")

    assert result.exit_code == 0, result.err
    assert "refused" not in result.err
    assert not any(e["event"] == "break-glass" for e in _journal_events(applied))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--break-glass"], "--break-glass and --reason go together: --break-glass --reason TEXT"),
        (["--reason", "why not"], "--break-glass and --reason go together: --break-glass --reason TEXT"),
        (["--break-glass", "--reason", "   "], "--break-glass needs a reason: --reason TEXT says why"),
        (["--break-glass", "--reason", "two\nlines"], "--reason: one line of text, at most 500 characters"),
    ],
)
def test_break_glass_needs_one_line_of_reason_and_writes_nothing_without_it(
    applied: GitRepo, args: list[str], message: str
) -> None:
    applied.commit("move 22BB to OKE 1.0.1", {"schools/22BB.yaml": BUMPED_22BB})
    runs = len(list((applied.root / ".okectl" / "runs").glob("*.jsonl")))

    result = run_cli("apply", "--repo", str(applied.root), "--auto-approve", *args)

    assert result.exit_code in (1, 2) and message in result.err
    assert len(list((applied.root / ".okectl" / "runs").glob("*.jsonl"))) == runs
    assert "~ delta/22BB/production  update" in _pending(applied)


def test_a_waiver_of_the_freeze_rule_lets_a_planned_exception_through_and_says_so(
    applied: GitRepo,
) -> None:
    applied.commit(
        "an approved exception",
        {
            "schools/22BB.yaml": BUMPED_22BB,
            "policies/rules.yaml": FREEZE_RULE,
            "policies/waivers.yaml": WAIVER_22BB,
        },
    )

    planned = run_cli("plan", "--repo", str(applied.root))
    result = run_cli("apply", "--repo", str(applied.root), "--auto-approve")

    assert "frozen:" not in planned.out
    assert (
        "warning: delta/22BB/production: inside freeze window exams-2026-winter (2026-11-25 to 2026-12-04), "
        "let through by waiver #1 (exam-freeze for delta/22BB/production, owner Exam board "
        "<examens@example.org>), expires 2026-12-31: The supplier's fix for a grading fault; approved by the "
        "exam board."
    ) in planned.out
    assert result.exit_code == 0, result.err
    assert "No changes." in _pending(applied)


def _commit_on(
    repo: GitRepo, day: str, message: str, files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(name, f"{day}T10:00:00+01:00")
    repo.commit(message, files)


def test_policy_check_reports_configuration_changed_inside_the_window_at_its_line(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({**BASE_FILES, "policies/calendar.yaml": CALENDAR, "policies/rules.yaml": FREEZE_RULE})
    _commit_on(repo, "2026-11-20", "before the window", {"README.md": "configuration, before\n"}, monkeypatch)
    _commit_on(repo, "2026-11-26", "during the window", {"schools/22BB.yaml": BUMPED_22BB}, monkeypatch)

    result = run_cli("policy", "check", "--repo", str(repo.root))
    sarif = json.loads(run_cli("policy", "check", "--repo", str(repo.root), "--output", "sarif").out)
    # What a pull request changes, counted from its base: the base has the change already.
    since_base = run_cli("policy", "check", "--repo", str(repo.root), "--changed-since", "HEAD")

    assert result.exit_code == 3
    (line,) = [ln for ln in result.out.splitlines() if "exam-freeze" in ln]
    assert line.startswith("schools/22BB.yaml:")
    assert (
        "delta/22BB/production changes inside freeze window exams-2026-winter (2026-11-25 to 2026-12-04): "
        "apply refuses to write it before 2026-12-05"
    ) in line
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results if r["ruleId"] == "exam-freeze"] == ["exam-freeze"]
    assert since_base.exit_code == 0, since_base.out
    # The day after the window nothing is frozen, so nothing is reported.
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-05")
    assert run_cli("policy", "check", "--repo", str(repo.root)).exit_code == 0


def test_a_waived_freeze_finding_passes_policy_check(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(
        {
            **BASE_FILES,
            "policies/calendar.yaml": CALENDAR,
            "policies/rules.yaml": FREEZE_RULE,
            "policies/waivers.yaml": WAIVER_22BB,
        }
    )
    _commit_on(repo, "2026-11-20", "before the window", {"README.md": "configuration, before\n"}, monkeypatch)
    _commit_on(repo, "2026-11-26", "during the window", {"schools/22BB.yaml": BUMPED_22BB}, monkeypatch)

    result = run_cli("policy", "check", "--repo", str(repo.root), "--output", "json")

    assert result.exit_code == 0, result.out
    (finding,) = [f for f in json.loads(result.out)["waived"] if f["policy"] == "exam-freeze"]
    assert finding["waived_by"]["owner"] == "Exam board <examens@example.org>"


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        (
            "windows:\n  - {name: exams, start: 2027-06-04, end: 2027-05-10}\n",
            "policies/calendar.yaml:2:5: windows[0]: end 2027-05-10 is before start 2027-06-04; "
            "a window ends on or after its start",
        ),
        (
            "windows:\n  - name: exams\n    start: 2027-05-10\n    end: 2027-06-04\n    freeze:\n"
            "      - suppliers: [delt]\n",
            "policies/calendar.yaml:6:21: unknown supplier 'delt'; did you mean 'delta'?",
        ),
        (
            "windows:\n  - {name: a, start: 2027-05-10, end: 2027-05-11}\n  - {name: a, start: 2027-06-10, "
            "end: 2027-06-11}\n",
            "window name 'a' is used twice",
        ),
    ],
)
def test_a_calendar_mistake_is_one_line_at_its_place(
    make_repo: MakeRepo, calendar: str, problem: str
) -> None:
    repo = make_repo({**BASE_FILES, "policies/calendar.yaml": calendar})

    result = run_cli("validate", "--repo", str(repo.root))

    assert result.exit_code == 1
    assert problem in result.err


def test_by_default_only_test_administration_production_is_frozen_and_adjacent_windows_join(
    applied: GitRepo,
) -> None:
    planwijs = BASE_FILES["schools/33CC.yaml"].replace('oke_version: "1.0"', 'oke_version: "1.0.1"')
    calendar = CALENDAR + "      - {name: resits-2026-winter, start: 2026-12-05, end: 2026-12-10}\n"
    applied.commit(
        "a planning supplier moves, and resits follow the exams",
        {"schools/33CC.yaml": planwijs, "schools/22BB.yaml": BUMPED_22BB, "policies/calendar.yaml": calendar},
    )

    lines = _pending(applied).splitlines()

    # planwijs plays tpl, not ta: its production is not what candidates sit exams in.
    at = lines.index("    ~ planwijs/33CC/production  update")
    assert not lines[at + 1].strip().startswith("frozen:")
    at = lines.index("    ~ delta/22BB/production  update")
    assert lines[at + 1] == (
        "        frozen: freeze window exams-2026-winter (2026-11-25 to 2026-12-04); "
        "apply writes it from 2026-12-11 on, or now with --break-glass --reason TEXT"
    )
