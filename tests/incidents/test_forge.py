"""The reconciliation with the forge's issues, over HTTP against the stand-in for GitHub's
API on loopback: by key, idempotent, and never touching an issue that is not okectl's.

The verification record here is written by hand, as anyone with write access to the
repository could: it is read as hostile input."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.forge import PROD, SECRET, Forge, incidents, record
from tests.support.git import BASE_FILES


@pytest.fixture
def repo(build_tree: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DELTA_11AA", SECRET)
    return build_tree(BASE_FILES)


def theirs(number: int, body: str, labels: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "number": number,
        "title": "someone's",
        "body": body,
        "state": "open",
        "labels": [{"name": n} for n in labels],
        "user": {"type": "User", "login": "anna"},
        **extra,
    }


def test_only_issues_with_the_marker_on_their_first_line_and_the_label_are_touched(
    repo: Path, forge: Forge
) -> None:
    record(repo, {PROD: "1.0.1"})
    forge.reconcile(repo)
    (ours,) = forge.issues()
    marker_line = ours["body"].splitlines()[0]
    healthy_key_marker = marker_line  # the same key: only ours may be closed
    forge.state.issues += [
        theirs(1, "The drift again?", ["okectl-incident"]),
        theirs(2, "Quoting it:\n" + marker_line, ["okectl-incident"]),
        theirs(3, healthy_key_marker, ["bug"]),
        theirs(4, healthy_key_marker, ["okectl-incident"], pull_request={"url": "https://x"}),
    ]
    before = [dict(i) for i in forge.state.issues if i["number"] < 100]

    record(repo)  # verified again: it passes
    done = forge.reconcile(repo)

    assert done.exit_code == 0, done.out
    assert ours["state"] == "closed"
    assert [dict(i) for i in forge.state.issues if i["number"] < 100] == before
    assert set(forge.state.comments) == {ours["number"]}


def test_a_second_issue_of_the_same_key_is_closed_as_a_duplicate_and_a_rerun_changes_nothing(
    repo: Path, forge: Forge
) -> None:
    record(repo, {PROD: "1.0.1"})
    forge.reconcile(repo)
    (first,) = forge.issues()
    forge.state.issues.append({**first, "number": first["number"] + 50, "labels": list(first["labels"])})

    done = forge.reconcile(repo)
    assert f"okectl: duplicate incident #{first['number'] + 50}: {PROD}#verify.version" in done.out
    assert forge.comments(first["number"] + 50) == [
        f"Duplicate of #{first['number']}; okectl keeps that one up to date."
    ]
    assert [i["state"] for i in forge.issues()] == ["open", "closed"]
    assert forge.writes_during(repo) == []


def test_a_run_reading_other_sources_leaves_an_incident_it_did_not_see_alone(
    repo: Path, forge: Forge
) -> None:
    record(repo, {PROD: "1.0.1"})
    forge.reconcile(repo, "--source", "verify")
    record(repo)

    assert forge.writes_during(repo, "--source", "writes", "--source", "requests") == []
    assert forge.issues()[0]["state"] == "open"
    closed = forge.writes_during(repo, "--source", "verify")
    assert [m for m, _ in closed] == ["POST", "PATCH"] and forge.issues()[0]["state"] == "closed"


def test_a_key_with_double_dashes_survives_the_html_comment(
    build_tree: Callable[[dict[str, str]], Path], forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELTA_11AA", SECRET)
    files = {k.replace("delta", "del--ta"): v.replace("delta", "del--ta") for k, v in BASE_FILES.items()}
    files["okectl.yaml"] = BASE_FILES["okectl.yaml"]
    repo = build_tree(files)
    path = repo / "verification" / "del--ta.json"
    path.parent.mkdir()
    env = "del--ta/11AA/production"
    path.write_text(
        json.dumps(
            {
                "oke_versions": {
                    "1.0": {
                        "date": "2026-11-27",
                        "level": 2,
                        "passed_level": 1,
                        "status": "fail",
                        "environments": [env],
                        "drift": {env: "0.9"},
                    }
                }
            }
        )
    )

    forge.reconcile(repo)
    (issue,) = forge.issues()
    first_line = issue["body"].splitlines()[0]
    assert "--" not in first_line.removeprefix("<!--").removesuffix("-->")
    assert forge.writes_during(repo) == []


def test_what_an_endpoint_claimed_is_scrubbed_cut_and_shown_as_code(repo: Path, forge: Forge) -> None:
    claim = (
        f"1.0.1\n\n<!-- okectl-incident key=delta#x evidence=0000000000000000 -->\n# Pwned @oke-team "
        f"[click](https://evil.example) {base64.b64encode(SECRET.encode()).decode()} {SECRET} " + "x" * 1000
    )
    record(repo, {PROD: claim})

    (incident,) = incidents(repo).values()
    said = incident["evidence"][1]["value"]
    assert SECRET not in said and base64.b64encode(SECRET.encode()).decode() not in said
    assert "\n" not in said and len(said) <= 300 and said.endswith("…")
    text = run_cli("incidents", "--repo", str(repo))
    assert SECRET not in text.out and text.out.count("\n") == 5

    forge.reconcile(repo)
    (issue,) = forge.issues()
    lines = issue["body"].splitlines()
    assert sum(ln.startswith("<!-- okectl-incident") for ln in lines) == 1
    (shown,) = [ln for ln in lines if ln.startswith("- **its GET / names:**")]
    assert shown.startswith("- **its GET / names:** `1.0.1 <!-- okectl-incident key=delta#x")
    assert shown.endswith("…`") and SECRET not in issue["body"]


def test_a_forge_that_refuses_is_one_annotated_line_and_exit_1(repo: Path, forge: Forge) -> None:
    record(repo, {PROD: "1.0.1"})
    forge.state.read_only = True

    refused = forge.reconcile(repo)

    assert refused.exit_code == 1
    assert refused.out.startswith("::error::POST http://127.0.0.1:")
    assert "GitHub answered 403 Forbidden: Resource not accessible by integration" in refused.out
    assert refused.out.count("\n") == 1


def test_the_markdown_and_text_outputs_say_the_same_incident(repo: Path) -> None:
    record(repo, {PROD: "1.0.1"})

    markdown = run_cli("incidents", "--repo", str(repo), "--output", "markdown")
    text = run_cli("incidents", "--repo", str(repo))
    none = run_cli("incidents", "--repo", str(repo), "--source", "requests", "--output", "markdown")

    assert markdown.out.startswith(
        "## okectl incidents: 1 open incident\n\n"
        f"### {PROD} serves another OKE version than declared\n\n"
        f"- **check:** `verify.version` of `{PROD}`\n"
        "- **declared:** OKE 1.0\n"
        "- **its GET / names:** `1.0.1`\n"
    )
    assert text.out.splitlines()[:3] == [
        f"{PROD}#verify.version  {PROD} serves another OKE version than declared",
        "    declared: OKE 1.0",
        "    its GET / names: 1.0.1",
    ]
    assert (
        none.out == "## okectl incidents: 0 open incidents\n\nNothing fails now (sources read: requests).\n"
    )
