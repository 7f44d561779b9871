"""okectl import --from FILE: a supplier's export seeds and refreshes the recorded state,
confirms the requests it shows and reopens the confirmed ones it contradicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from okectl.requests.writer import WrittenRequest
from tests.support.change_requests import write_requests
from tests.support.cli import run_cli

HEADER = (
    "BRIN;Omgeving;Soort;Naam;type;status;function;OKE-versie;ooapi_version;flows;"
    "sso_mode;sso_federation;sso_schac_home;client_id;scopes;role_name;groups\n"
)
PRODUCTION = (
    "25LV;production;Omgeving;;Productie;live;ta;{oke};5.0;0|2|3|4;required;entree;langeveld.example;;;;\n"
)
ACCEPTANCE = (
    "25LV;acceptance;Omgeving;;Acceptatie;live;ta;1.0;5.0;0|2|3|4;required;entree;langeveld.example;;;;\n"
)
CHILDREN = "".join(
    f"25LV;{env};Client;eduplan;;;;;;;;;;eduplan-25lv;nl-test-admin-flow-0|nl-test-admin-flow-2-3-4;;\n"
    f"25LV;{env};Rol;assessor;;;;;;;;;;;;Beoordelaar;25lv-docenten\n"
    for env in ("production", "acceptance")
)


def _export(tmp_path: Path, oke: str = "1.0", extra: str = "") -> Path:
    path = tmp_path / "deskonly-export.csv"
    path.write_text(HEADER + PRODUCTION.format(oke=oke) + ACCEPTANCE + CHILDREN + extra, encoding="utf-8")
    return path


def test_the_preview_shows_the_difference_and_writes_nothing(desk_repo: Path, tmp_path: Path) -> None:
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(_export(tmp_path)), "--repo", str(desk_repo)
    )
    assert result.exit_code == 0, result.err
    assert result.out.splitlines()[0] == "deskonly/25LV: 6 difference(s) from state/deskonly/25LV.yaml"
    assert "  + deskonly/25LV/production" in result.out
    assert result.out.endswith("Would write 1 record(s). Run again with --write to write them.\n")
    assert not (desk_repo / "state").exists()


def test_an_export_seeds_the_record_and_plan_then_asks_only_for_the_secret(
    desk_repo: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "import",
        "--supplier",
        "deskonly",
        "--from",
        str(_export(tmp_path)),
        "--write",
        "--repo",
        str(desk_repo),
    )
    assert result.exit_code == 0, result.err
    record = (desk_repo / "state/deskonly/25LV.yaml").read_text()
    assert "source: {date: 2026-11-28, export: deskonly-export.csv, export_digest: 'sha256:" in record
    plan = run_cli("plan", "--repo", str(desk_repo))
    # Everything the export shows is in sync; no export holds a secret, so the clients'
    # secrets are the one thing still to exchange.
    assert "Plan: 0 to create, 2 to update, 0 to delete (2 by change request); 4 in sync" in plan.out
    assert plan.out.count("secret: (sensitive) changed") == 2
    again = run_cli(
        "import",
        "--supplier",
        "deskonly",
        "--from",
        str(_export(tmp_path)),
        "--write",
        "--repo",
        str(desk_repo),
    )
    assert again.out == (
        "deskonly/25LV: the export matches state/deskonly/25LV.yaml\n"
        "Nothing to record: deskonly-export.csv matches the recorded state.\n"
    )


def test_an_export_showing_a_requested_change_keeps_evidence_with_the_request(
    requested: tuple[Path, WrittenRequest], tmp_path: Path
) -> None:
    repo, written = requested
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(_export(tmp_path)), "--write", "--repo", str(repo)
    )
    assert result.exit_code == 0, result.err
    # The request also asks for two secrets, which no export can show: observed, still open.
    assert f"observes {written.id}: every change shows in deskonly-export.csv" in result.out
    status = (repo / written.request.rel / "status.yaml").read_text()
    assert "status: open" in status and "event: observed" in status
    [evidence] = (repo / written.request.rel / "evidence").iterdir()
    assert json.loads(evidence.read_text())["outcome"] == "observed"


def test_a_request_without_secrets_is_confirmed_by_an_export_that_shows_it(
    requested: tuple[Path, WrittenRequest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, written = requested
    assert run_cli("requests", "confirm", written.id, "--ref", "DESK-1", "--repo", str(repo)).exit_code == 0
    school = repo / "schools/25LV.yaml"
    school.write_text(school.read_text().replace('oke_version: "1.0"', 'oke_version: "1.0.1"'))
    [upgrade] = write_requests(repo)
    monkeypatch.setenv("OKECTL_TODAY", "2026-12-02")
    export = tmp_path / "upgraded.csv"
    export.write_text(
        HEADER + PRODUCTION.format(oke="1.0.1") + ACCEPTANCE.replace(";1.0;", ";1.0.1;") + CHILDREN,
        encoding="utf-8",
    )
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(export), "--write", "--repo", str(repo)
    )
    assert result.exit_code == 0, result.err
    assert f"confirms {upgrade.id}: every change shows in upgraded.csv" in result.out
    assert "status: confirmed" in (repo / upgrade.request.rel / "status.yaml").read_text()
    plan = run_cli("plan", "--repo", str(repo), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.out


def test_an_export_contradicting_a_confirmed_request_reopens_it(
    requested: tuple[Path, WrittenRequest], tmp_path: Path
) -> None:
    repo, written = requested
    school = repo / "schools/25LV.yaml"
    assert run_cli("requests", "confirm", written.id, "--ref", "DESK-1", "--repo", str(repo)).exit_code == 0
    result = run_cli(
        "import",
        "--supplier",
        "deskonly",
        "--from",
        str(_export(tmp_path, oke="0.9.4")),
        "--write",
        "--repo",
        str(repo),
    )
    assert result.exit_code == 0, result.err
    assert (
        f"reopens {written.id}: deskonly-export.csv contradicts it: "
        "deskonly/25LV/production oke_version is 0.9.4, requested 1.0"
    ) in result.out
    assert "status: open" in (repo / written.request.rel / "status.yaml").read_text()
    listed = run_cli("requests", "list", "--repo", str(repo), "--status", "open")
    assert written.id in listed.out
    assert school.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            HEADER
            + "25LV;production;Omgeving;;Productie;live;ta;1.0;5.0;0|2|x;required;entree;l.example;;;;\n",
            "deskonly-export.csv:2:1: flows.2: Input should be a valid integer",
        ),
        (
            HEADER + "25LV;production;Omgeving;;Productie;live\n",
            "deskonly-export.csv:2:1: has 6 cells, the header 17",
        ),
        (
            HEADER + "25lv;production;Omgeving;;Productie;live;ta;1.0;5.0;0;required;entree;l.example;;;;\n",
            "deskonly-export.csv:2:1: school: String should match pattern '^[0-9]{2}[A-Z]{2}$'",
        ),
        (
            "Instelling;Omgeving\n25LV;production\n",
            "deskonly-export.csv:1:1: no column 'BRIN'; "
            "name it in api.settings.export.columns of the supplier file",
        ),
        (
            HEADER + "25LV;acceptance;Client;eduplan;;;;;;;;;;eduplan-25lv;;;\n",
            "deskonly-export.csv:2:1: deskonly/25LV/acceptance/client/eduplan: "
            "its environment acceptance is not in the export",
        ),
    ],
)
def test_a_bad_export_is_refused_at_its_line_and_nothing_is_written(
    desk_repo: Path, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "deskonly-export.csv"
    path.write_text(content, encoding="utf-8")
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(path), "--write", "--repo", str(desk_repo)
    )
    assert result.exit_code == 1
    assert message in result.err.splitlines()
    assert not (desk_repo / "state").exists()


def test_an_export_that_is_not_text_is_located(desk_repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "deskonly-export.csv"
    path.write_bytes(HEADER.encode() + b"25LV;prod\xffuction\n")
    result = run_cli("import", "--supplier", "deskonly", "--from", str(path), "--repo", str(desk_repo))
    assert result.exit_code == 1
    assert result.err == "deskonly-export.csv:2:10: not utf-8 text; set api.settings.export.encoding\n"


def test_an_export_of_a_fifo_or_an_oversized_file_is_refused(desk_repo: Path, tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    result = run_cli("import", "--supplier", "deskonly", "--from", str(fifo), "--repo", str(desk_repo))
    assert (result.exit_code, result.err) == (1, f"{fifo}: cannot read the export: not a regular file\n")


def test_a_json_export_is_read_with_the_same_mapping(desk_repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    rows = [
        {
            "BRIN": "25LV",
            "Omgeving": env,
            "Soort": "Omgeving",
            "type": kind,
            "status": "live",
            "function": "ta",
            "OKE-versie": "1.0",
            "ooapi_version": "5.0",
            "flows": [0, 2, 3, 4],
            "sso_mode": "required",
            "sso_federation": "entree",
            "sso_schac_home": "langeveld.example",
        }
        for env, kind in (("production", "Productie"), ("acceptance", "Acceptatie"))
    ]
    path.write_text(json.dumps(rows))
    result = run_cli(
        "import", "--supplier", "deskonly", "--from", str(path), "--write", "--repo", str(desk_repo)
    )
    assert result.exit_code == 0, result.err
    plan = run_cli("plan", "--repo", str(desk_repo))
    assert "Plan: 4 to create, 0 to update, 0 to delete (4 by change request); 2 in sync" in plan.out


def test_import_from_is_only_for_suppliers_managed_by_requests(desk_repo: Path, tmp_path: Path) -> None:
    result = run_cli(
        "import", "--supplier", "eduplan", "--from", str(_export(tmp_path)), "--repo", str(desk_repo)
    )
    assert result.exit_code == 1
    assert result.err.startswith("supplier eduplan has api.provider sandbox: its state is read from its API")
