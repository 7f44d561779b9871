"""Supplier answers from tests/hostile/answers/, served by a real HTTP server: whatever a
supplier says, okectl shows one line of it (status, title, detail), truncated, with every
form of its secrets redacted; and whatever names it lists, okectl plans on, listing what it
cannot address as unmanaged, with the reason.

A listing case (``call: plan``) holds the supplier's ``tenants`` and ``resources``, the
lines ``expect_unmanaged`` of the plan, and what must ``never`` be shown.

A case file holds: ``call`` (token: the token request fails; list: listing tenants
fails), ``status``, ``body`` (JSON) or ``text`` (with ``content_type``), ``expect`` (parts
of the message), ``never`` (what must not appear) and optionally ``max_chars``. In them,
``{secret}`` and its forms (``{secret_b64}``, ``{secret_b64url}``, ``{secret_hex}``,
``{secret_url}``, ``{secret_url20}``, ``{secret_json}``) stand for the API credential's
secret, and ``{huge}`` for 20,000 characters.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from okectl.providers.base import ProviderError
from tests.support.cli import run_cli
from tests.support.fake_supplier import CLIENT_SECRET, fake_supplier, provider, token_ok
from tests.support.hostile import HERE
from tests.support.repos import BASE, delta_with, write_tree
from tests.support.sandbox import run


def _cases(*calls: str) -> list[str]:
    return sorted(
        p.stem
        for p in (HERE / "answers").glob("*.json")
        if json.loads(p.read_text(encoding="utf-8"))["call"] in calls
    )


CASES = _cases("token", "list")
LISTINGS = _cases("plan")


def _placeholders() -> dict[str, str]:
    raw = CLIENT_SECRET.encode()
    return {
        "{secret}": CLIENT_SECRET,
        "{secret_b64}": base64.b64encode(raw).decode(),
        "{secret_b64url}": base64.urlsafe_b64encode(raw).decode(),
        "{secret_hex}": raw.hex(),
        "{secret_url}": urllib.parse.quote_plus(CLIENT_SECRET),
        "{secret_url20}": urllib.parse.quote(CLIENT_SECRET, safe=""),
        "{secret_json}": json.dumps(CLIENT_SECRET)[1:-1],
        "{huge}": "a supplier that says far too much " * 600,
    }


def _fill(value: Any) -> Any:
    if isinstance(value, str):
        for key, text in _placeholders().items():
            value = value.replace(key, text)
        return value
    if isinstance(value, list):
        return [_fill(v) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    return value


def _answer(case: dict[str, Any]) -> Response:
    if "text" in case:
        return Response(_fill(case["text"]), status_code=case["status"], media_type=case["content_type"])
    problem = "application/problem+json"
    return JSONResponse(_fill(case["body"]), status_code=case["status"], media_type=problem)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", CASES)
def test_a_hostile_supplier_answer_is_one_safe_line(name: str) -> None:
    case = json.loads((HERE / "answers" / f"{name}.json").read_text(encoding="utf-8"))

    async def failing(request: Request) -> Response:
        return _answer(case)

    async def tenants(request: Request) -> Response:
        return JSONResponse({"items": []})

    async def scenario(url: str) -> ProviderError:
        async with provider(url, max_attempts=1) as p:
            with pytest.raises(ProviderError) as caught:
                await p.list_tenants()
            return caught.value

    if case["call"] == "token":
        server = fake_supplier(tenants, token=failing)
    else:
        server = fake_supplier(failing, token=token_ok)
    with server as url:
        exc = run(scenario(url))
    message = str(exc)
    shown = (message, exc.detail or "")
    assert "\n" not in message and "\n" not in (exc.detail or "")
    for part in case.get("expect", []):
        assert _fill(part) in message, (part, message)
    for part in case.get("never", []):
        assert all(_fill(part) not in text for text in shown), (part, shown)
    for key, form in _placeholders().items():
        assert key == "{huge}" or all(form not in text for text in shown), (key, shown)
    assert len(message) <= case.get("max_chars", 1000), len(message)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", LISTINGS)
def test_a_plan_survives_any_name_a_supplier_lists(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = json.loads((HERE / "answers" / f"{name}.json").read_text(encoding="utf-8"))

    async def api(request: Request) -> Response:
        if request.url.path.endswith("/tenants"):
            return JSONResponse({"items": case["tenants"]})
        return JSONResponse({"items": case["resources"], "next_page_token": None})

    monkeypatch.setenv("DELTA_ADMIN_SECRET", CLIENT_SECRET)
    with fake_supplier(api) as url:
        files = dict(BASE)
        files["suppliers/delta.yaml"] = delta_with(
            f"api:\n  provider: http\n  url: {url}\n  auth:\n    token_url: {url}/oauth/token\n"
            "    client_id: okectl\n    client_secret: {env: DELTA_ADMIN_SECRET}\n"
        )
        root = write_tree(tmp_path / "repo", files)
        result = run_cli("plan", "--repo", str(root))
    assert result.exit_code == 0, result.err
    assert "Traceback" not in result.err
    shown = [line.strip()[2:] for line in result.out.splitlines() if line.strip().startswith("? ")]
    for line in case["expect_unmanaged"]:
        assert any(s.startswith(line) for s in shown), (line, shown)
    for part in case["never"]:
        assert part not in result.out + result.err
    # Nothing it cannot address is deleted, even when labelled as this repository's.
    assert ", 0 to delete;" in result.out and "  delete\n" not in result.out
