"""The embedded sandbox answers reads in-process, and a document reaches okectl's checks
the same whether it came from the embedded sandbox or over a socket from a served one."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from okectl.adapters.sandbox import SANDBOX_URL_ENV
from okectl.config.repository import load_state
from okectl.config.settings import load_settings
from okectl.engine.validate import validate_repository
from okectl.model.resources import Address
from okectl.providers.base import ProviderError
from okectl.providers.http.provider import HttpProvider
from okectl.providers.registry import make_provider
from okectl.sandbox.seed import seed_in_sync
from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.support.sandbox import run
from tests.support.serving import serve_in_background
from tools.fleet import generate_fleet

SUPPLIER = "delta-toets"


@pytest.fixture(autouse=True)
def no_sandbox_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SANDBOX_URL_ENV, raising=False)


def _embedded_read(root: Path) -> Any:
    """Every resource the embedded sandbox lists for the supplier, or the error's text."""
    state = load_state(root)

    async def read() -> Any:
        p = make_provider(state.suppliers[SUPPLIER], repo_root=root, settings=load_settings(root))
        try:
            return await p.read_resources(None)
        finally:
            await p.aclose()

    try:
        return sorted((str(r.address), r.etag, r.unaddressable, r.spec) for r in run(read()))
    except ProviderError as exc:
        return str(exc)


def _served_read(root: Path) -> Any:
    """The same, from the same database served over a real socket, read the same way."""
    state = load_state(root)
    with serve_in_background(root / ".okectl" / "sandbox.db") as url:
        api = f"{url}/s/{SUPPLIER}"
        provider = HttpProvider(
            state.suppliers[SUPPLIER],
            api_url=api,
            token_url=f"{api}/oauth/token",
            client_id=DEV_CLIENT_ID,
            client_secret=DEV_CLIENT_SECRET,
            read_strategy="all-tenants",
        )

        async def read() -> Any:
            async with provider as p:
                return await p.read_resources(None)

        try:
            found = run(read())
        except ProviderError as exc:
            return str(exc)
    return sorted((str(r.address), r.etag, r.unaddressable, r.spec) for r in found)


def _tamper(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the stored document of one of the supplier's role bindings."""
    con = sqlite3.connect(root / ".okectl" / "sandbox.db")
    try:
        rowid, text = con.execute(
            "SELECT id, doc FROM resources WHERE supplier = ? AND kind = 'role' ORDER BY id LIMIT 1",
            (SUPPLIER,),
        ).fetchone()
        doc = json.loads(text)
        change(doc)
        con.execute("UPDATE resources SET doc = ? WHERE id = ?", (json.dumps(doc), rowid))
        con.commit()
    finally:
        con.close()


def _no_kind(doc: dict[str, Any]) -> None:
    doc["kind"] = "rolebinding"


def _labels_listed(doc: dict[str, Any]) -> None:
    doc["labels"] = ["managed-by"]


def _echoes_the_secret(doc: dict[str, Any]) -> None:
    doc["groups"] = [*doc["groups"], f"copied {DEV_CLIENT_SECRET} here"]


def _odd_name(doc: dict[str, Any]) -> None:
    doc["role"] = "../../admin"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_no_kind, "a resource has no known kind"),
        (_labels_listed, "is not an object"),
        (_echoes_the_secret, "holds a secret okectl sent it"),
        (_odd_name, None),
    ],
    ids=["unknown-kind", "labels-not-an-object", "secret-echoed", "unaddressable-name"],
)
def test_a_stored_document_gets_the_same_answer_embedded_and_served(
    example_repo: Path, change: Callable[[dict[str, Any]], None], expected: str | None
) -> None:
    before = _embedded_read(example_repo)  # creates and seeds the embedded database
    assert isinstance(before, list) and before
    _tamper(example_repo, change)
    embedded = _embedded_read(example_repo)
    served = _served_read(example_repo)
    if expected is None:
        # Listed, never written: escaped and with the reason, both ways.
        odd = [r for r in embedded if r[2] is not None]
        assert len(odd) == 1 and "../../admin" not in odd[0][0]
        assert [r[:3] for r in embedded] == [r[:3] for r in served]
    else:
        assert isinstance(embedded, str) and expected in embedded
        assert embedded == served


def test_writes_reach_the_embedded_sandbox_and_the_next_read_sees_them(example_repo: Path) -> None:
    state = load_state(example_repo)

    async def scenario() -> tuple[str, dict[Address, str]]:
        settings = load_settings(example_repo)
        p = make_provider(state.suppliers[SUPPLIER], repo_root=example_repo, settings=settings)
        try:
            env = next(r for r in await p.read_resources(None) if r.address.kind == "environment")
            address = Address(SUPPLIER, env.address.school, env.address.environment, "role", "proctor")
            written = await p.create(address, {"name": "Surveillant", "groups": ["proctors"]}, {"a": "b"})
            return written.etag, {r.address: r.etag for r in await p.read_resources(None)}
        finally:
            await p.aclose()

    etag, listed = run(scenario())
    assert any(a.name == "proctor" and e == etag for a, e in listed.items())


def test_a_plan_against_the_embedded_sandbox_loads_no_http_stack(tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    generate_fleet(repo, schools=3, suppliers=2, seed=1)
    validated = validate_repository(repo)
    db = repo / ".okectl" / "sandbox.db"
    db.parent.mkdir(parents=True)
    seed_in_sync(db, validated.resources, load_settings(repo).repository)
    script = (
        "import sys\n"
        "from okectl.cli import main\n"
        f"code = main(['plan', '--repo', {str(repo)!r}, '--detailed-exitcode'])\n"
        "print(code, sorted(m for m in ('httpx', 'starlette', 'aiohttp') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
