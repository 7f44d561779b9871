"""The OKE endpoints tell nobody which schools exist: a tenant that does not exist is
answered exactly as one the caller may not see."""

from __future__ import annotations

import httpx

from tests.support.sandbox import SUPPLIER, Sandbox


def _answers(sandbox: Sandbox, school: str, *, client: str, secret: str) -> list[tuple[int, str]]:
    base = f"{sandbox.url}/ooapi/{SUPPLIER}/{school}/production"
    form = {"grant_type": "client_credentials", "client_id": client, "client_secret": secret}
    admin = sandbox.token(client_id=client, secret=secret)
    out = []
    for resp in (
        httpx.post(f"{base}/oauth/token", data={**form, "scope": "nl-test-admin-flow-0"}),
        httpx.get(f"{base}/", headers={"Authorization": f"Bearer {admin}"}),
        httpx.get(f"{base}/components"),
        httpx.get(f"{base}/components", headers={"Authorization": "Bearer not-a-token"}),
    ):
        # The same status and body, once the school's own code (in the request path) is
        # taken out: it is the caller's, not something the server tells.
        out.append((resp.status_code, resp.text.replace(school, "<school>")))
    return out


def test_a_tenant_that_does_not_exist_answers_as_one_the_token_may_not_see(sandbox: Sandbox) -> None:
    # 21RC exists, and the 23KM client may not see it; 99ZZ does not exist at all.
    hidden = _answers(sandbox, "21RC", client="school-23km", secret="secret-23km")
    missing = _answers(sandbox, "99ZZ", client="school-23km", secret="secret-23km")
    assert hidden == missing
    assert [status for status, _ in hidden] == [401, 403, 401, 401]
