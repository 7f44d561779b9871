"""Drift at a supplier managed by change requests: its actual state is the record of what
it confirmed (state/), so drift is an export contradicting the configuration, never a
confirmed request or a secret still to exchange. The record's history is real git history."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from okectl.commands.drift import drift
from okectl.engine.planner import make_plan
from okectl.engine.workspace import load_workspace
from okectl.gitops.drift.detect import find_drift
from tests.support.change_requests import REPO, SECRET, write_requests
from tests.support.cli import run_cli
from tests.support.git import GitRepo

HEADER = (
    "BRIN;Omgeving;Soort;Naam;type;status;function;OKE-versie;ooapi_version;flows;"
    "sso_mode;sso_federation;sso_schac_home;client_id;scopes;role_name;groups\n"
)
ENVIRONMENT = "25LV;{env};Omgeving;;{type};live;ta;{oke};5.0;0|2|3|4;required;entree;langeveld.example;;;;\n"
CHILDREN = "".join(
    f"25LV;{env};Client;eduplan;;;;;;;;;;eduplan-25lv;nl-test-admin-flow-0|nl-test-admin-flow-2-3-4;;\n"
    f"25LV;{env};Rol;assessor;;;;;;;;;;;;Beoordelaar;25lv-docenten\n"
    for env in ("production", "acceptance")
)


def _export(folder: Path, production: str = "1.0") -> Path:
    path = folder / "deskonly-export.csv"
    rows = ENVIRONMENT.format(env="production", type="Productie", oke=production) + ENVIRONMENT.format(
        env="acceptance", type="Acceptatie", oke="1.0"
    )
    path.write_text(HEADER + rows + CHILDREN, encoding="utf-8")
    return path


def _import(repo: Path, export: Path) -> None:
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(export), "--write", "--repo", str(repo)
    )
    assert result.exit_code == 0, result.err


@pytest.fixture
def desk(make_repo: Callable[..., GitRepo], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> GitRepo:
    monkeypatch.setenv("DESK_25LV_SECRET", SECRET)
    monkeypatch.delenv("OKECTL_SANDBOX_URL", raising=False)
    supplier = textwrap.dedent(REPO["suppliers/deskonly.yaml"]) + "drift: accept\n"
    files = {**REPO, "suppliers/deskonly.yaml": supplier, ".gitignore": ".okectl/\n"}
    return make_repo(files)


def test_an_export_that_matches_the_configuration_leaves_only_the_secrets_to_exchange(
    desk: GitRepo, tmp_path: Path
) -> None:
    _import(desk.root, _export(tmp_path))
    desk.commit("record the export")

    report = find_drift(load_workspace(desk.root))

    # No export shows a secret: exchanging it is the configuration's to ask, not drift.
    assert report.findings == []
    assert [str(c.address) for c in report.configured] == [
        "deskonly/25LV/acceptance/client/eduplan",
        "deskonly/25LV/production/client/eduplan",
    ]


def test_an_export_contradicting_the_configuration_is_drift_committed_or_not(
    desk: GitRepo, tmp_path: Path
) -> None:
    _import(desk.root, _export(tmp_path))
    desk.commit("record the export")
    _import(desk.root, _export(tmp_path, production="1.0.1"))

    uncommitted = find_drift(load_workspace(desk.root))
    desk.commit("record the newer export")
    committed = find_drift(load_workspace(desk.root))

    for report in (uncommitted, committed):
        (finding,) = report.findings
        assert [(m.path, m.actual) for m in finding.moved] == [("oke_version", "1.0.1")]
        assert [str(p.address) for p in finding.places] == ["deskonly/25LV/production"]


def test_a_configuration_change_after_the_export_is_not_drift(desk: GitRepo, tmp_path: Path) -> None:
    _import(desk.root, _export(tmp_path))
    desk.commit("record the export")
    school = desk.read("schools/25LV.yaml").replace('oke_version: "1.0"', 'oke_version: "1.0.1"')
    desk.commit("25LV to 1.0.1", {"schools/25LV.yaml": school})

    report = find_drift(load_workspace(desk.root))

    assert report.findings == []
    assert {"deskonly/25LV/production", "deskonly/25LV/acceptance"} <= {
        str(c.address) for c in report.configured
    }


def test_a_confirmed_request_an_export_contradicts_is_drift_and_accepting_it_plans_to_a_no_op(
    desk: GitRepo, tmp_path: Path
) -> None:
    (written,) = write_requests(desk.root)
    confirmed = run_cli("requests", "confirm", written.id, "--ref", "DESK-1", "--repo", str(desk.root))
    assert confirmed.exit_code == 0, confirmed.err
    desk.commit("deskonly confirmed DESK-1")
    assert find_drift(load_workspace(desk.root)).findings == []
    _import(desk.root, _export(tmp_path, production="1.0.1"))
    desk.commit("deskonly's export")

    run = drift(load_workspace(desk.root), accept=True, branch="accept-deskonly")

    (finding,) = run.report.findings
    assert (finding.supplier, [str(p.address) for p in finding.places]) == (
        "deskonly",
        ["deskonly/25LV/production"],
    )
    assert run.outcome(finding).status == "accepted"
    assert desk.branch == "accept-deskonly"
    plan = make_plan(load_workspace(desk.root))
    assert "deskonly/25LV/production" not in {str(c.address) for c in plan.plan.changes}
    assert find_drift(load_workspace(desk.root)).findings == []
    assert 'production: {oke_version: "1.0.1"}' in desk.read("schools/25LV.yaml")
    assert subprocess.run(["git", "diff", "--quiet", "main", "--", "state"], cwd=desk.root).returncode == 0
    # The request the export reopened asks for what the configuration no longer wants: the
    # plan says what to do with it rather than asking the supplier again.
    planned = run_cli("plan", "--repo", str(desk.root))
    assert f"change request {written.id} is open but asks for what the plan no longer proposes" in planned.out
    assert "No changes." in planned.out




@pytest.fixture
def healing_desk(make_repo: Callable[..., GitRepo], monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    monkeypatch.setenv("DESK_25LV_SECRET", SECRET)
    monkeypatch.delenv("OKECTL_SANDBOX_URL", raising=False)
    supplier = textwrap.dedent(REPO["suppliers/deskonly.yaml"]) + "drift: heal\n"
    return make_repo({**REPO, "suppliers/deskonly.yaml": supplier, ".gitignore": ".okectl/\n"})


def _request_folders(repo: Path) -> list[Path]:
    return sorted(p for p in (repo / "requests").glob("*/*") if p.is_dir())


def test_healing_a_supplier_changed_by_its_desk_asks_it_again_in_a_change_request(
    healing_desk: GitRepo, tmp_path: Path
) -> None:
    _import(healing_desk.root, _export(tmp_path))
    healing_desk.commit("record the export")
    _import(healing_desk.root, _export(tmp_path, production="1.0.1"))
    healing_desk.commit("record the newer export")

    healed = run_cli("drift", "--heal", "--detailed-exitcode", "--repo", str(healing_desk.root))

    # Asked for: settled for this run, not "healed" (nothing changed yet) nor "not healed".
    assert healed.exit_code == 0, (healed.out, healed.err)
    assert "[heal: requested]" in healed.out
    (folder,) = _request_folders(healing_desk.root)
    assert f"in change request {folder.name}" in healed.out
    asked = json.loads((folder / "request.json").read_text())
    assert "deskonly/25LV/production" in {c["address"] for c in asked["changes"]}
    planned = run_cli("plan", "--repo", str(healing_desk.root), "--output", "json")
    plan = json.loads(planned.out)
    assert "deskonly/25LV/production" not in {c["address"] for c in plan["changes"]}
    assert "deskonly/25LV/production" in {a["address"] for a in plan["awaiting"]}


def test_healing_a_reopened_request_writes_nothing_new(healing_desk: GitRepo, tmp_path: Path) -> None:
    (written,) = write_requests(healing_desk.root)
    root = str(healing_desk.root)
    assert run_cli("requests", "confirm", written.id, "--ref", "DESK-1", "--repo", root).exit_code == 0
    healing_desk.commit("deskonly confirmed DESK-1")
    _import(healing_desk.root, _export(tmp_path, production="1.0.1"))
    healing_desk.commit("deskonly's export reopens DESK-1")

    healed = run_cli("drift", "--heal", "--repo", str(healing_desk.root))

    assert healed.exit_code == 0, (healed.out, healed.err)
    assert "[heal: requested]" in healed.out
    assert "asked again: " in healed.out and written.id in healed.out
    assert [p.name for p in _request_folders(healing_desk.root)] == [written.id]
