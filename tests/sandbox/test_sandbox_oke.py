"""The OKE endpoints of sandbox environments, spoken to directly over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from okectl.sandbox.store import DEV_CLIENT_ID, DEV_CLIENT_SECRET
from tests.support.verify import Served

TA = "toets/10AA/production"  # OKE 1.0.1, flows 0, 2, 3, 4
SIS = "leerling/10AA/production"  # OKE 1.0.1, flows 1, 5, 6
TPL = "plan/10AA/acceptance"  # OKE 0.9.3, flows 1-5


def base(served: Served, env: str) -> str:
    return f"{served.url}/ooapi/{env}"


def token(served: Served, env: str, scope: str, **form: str) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": DEV_CLIENT_ID,
        "client_secret": DEV_CLIENT_SECRET,
        "scope": scope,
        **form,
    }
    return httpx.post(base(served, env) + "/oauth/token", data=data)


def bearer(served: Served, env: str, scope: str) -> dict[str, str]:
    resp = token(served, env, scope)
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_the_catalogue_pages_and_the_unknown_id_problem(served: Served) -> None:
    auth = bearer(served, TA, "nl-test-admin-flow-0")
    page = httpx.get(base(served, TA) + "/components", params={"pageSize": 10}, headers=auth).json()
    assert (page["pageSize"], page["pageNumber"], page["hasNextPage"], len(page["items"])) == (
        10,
        1,
        True,
        10,
    )
    second = httpx.get(
        base(served, TA) + "/components", params={"pageSize": 10, "pageNumber": 2}, headers=auth
    ).json()
    assert (second["hasNextPage"], len(second["items"])) == (False, 2)
    ids = {i["componentId"] for i in page["items"] + second["items"]}
    assert len(ids) == 12
    assert page["items"][0]["consumers"][0]["consumerKey"] == "nl-test-admin"
    missing = httpx.get(base(served, TA) + "/components/nope", headers=auth)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == "404"  # OOAPI v5: a string
    bad_size = httpx.get(base(served, TA) + "/components", params={"pageSize": 7}, headers=auth)
    assert bad_size.status_code == 400 and bad_size.json()["status"] == "400"


def test_flow_scopes_are_enforced(served: Served) -> None:
    url = base(served, TA) + "/components"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=bearer(served, TA, "nl-test-admin-flow-2-3-4")).status_code == 403
    assert httpx.get(url, headers=bearer(served, TA, "nl-test-admin-flow-0")).status_code == 200
    # A token is for its own environment only.
    other = bearer(served, "toets/10AA/acceptance", "nl-test-admin-flow-0")
    assert httpx.get(url, headers=other).status_code == 401


@pytest.mark.parametrize(
    ("env", "scope", "form", "status", "error"),
    [
        (TA, "nl-test-admin-flow-9", {}, 400, "invalid_scope"),
        (TPL, "nl-test-admin-flow-6", {}, 400, "invalid_scope"),  # flow 6 came with 1.0.1
        (TA, "nl-test-admin-flow-0", {"client_secret": "wrong"}, 401, "invalid_client"),
        (TA, "nl-test-admin-flow-0", {"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_token_requests_that_are_refused(
    served: Served, env: str, scope: str, form: dict[str, str], status: int, error: str
) -> None:
    resp = token(served, env, scope, **form)
    assert resp.status_code == status and resp.json()["error"] == error


def test_an_environment_serves_only_its_roles_operations(served: Served) -> None:
    auth = bearer(served, TA, "nl-test-admin-flow-1-5")
    assert httpx.get(base(served, TA) + "/groups", headers=auth).status_code == 404
    sis = bearer(served, SIS, "nl-test-admin-flow-6")
    person = "00000000-0000-4000-8000-000000000000"
    resp = httpx.get(base(served, SIS) + f"/persons/{person}/associations", headers=sis)
    assert resp.status_code == 404  # an unknown person, but the operation exists


def test_put_and_patch_as_the_flow_documents_say(served: Served) -> None:
    auth = bearer(served, TPL, "nl-test-admin-flow-1-5")
    url = base(served, TPL) + "/associations/"
    body: dict[str, Any] = {
        "associationId": "a-1",
        "associationType": "componentOfferingAssociation",
        "role": "student",
        "state": "canceled",
    }
    assert httpx.put(url + "a-1", json=body, headers=auth).status_code == 201
    assert httpx.put(url + "a-1", json=body, headers=auth).status_code == 200
    mismatch = httpx.put(url + "a-2", json=body, headers=auth)
    assert mismatch.status_code == 400 and "differs from the path" in mismatch.json()["detail"]
    with_id = httpx.patch(url + "a-1", json={"associationId": "a-1"}, headers=auth)
    assert with_id.status_code == 400
    result = {"result": {"state": "completed", "resultDate": "2026-09-01", "weight": 100}}
    accepted = httpx.patch(url + "a-1", json=result, headers=auth)
    # Answered as the profile says: the association's id, messages and state.
    assert accepted.status_code == 200 and accepted.json()["associationId"] == "a-1"
    assert accepted.json()["state"] == "canceled" and accepted.json()["message"]
    assert httpx.delete(url + "a-1", headers=auth).status_code == 204
    assert httpx.patch(url + "a-1", json=result, headers=auth).status_code == 404


def test_faults_are_set_per_environment_and_checked(served: Served) -> None:
    resp = httpx.post(f"{served.url}/_sandbox/oke/faults", json={"environment": TA, "no_atuh": True})
    assert resp.status_code == 400 and "unknown OKE fault(s): no_atuh" in resp.json()["detail"]
    served.faults(TA, no_auth=True)
    assert httpx.get(base(served, TA) + "/components").status_code == 200
    assert httpx.get(base(served, "toets/10AA/acceptance") + "/components").status_code == 401
