"""The recorded state (state/<supplier>/<school>.yaml) and the configuration of a requests
supplier are read as every configuration file is: each mistake at its file:line:col."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cli import run_cli

RECORD = """\
# yaml-language-server: $schema=../../schema/state.schema.json
supplier: deskonly
school: 25LV
environments:
  production:
    type: productie
    oke_version: 1.0
    flows: [0, 2]
"""


def _write(repo: Path, rel: str, text: str) -> Path:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_validate_reports_every_mistake_in_a_record_at_its_place(desk_repo: Path) -> None:
    _write(desk_repo, "state/deskonly/25LV.yaml", RECORD)
    result = run_cli("validate", "--repo", str(desk_repo))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        "state/deskonly/25LV.yaml:6:11: environments.production.type: 'productie' is not one of production, "
        "acceptance, test, pilot, chain-test; did you mean 'production'?",
        "state/deskonly/25LV.yaml:7:18: environments.production.oke_version: "
        'YAML reads 1.0 as the number 1.0; versions are text, quote it: "1.0"',
    ]


def test_a_record_under_another_schools_name_is_refused(desk_repo: Path) -> None:
    _write(
        desk_repo,
        "state/deskonly/25LV.yaml",
        RECORD.replace("25LV", "44TW").replace("productie", "production").replace("1.0", '"1.0"'),
    )
    result = run_cli("plan", "--repo", str(desk_repo))
    assert result.exit_code == 1
    assert "state/deskonly/25LV.yaml:3:9: school '44TW' does not match the file name" in result.err


def test_a_record_that_is_a_link_out_of_the_repository_is_refused(desk_repo: Path, tmp_path: Path) -> None:
    outside = _write(tmp_path, "elsewhere.yaml", RECORD)
    (desk_repo / "state/deskonly").mkdir(parents=True)
    os.symlink(outside, desk_repo / "state/deskonly/25LV.yaml")
    result = run_cli("validate", "--repo", str(desk_repo))
    assert result.exit_code == 1
    assert result.err.startswith("state/deskonly/25LV.yaml:1:1: leads outside the repository")


def test_a_requests_supplier_needs_a_support_address_and_a_secret_channel(desk_repo: Path) -> None:
    path = desk_repo / "suppliers/deskonly.yaml"
    text = path.read_text()
    text = text.replace("    secret_channel: by phone with the school's application administrator\n", "")
    text = text.replace("email: servicedesk@deskonly.example, ", "")
    path.write_text(text)
    result = run_cli("validate", "--repo", str(desk_repo))
    assert result.exit_code == 1
    lines = result.err.splitlines()
    assert any(
        ln.endswith("a supplier managed by change requests needs support.email, the address requests go to")
        for ln in lines
    ), lines
    assert any(
        "api.settings.secret_channel: Field required (the requests adapter's settings)" in ln for ln in lines
    )


def test_escalation_before_the_sla_is_a_located_mistake(desk_repo: Path) -> None:
    path = desk_repo / "suppliers/deskonly.yaml"
    path.write_text(path.read_text().replace("escalate_after_days: 10", "escalate_after_days: 3"))
    result = run_cli("validate", "--repo", str(desk_repo))
    assert result.exit_code == 1
    assert "escalate_after_days (3) is before sla_days (5)" in result.err
    assert result.err.startswith("suppliers/deskonly.yaml:18:82: support.escalate_after_days: ")
