"""A tenant the supplier's credential cannot see is an error for that supplier, never a
plan to create everything in it. Through the real sandbox server, with scoped credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.support.cli import clean_failure, run_cli
from tests.support.repos import write_tree
from tests.support.sandbox import Sandbox, run


def _school(code: str) -> str:
    return f"""
        code: {code}
        name: School {code}
        federation: surfconext
        schac_home: school-{code.lower()}.example
        connections:
          delta-toets:
            profile: standard
            oke_version: "1.0"
            flows: [0, 2, 3, 4]
        """


def _repo(root: Path, sandbox: Sandbox, schools: list[str]) -> Path:
    files = {
        "okectl.yaml": "repository: example\n",
        "policies/versions.yaml": 'oke_versions:\n  "1.0": {ooapi: "5.0", status: final}\n',
        "environments/standard.yaml": "id: standard\nenvironments:\n  production: {type: production}\n",
        "suppliers/delta-toets.yaml": f"""
            id: delta-toets
            name: Delta Toets
            roles: [ta]
            flows: [0, 2, 3, 4]
            api:
              provider: http
              url: {sandbox.api()}
              auth:
                token_url: {sandbox.api()}/oauth/token
                client_id: school-21rc
                client_secret: {{env: DELTA_ADMIN_SECRET}}
            """,
    }
    files.update({f"schools/{code}.yaml": _school(code) for code in schools})
    return write_tree(root, files)


@pytest.fixture(autouse=True)
def admin_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTA_ADMIN_SECRET", "secret-21rc")


def test_a_school_the_credential_cannot_see_fails_that_supplier(tmp_path: Path, sandbox: Sandbox) -> None:
    root = _repo(tmp_path / "repo", sandbox, ["21RC", "23KM"])
    lines = clean_failure(run_cli("plan", "--repo", str(root)))
    assert (
        "supplier delta-toets: its credential cannot see the tenant(s) 23KM configured for it; "
        "ask the supplier for access, or check api.auth"
    ) in lines
    # Without 23KM the same credential plans normally: 21RC is visible to it.
    only = _repo(tmp_path / "only", sandbox, ["21RC"])
    planned = run_cli("plan", "--repo", str(only))
    assert planned.exit_code in (0, 2), planned.err
    assert "23KM" not in planned.out


def test_a_new_school_the_credential_may_see_is_planned(
    tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dev credential sees every tenant (tenant:*): a school unknown to the supplier is new.
    root = _repo(tmp_path / "repo", sandbox, ["21RC", "99NW"])
    supplier = root / "suppliers" / "delta-toets.yaml"
    supplier.write_text(
        supplier.read_text(encoding="utf-8").replace("client_id: school-21rc", f"client_id: {DEV_CLIENT_ID}"),
        encoding="utf-8",
    )
    monkeypatch.setenv("DELTA_ADMIN_SECRET", DEV_CLIENT_SECRET)
    planned = run_cli("plan", "--repo", str(root))
    assert planned.exit_code == 0, planned.err
    assert "delta-toets/99NW/production" in planned.out


def test_without_a_token_scope_the_supplier_is_asked_per_unknown_school(sandbox: Sandbox) -> None:
    async def scenario() -> tuple[list[str], int]:
        async with sandbox.provider(client_id="school-21rc", client_secret="secret-21rc") as p:
            await p.list_tenants()
            # A supplier whose token names no tenants: okectl asks it about each school it
            # did not list, with a one-item listing.
            p._scope_tenants = None
            before = p.requests
            denied = await p.denied_tenants(["21RC", "23KM", "99NW"])
            return denied, p.requests - before

    denied, requests = run(scenario())
    assert denied == ["23KM", "99NW"]
    assert requests == 2
