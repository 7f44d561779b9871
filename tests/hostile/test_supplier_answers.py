"""Supplier answers that would make okectl report a write better than it went: each one is
served by a real HTTP server, and the provider must say "outcome unknown", never "done"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from okectl.engine.validate import validate_repository
from okectl.model.resources import Address
from okectl.providers.base import OutcomeUnknown, PreconditionFailed
from tests.support.cli import run_cli
from tests.support.fake_supplier import fake_supplier, provider
from tests.support.sandbox import SUPPLIER, run
from tests.support.serving import serve_in_background

ENV = Address(SUPPLIER, "21RC", "production")
ROLE = Address(SUPPLIER, "21RC", "production", "role", "assessor")
LABELS = {"managed-by": "okectl", "okectl/repository": "example"}
STORED_ROLE: dict[str, Any] = {
    "kind": "role",
    "tenant": "21RC",
    "environment": "production",
    "role": "assessor",
    "name": "Beoordelaar",
    "groups": ["a"],
    "labels": LABELS,
    "etag": 'W/"1"',
}


def test_a_delete_answered_503_then_404_while_the_resource_stays_is_outcome_unknown() -> None:
    deletes: list[str] = []

    async def api(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(STORED_ROLE)  # it is still there
        deletes.append(request.headers.get("if-match", ""))
        if len(deletes) == 1:
            return JSONResponse({"title": "Service Unavailable"}, status_code=503)
        return JSONResponse({"title": "Not Found"}, status_code=404)

    async def scenario(url: str) -> str:
        async with provider(url) as p:
            with pytest.raises(OutcomeUnknown) as caught:
                await p.delete(ROLE, 'W/"1"')
            return str(caught.value)

    with fake_supplier(api) as url:
        message = run(scenario(url))
    assert deletes == ['W/"1"', 'W/"1"']
    assert (
        f"{ROLE}: supplier {SUPPLIER}: delete a retry answered 404 (nothing to delete), but a read "
        in message
    )
    assert "still finds it" in message and "An attempt may have been carried out" in message


def test_a_delete_answered_503_then_404_counts_once_a_read_finds_it_gone() -> None:
    calls: list[str] = []

    async def api(request: Request) -> Response:
        calls.append(request.method)
        if request.method == "GET":
            return JSONResponse({"title": "Not Found"}, status_code=404)
        status = 503 if calls.count("DELETE") == 1 else 404
        return JSONResponse({"title": "x"}, status_code=status)

    async def scenario(url: str) -> None:
        async with provider(url) as p:
            await p.delete(ROLE, 'W/"1"')

    with fake_supplier(api) as url:
        run(scenario(url))
    assert calls == ["DELETE", "DELETE", "GET"]


def test_a_delete_answered_200_is_confirmed_by_a_read() -> None:
    async def api(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(STORED_ROLE)
        return JSONResponse({"deleted": True}, status_code=200)

    async def scenario(url: str) -> None:
        async with provider(url) as p:
            await p.delete(ROLE, 'W/"1"')

    with fake_supplier(api) as url, pytest.raises(OutcomeUnknown, match="answered 200 instead of 204"):
        run(scenario(url))


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"ok": True}, "a document okectl does not understand"),
        ("not an object", "a document okectl does not understand"),
        ({**STORED_ROLE, "role": "invigilator"}, f"another resource ({ROLE.parent}/role/invigilator)"),
        ({**STORED_ROLE, "labels": {"managed-by": "someone-else"}}, "labels other than the ones sent"),
    ],
)
def test_an_update_answered_2xx_with_a_body_that_breaks_the_contract_is_outcome_unknown(
    answer: Any, problem: str
) -> None:
    async def api(request: Request) -> Response:
        return JSONResponse(answer, status_code=200)

    async def scenario(url: str) -> str:
        async with provider(url) as p:
            with pytest.raises(OutcomeUnknown) as caught:
                await p.update(ROLE, {"name": "Beoordelaar", "groups": ["a"]}, LABELS, 'W/"1"')
            return str(caught.value)

    with fake_supplier(api) as url:
        message = run(scenario(url))
    assert problem in message
    assert "An attempt may have been carried out all the same" in message


def test_apply_does_not_report_a_delete_done_when_a_503_then_a_404_leave_the_resource_there(
    example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the sandbox behind a proxy that answers the first DELETE of one resource
    503 and the next 404, without passing either on. The resource stays; apply must say so."""
    for res in validate_repository(example_repo).resources:
        ref = res.spec.get("secret") if res.kind == "client" else None
        if ref and ref.startswith("env:"):
            monkeypatch.setenv(ref[4:], f"value-of-{ref[4:]}")
    with serve_in_background(tmp_path / "sandbox.db", seed=example_repo / "sandbox" / "seed.yaml") as real:
        monkeypatch.setenv("OKECTL_SANDBOX_URL", real)
        plan = run_cli("plan", "--repo", str(example_repo), "--output", "json")
        assert plan.exit_code == 0, plan.err
        target = next(c["address"] for c in json.loads(plan.out)["changes"] if c["action"] == "delete")
        addr = Address.parse(target)
        path = f"/s/{addr.supplier}/tenants/{addr.school}/environments/{addr.environment}"
        if addr.kind != "environment":
            path += f"/{addr.kind}s/{addr.name}"
        answered: list[int] = []

        async def proxy(request: Request) -> Response:
            if request.method == "DELETE" and request.url.path == path:
                answered.append(503 if not answered else 404)
                return JSONResponse({"title": "x"}, status_code=answered[-1], headers={"Retry-After": "0"})
            async with httpx.AsyncClient(base_url=real) as client:
                resp = await client.request(
                    request.method,
                    request.url.path,
                    params=request.query_params,
                    content=await request.body(),
                    headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                )
            drop = {"content-length", "content-encoding", "transfer-encoding", "connection"}
            headers = {k: v for k, v in resp.headers.items() if k.lower() not in drop}
            return Response(resp.content, status_code=resp.status_code, headers=headers)

        with fake_supplier(proxy) as url:
            monkeypatch.setenv("OKECTL_SANDBOX_URL", url)
            result = run_cli("apply", "--repo", str(example_repo), "--auto-approve")
        monkeypatch.setenv("OKECTL_SANDBOX_URL", real)
        assert answered == [503, 404]
        assert result.exit_code == 1
        assert result.err.startswith(f"unknown: {target} (delete): "), result.err
        assert "a retry answered 404 (nothing to delete), but a read still finds it" in result.err
        assert " 1 outcome unknown, " in result.out
        [journal] = (example_repo / ".okectl" / "runs").glob("*.jsonl")
        calls = [json.loads(line) for line in journal.read_text().splitlines()]
        assert [r["outcome"] for r in calls if r.get("address") == target and r["event"] == "call"] == [
            "unknown"
        ]
        # It is still there, and the next plan deletes it again.
        again = json.loads(run_cli("plan", "--repo", str(example_repo), "--output", "json").out)
        assert [c["action"] for c in again["changes"] if c["address"] == target] == ["delete"]


@pytest.mark.parametrize("etag", ["*", " * ", ""])
@pytest.mark.parametrize("action", ["update", "delete"])
def test_no_update_or_delete_goes_out_with_if_match_star(action: str, etag: str) -> None:
    sent: list[str] = []

    async def api(request: Request) -> Response:
        sent.append(request.method)
        return Response(status_code=204)

    async def scenario(url: str) -> str:
        async with provider(url) as p:
            with pytest.raises(PreconditionFailed) as caught:
                if action == "update":
                    await p.update(ROLE, {"name": "Beoordelaar", "groups": ["a"]}, LABELS, etag)
                else:
                    await p.delete(ROLE, etag)
            return str(caught.value)

    with fake_supplier(api) as url:
        message = run(scenario(url))
    assert sent == []
    assert (
        f"{ROLE}: supplier {SUPPLIER}: {action} was not sent: it needs the resource's ETag as read" in message
    )
