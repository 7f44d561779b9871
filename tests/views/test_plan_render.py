"""Plan renderers: what a reviewer reads in a terminal and in a pull-request comment."""

from __future__ import annotations

from pathlib import Path

from okectl.model.resources import Address
from okectl.model.scope import Scope
from okectl.plans.changes import Change, FieldChange, Mark, Plan
from okectl.plans.document import plan_document
from okectl.plans.run import PlanRun
from okectl.views.plan_markdown import LIMIT, MARKER, render_markdown
from okectl.views.plan_text import render_text


def run_with(changes: list[Change], repo: Path) -> PlanRun:
    return PlanRun(
        plan=Plan(changes=changes, in_sync=3),
        repository="example",
        scope=Scope(),
        commit="0123456789abcdef",
        dirty=False,
        created_at="2026-11-28T12:00:00+00:00",
    )


def update(i: int) -> Change:
    return Change(
        Address("delta-toets", f"{i % 100:02d}AB", f"env-{i}"),
        "update",
        {},
        {},
        [FieldChange("oke_version", "1.0", "1.0.1"), FieldChange("secret", None, None, sensitive=True)],
        etag="e",
    )


def test_text_groups_by_supplier_and_school_without_colour_off_a_terminal(example_repo: Path) -> None:
    text = render_text(run_with([update(1)], example_repo), color=False)
    assert "\x1b[" not in text
    assert text.splitlines() == [
        "okectl plan · repository example · commit 0123456789ab",
        "Actions are shown with these symbols:",
        "  ~ update in place",
        "",
        "delta-toets",
        "  01AB",
        "    ~ delta-toets/01AB/env-1  update",
        '        oke_version: "1.0" → "1.0.1"',
        "        secret: (sensitive) changed",
        "Plan: 0 to create, 1 to update, 0 to delete; 3 in sync, 0 unmanaged left alone.",
    ]


def test_text_uses_colour_on_a_terminal(example_repo: Path) -> None:
    assert "\x1b[" in render_text(run_with([update(1)], example_repo), color=True)


def test_markdown_has_a_marker_a_summary_table_and_collapsed_details(example_repo: Path) -> None:
    md = render_markdown(run_with([update(1)], example_repo))
    assert md.startswith(MARKER)
    assert "| 0 | 0 | 1 | 0 | 3 | 0 |" in md
    assert "<details><summary><b>delta-toets</b>: 0 create, 1 update, 0 delete</summary>" in md
    assert "    secret: (sensitive) changed" in md


def test_markdown_of_a_huge_plan_is_cut_under_the_limit_with_a_note(example_repo: Path) -> None:
    md = render_markdown(run_with([update(i) for i in range(5000)], example_repo))
    assert len(md) <= LIMIT
    assert md.rstrip().endswith("the full plan is in the job's artifact._")
    assert md.count("```") % 2 == 0
    assert md.count("<details>") == md.count("</details>")


def _groups_change() -> Change:
    from okectl.engine.diff import field_changes

    before = {"name": "Surveillant", "groups": ["21rc-surveillanten", "21rc-oud"]}
    after = {"name": "Surveillant", "groups": ["21rc-surveillanten", "21rc-toezicht"]}
    return Change(
        Address("delta-toets", "21RC", "production", "role", "invigilator"),
        "update",
        before,
        after,
        field_changes(before, after),
        etag="e",
    )


def test_a_changed_list_is_shown_element_by_element(example_repo: Path) -> None:
    run = run_with([_groups_change()], example_repo)
    lines = render_text(run, color=False).splitlines()
    at = lines.index("        groups:")
    assert lines[at + 1 : at + 3] == ['          + "21rc-toezicht"', '          - "21rc-oud"']
    md = render_markdown(run)
    assert '    groups:\n+     "21rc-toezicht"\n-     "21rc-oud"\n' in md
    doc = plan_document(run)["changes"][0]["diff"]
    assert doc == [
        {
            "path": "groups",
            "before": ["21rc-surveillanten", "21rc-oud"],
            "after": ["21rc-surveillanten", "21rc-toezicht"],
            "added": ["21rc-toezicht"],
            "removed": ["21rc-oud"],
        }
    ]


def test_legend_names_adoption_and_the_summary_counts_it_on_its_own(example_repo: Path) -> None:
    adopt = update(2)
    adopt.adopt = True
    text = render_text(run_with([update(1), adopt], example_repo), color=False)
    assert "  ~ update in place (adopt and update: also take ownership of what was made by hand)" in text
    assert text.splitlines()[-1] == (
        "Plan: 0 to create, 1 to adopt, 1 to update, 0 to delete; 3 in sync, 0 unmanaged left alone."
    )
    md = render_markdown(run_with([update(1), adopt], example_repo))
    assert "| create | adopt | update | delete | in sync | unmanaged |" in md
    assert "| 0 | 1 | 1 | 0 | 3 | 0 |" in md
    assert "<b>delta-toets</b>: 0 create, 1 adopt, 1 update, 0 delete</summary>" in md


def test_markdown_carries_the_warnings_of_the_text_plan(example_repo: Path) -> None:
    run = run_with([update(1)], example_repo)
    run.plan.warnings.append("secret reference env:X is not set; apply cannot create the 1 client(s)")
    assert "warning: secret reference env:X is not set" in render_text(run, color=False)
    assert "> [!WARNING]\n> **1 warning**\n>\n> - secret reference env:X is not set" in render_markdown(run)


def test_a_marked_change_shows_its_mark_in_text_markdown_and_the_document(example_repo: Path) -> None:
    change = update(1)
    change.marks = (Mark("requested", "sent to the supplier's support desk"),)
    run = run_with([change], example_repo)
    text = render_text(run, color=False).splitlines()
    at = text.index("    ~ delta-toets/01AB/env-1  update")
    assert text[at + 1] == "        requested: sent to the supplier's support desk"
    assert "~ delta-toets/01AB/env-1  (update)\n    requested: sent to the supplier's support desk\n" in (
        render_markdown(run)
    )
    [doc] = plan_document(run)["changes"]
    assert doc["marks"] == [{"kind": "requested", "reason": "sent to the supplier's support desk"}]
    assert "marks" not in plan_document(run_with([update(2)], example_repo))["changes"][0]
