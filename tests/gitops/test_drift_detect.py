"""okectl drift tells what a supplier changed from what the configuration changed, and
groups the supplier's changes by cause across schools. The supplier is the sandbox on a
real socket, the configuration a real git repository, the hand edits made through the
supplier's own administration API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from okectl.engine.workspace import load_workspace
from okectl.gitops.drift.detect import find_drift
from okectl.model.resources import LABEL_COMMIT
from tests.support.cli import run_cli
from tests.support.drift_fleet import Fleet, school

pytestmark = pytest.mark.timeout(120)


def _causes(fleet: Fleet) -> dict[str, list[str]]:
    report = find_drift(load_workspace(fleet.root))
    return {
        f"{f.kind} {f.action} {f.name}{[(m.path, m.actual) for m in f.moved]}": [
            str(p.address) for p in f.places
        ]
        for f in report.findings
    }


def test_the_same_hand_edit_at_three_schools_is_one_finding_with_three_places(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet()
    for code in ("11AA", "22BB", "33CC"):
        fleet.desk.edit(f"{code}/acceptance", oke_version="1.1")
    # The same field moved to another value: another cause.
    fleet.desk.edit("44DD/acceptance", oke_version="1.0.1")

    assert _causes(fleet) == {
        "environment update [('oke_version', '1.0.1')]": ["delta/44DD/acceptance"],
        "environment update [('oke_version', '1.1')]": [
            "delta/11AA/acceptance",
            "delta/22BB/acceptance",
            "delta/33CC/acceptance",
        ],
    }


def test_one_hand_edit_of_two_fields_is_one_cause_and_a_removed_environment_takes_its_clients_along(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet()
    for code in ("11AA", "22BB"):
        fleet.desk.edit(f"{code}/production", oke_version="1.0.1", flows=[0, 2])
    # Removed at the supplier: its client and role binding first (the supplier insists).
    fleet.desk.delete("33CC/acceptance/client/planwijs")
    fleet.desk.delete("33CC/acceptance/role/assessor")
    fleet.desk.delete("33CC/acceptance")

    report = find_drift(load_workspace(fleet.root))

    removed, moved = report.findings
    assert [(m.path, m.actual) for m in moved.moved] == [("flows", [0, 2]), ("oke_version", "1.0.1")]
    assert moved.schools == ["11AA", "22BB"] and moved.what == "changed at the supplier"
    assert moved.places[0].configured == {"flows": [0, 2, 3, 4], "oke_version": "1.0"}
    assert (removed.kind, removed.name, removed.what) == (
        "environment",
        "acceptance",
        "removed at the supplier",
    )
    (place,) = removed.places
    assert [str(c.address) for c in place.children] == [
        "delta/33CC/acceptance/client/planwijs",
        "delta/33CC/acceptance/role/assessor",
    ]
    assert report.configured == [] and report.undetermined == []


def test_a_change_the_configuration_made_is_not_drift_and_a_hand_edit_beside_it_is(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet()
    # Committed after the apply: the configuration moves 11AA to 1.0.1 (not applied yet).
    fleet.repo.commit("11AA to 1.0.1", {"schools/11AA.yaml": school("11AA").replace('"1.0"', '"1.0.1"')})
    # At the supplier: 22BB moved by hand; 11AA's acceptance moved by hand the other way.
    fleet.desk.edit("22BB/production", oke_version="1.1")
    fleet.desk.edit("11AA/acceptance", oke_version="1.1")

    report = find_drift(load_workspace(fleet.root))

    assert [str(c.address) for c in report.configured] == ["delta/11AA/acceptance", "delta/11AA/production"]
    (finding,) = report.findings
    assert [str(p.address) for p in finding.places] == ["delta/22BB/production"]


def test_an_uncommitted_change_of_the_configuration_is_not_drift_either(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet()
    (fleet.root / "schools/11AA.yaml").write_text(
        fleet.repo.read("schools/11AA.yaml").replace("flows: [0, 2, 3, 4]", "flows: [0, 2, 3]")
    )

    report = find_drift(load_workspace(fleet.root))

    assert report.findings == []
    assert [str(c.address) for c in report.configured] == ["delta/11AA/acceptance", "delta/11AA/production"]


def test_a_field_the_configuration_moved_and_another_the_supplier_moved_on_one_resource(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet()
    fleet.repo.commit(
        "fewer flows", {"schools/11AA.yaml": school("11AA").replace("[0, 2, 3, 4]", "[0, 2, 3]")}
    )
    fleet.desk.edit("11AA/production", oke_version="1.1")

    report = find_drift(load_workspace(fleet.root))

    (finding,) = report.findings
    assert [m.path for m in finding.moved] == ["oke_version"]
    (place,) = finding.places
    assert place.mixed and place.configured == {"oke_version": "1.0"}
    assert "delta/11AA/production" in [str(c.address) for c in report.configured]


def test_a_change_okectl_cannot_place_is_undetermined(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet()
    doc, _ = fleet.desk.get("11AA/production")
    fleet.desk.edit("11AA/production", oke_version="1.1", labels={**doc["labels"], LABEL_COMMIT: "by hand"})
    doc, _ = fleet.desk.get("22BB/production")
    gone = "0123456789abcdef0123456789abcdef01234567"
    fleet.desk.edit("22BB/production", oke_version="1.1", labels={**doc["labels"], LABEL_COMMIT: gone})

    report = find_drift(load_workspace(fleet.root))

    assert report.findings == []
    reasons = {str(u.change.address): u.reason for u in report.undetermined}
    assert reasons["delta/11AA/production"].startswith(
        "it was last written from 'by hand', which is not a commit"
    )
    assert reasons["delta/22BB/production"] == (
        "it was last written from commit 0123456789ab, which this clone does not have; fetch the whole "
        "history (actions/checkout with fetch-depth: 0)"
    )


def test_the_report_as_text_json_and_markdown_shows_what_the_supplier_said_escaped(
    make_fleet: Callable[..., Fleet],
) -> None:
    fleet = make_fleet()
    hostile = "docenten\x1b[2J\n# <img src=x onerror=alert(1)> [link](https://evil.example)|"
    for code in ("11AA", "22BB"):
        for env in ("production", "acceptance"):
            fleet.desk.edit(f"{code}/{env}/role/assessor", groups=[hostile])
    repo = str(fleet.root)

    text = run_cli("drift", "--repo", repo)
    as_json = run_cli("drift", "--repo", repo, "--output", "json")
    md = run_cli("drift", "--repo", repo, "--output", "markdown", "--detailed-exitcode")

    assert text.exit_code == 0 and md.exit_code == 2, (text.err, md.err)
    # Shown as JSON text, on its own line: no escape sequence, no new line, no markup of its own.
    assert "\x1b" not in text.out + md.out
    assert text.out.splitlines()[0] == (
        'delta: role groups → ["docenten\\u001b[2J\\n# <img src=x onerror=alert(1)> '
        '[link](https://evil.example)|"], changed at the supplier  [detect: reported]'
    )
    assert not re.search(r"(?<!\\)(<img|\]\(https|\|\")", md.out)
    assert text.out.rstrip().endswith(
        "Drift at the suppliers: 1 finding at 4 places in 2 schools; 1 not settled by this run."
    )
    doc = json.loads(as_json.out)
    (finding,) = doc["findings"]
    assert finding["moved"] == [{"path": "groups", "supplier": [hostile], "sensitive": False}]
    assert finding["schools"] == ["11AA", "22BB"] and finding["outcome"]["status"] == "reported"
    assert doc["summary"] == {"configured": 0, "findings": 1, "places": 4, "undetermined": 0, "unresolved": 1}
    assert "| delta: role groups → " in md.out and "\\<img" in md.out


def test_no_drift_says_so_and_exits_0_with_the_detailed_exit_code(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet()

    result = run_cli("drift", "--repo", str(fleet.root), "--detailed-exitcode")

    assert (result.exit_code, result.out) == (0, "No drift at the suppliers.\n")
