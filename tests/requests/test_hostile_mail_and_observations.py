"""What a supplier file or a supplier's endpoint controls reaches a change request's e-mail
and its record only in the shape asked for: a subject is one line whatever the supplier's
name holds, a request goes only to one plain address, and an OKE version an endpoint claims
counts only when it is a version."""

from __future__ import annotations

from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
import yaml

from okectl.engine.workspace import load_workspace
from okectl.requests.observe import EndpointSeen, observe_endpoints
from okectl.requests.writer import WrittenRequest
from tests.support.change_requests import REPO
from tests.support.cli import run_cli
from tests.support.repos import write_tree

SUPPLIER = "suppliers/deskonly.yaml"


def _supplier(repo: Path, old: str, new: str) -> None:
    write_tree(repo, {SUPPLIER: REPO[SUPPLIER].replace(old, new)})


@pytest.mark.parametrize("brk", ["\\r\\n", "\\n", "\\r", "\\u2028", "\\x85", "\\x0b"])
def test_a_line_break_in_the_suppliers_name_never_starts_a_header(desk_repo: Path, brk: str) -> None:
    _supplier(desk_repo, "name: DeskOnly Toetsen", f'name: "DeskOnly{brk}Bcc: evil@attacker.example"')
    result = run_cli("apply", "--auto-approve", "--repo", str(desk_repo))
    assert result.exit_code == 0, result.err
    [eml] = desk_repo.glob("requests/deskonly/*/request.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["Bcc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["servicedesk@deskonly.example"]
    assert str(message["Subject"]).endswith("(DeskOnly Bcc: evil@attacker.example)")
    assert b"\nBcc:" not in eml.read_bytes()


@pytest.mark.parametrize(
    "address",
    ["a,b@deskonly.example", "x<evil@attacker.example>", '"x"@deskonly.example'],
)
def test_a_support_address_that_is_not_one_address_writes_no_request(desk_repo: Path, address: str) -> None:
    _supplier(desk_repo, "email: servicedesk@deskonly.example", f"email: '{address}'")
    result = run_cli("apply", "--auto-approve", "--repo", str(desk_repo))
    assert result.exit_code == 1, result.out
    assert "Traceback" not in result.err and "internal error" not in result.err
    # Refused where it is written, before anything is planned (the e-mail builder refuses
    # it too, should one reach it another way).
    lines = result.err.strip().splitlines()
    refused = f"support.email: {address!r} is not an e-mail address"
    assert any(line.startswith("suppliers/deskonly.yaml:") and refused in line for line in lines), lines
    assert not (desk_repo / "requests").exists()


# What an endpoint may claim on GET / that is not an OKE version: no version at all, the
# wrong shape, another script's digits, control characters, a huge string.
CLAIMS = [
    "",
    "latest",
    "1",
    "1.0.1.2",
    "v1.0.1",
    " 1.0.1",
    "1.0.1\n",
    "1.0.1\x1b[2J",
    "1.0.1\u202e",
    "\u0661.\u0660.\u0661",  # Arabic-Indic digits: \\d matches them
    "\uff11.\uff10",  # full-width digits
    "1000.0",
    "1." + "0" * 100_000,
]


@pytest.mark.parametrize("claim", CLAIMS, ids=[repr(c)[:24] for c in CLAIMS])
def test_a_claim_that_is_not_a_version_neither_reopens_nor_writes(
    requested: tuple[Path, WrittenRequest], claim: str
) -> None:
    repo, written = requested
    confirmed = run_cli("requests", "confirm", written.request.id, "--ref", "DESK-1", "--repo", str(repo))
    assert confirmed.exit_code == 0, confirmed.err
    before = {p: p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}
    seen = [EndpointSeen("deskonly/25LV/production", "https://oke.deskonly.example/25lv", True, claim)]
    ws = load_workspace(repo)
    done = observe_endpoints(ws.root, ws.state, seen, level=2, day=date(2026, 12, 1))
    assert done.observations == [] and done.records == []
    assert {p: p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()} == before


def test_a_version_that_contradicts_the_record_reopens_it(requested: tuple[Path, WrittenRequest]) -> None:
    """The control of the corpus above: a claim of the right shape is an observation."""
    repo, written = requested
    assert (
        run_cli("requests", "confirm", written.request.id, "--ref", "DESK-1", "--repo", str(repo)).exit_code
        == 0
    )
    seen = [EndpointSeen("deskonly/25LV/production", "https://oke.deskonly.example/25lv", True, "1.0.1")]
    ws = load_workspace(repo)
    done = observe_endpoints(ws.root, ws.state, seen, level=2, day=date(2026, 12, 1))
    assert [o.outcome for o in done.observations] == ["reopens"]
    record = yaml.safe_load((repo / "state/deskonly/25LV.yaml").read_text(encoding="utf-8"))
    assert record["environments"]["production"]["oke_version"] == "1.0.1"
