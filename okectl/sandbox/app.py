"""The sandbox supplier: the OKE supplier administration API as a Starlette application.

URL layout (one process serves any number of suppliers):

- ``/s/{supplier}/...``  the administration API of one supplier, as in
  ``okectl/providers/admin-api.yaml`` (token endpoint, tenants, resources, releases)
- ``/ooapi/{supplier}/{school}/{environment}/``  each environment's OKE service (its
  ``base_url``): ``GET /`` and the operations of its role, see ``okectl/sandbox/oke``
- ``/_sandbox/...``  run-time control for tests: faults, statistics, token revocation; only
  when asked for (``okectl sandbox serve --control``), as anyone who reaches it can use it
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okectl.model.resources import Kind
from okectl.sandbox.admin import (
    BODIES,
    NAME_RE,
    PROBLEM,
    SUPPLIER_RE,
    TOKEN_TTL_SECONDS,
    ClientBody,
    Problem,
    Sandbox,
    checked,
    etag_of,
    listing,
    problem_body,
    tenant_of,
    with_origin,
)
from okectl.sandbox.faults import FaultInjector, Faults
from okectl.sandbox.oke import OkeEndpoints
from okectl.sandbox.store import ALL_TENANTS, Credential, Key, Store, dumps


def problem_response(request: Request, problem: Problem) -> Response:
    body = problem_body(problem, request.url.path)
    headers = {"ETag": etag_of(body), **problem.headers}
    return Response(body, status_code=problem.status, media_type=PROBLEM, headers=headers)


def json_response(text: str, *, status: int = 200, etag: str | None = None) -> Response:
    body = text.encode("utf-8")
    return Response(
        body, status_code=status, media_type="application/json", headers={"ETag": etag or etag_of(body)}
    )


def _path(request: Request, name: str, pattern: Any) -> str:
    value: str = request.path_params[name]
    return checked(name, value, pattern)


def _credential(sandbox: Sandbox, request: Request, supplier: str) -> Credential:
    return sandbox.credential(request.headers.get("authorization", ""), supplier)


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def build_app(sandbox: Sandbox, *, faults: Faults | None = None, control: bool = False) -> FaultInjector:
    store = sandbox.store

    async def token(request: Request) -> Response:
        supplier = _path(request, "supplier", SUPPLIER_RE)
        status, doc, headers = sandbox.grant(
            supplier, await request.body(), request.headers.get("authorization", "")
        )
        if status != 200:
            return JSONResponse(doc, status_code=status, headers=headers)
        return json_response(dumps(doc))

    async def tenants(request: Request) -> Response:
        cred = _credential(sandbox, request, _path(request, "supplier", SUPPLIER_RE))
        items = [{"school": s, "resources": n} for s, n in store.tenants(cred)]
        return json_response(dumps({"items": items}))

    def _listing(request: Request, cred: Credential, school: str | None, kind: Kind | None) -> Response:
        query = request.query_params
        text = listing(
            store,
            cred,
            school=school,
            kind=kind,
            environment=query.get("environment"),
            page_size=query.get("page_size"),
            page_token=query.get("page_token"),
            origin=_origin(request),
        )
        return json_response(text)

    async def all_resources(request: Request) -> Response:
        cred = _credential(sandbox, request, _path(request, "supplier", SUPPLIER_RE))
        return _listing(request, cred, None, None)

    def tenant_list(kind: Kind | None) -> Any:
        async def handler(request: Request) -> Response:
            cred = _credential(sandbox, request, _path(request, "supplier", SUPPLIER_RE))
            return _listing(request, cred, tenant_of(cred, request.path_params["school"]), kind)

        return handler

    def _key(request: Request, kind: Kind) -> tuple[Credential, Key]:
        supplier = _path(request, "supplier", SUPPLIER_RE)
        cred = _credential(sandbox, request, supplier)
        school = tenant_of(cred, request.path_params["school"])
        env = _path(request, "environment", NAME_RE)
        name = "" if kind == "environment" else _path(request, "name", NAME_RE)
        return cred, Key(supplier, school, env, kind, name)

    def resource(kind: Kind) -> Any:
        what = {"environment": "environment", "client": "client registration", "role": "role binding"}[kind]

        async def handler(request: Request) -> Response:
            _, key = _key(request, kind)
            label = f"{what} {key.school}/{key.environment}" + (f"/{key.name}" if key.name else "")
            if request.method == "GET":
                stored = store.get(key)
                if stored is None:
                    raise Problem(404, "Not Found", f"no {label}")
                return json_response(with_origin(stored.doc, _origin(request)), etag=stored.etag)
            if_match = request.headers.get("if-match")
            if_none_match = request.headers.get("if-none-match")
            if request.method == "DELETE":
                if if_match is None:
                    raise Problem(428, "Precondition Required", "DELETE needs If-Match with the current ETag")
                outcome = store.delete(key, if_match=if_match)
                if outcome == "missing":
                    raise Problem(404, "Not Found", f"no {label}")
                if outcome == "mismatch":
                    raise Problem(412, "Precondition Failed", f"{label} changed; read it again")
                if outcome == "has-children":
                    raise Problem(
                        409,
                        "Conflict",
                        f"{label} still has client registrations or role bindings; delete them first",
                    )
                return Response(status_code=204)
            # PUT
            if if_match is None and if_none_match is None:
                raise Problem(
                    428,
                    "Precondition Required",
                    "PUT needs If-None-Match: * to create or If-Match: <etag> to replace",
                )
            if if_match is not None and if_none_match is not None:
                raise Problem(400, "Bad Request", "give If-Match or If-None-Match, not both")
            if if_none_match is not None and if_none_match.strip() != "*":
                raise Problem(400, "Bad Request", "If-None-Match only accepts *")
            raw = await request.body()
            try:
                body = BODIES[kind].model_validate_json(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "body"
                raise Problem(
                    422, "Unprocessable Content", f"{where}: {first['msg']}", slug="invalid-body"
                ) from None
            fields = body.model_dump(exclude={"labels", "secret"})
            secret = body.secret if isinstance(body, ClientBody) else None
            outcome, stored, created = store.put(
                key,
                fields,
                dict(body.labels),
                if_match=if_match.strip() if if_match is not None else None,
                if_none_match=if_none_match is not None,
                secret=secret,
            )
            if outcome == "exists":
                raise Problem(412, "Precondition Failed", f"{label} already exists")
            if outcome in ("mismatch", "missing"):
                raise Problem(412, "Precondition Failed", f"{label} changed or is gone; read it again")
            if outcome == "no-parent":
                raise Problem(404, "Not Found", f"no environment {key.school}/{key.environment}")
            assert stored is not None
            return json_response(
                with_origin(stored.doc, _origin(request)), status=201 if created else 200, etag=stored.etag
            )

        return handler

    async def releases(request: Request) -> Response:
        supplier = _path(request, "supplier", SUPPLIER_RE)
        _credential(sandbox, request, supplier)
        return json_response('{"items":[' + ",".join(store.releases(supplier)) + "]}")

    async def admin_faults(request: Request) -> Response:
        assert sandbox.injector is not None
        if request.method == "POST":
            try:
                data = json.loads(await request.body() or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("send a JSON object of fault settings")
                sandbox.injector.configure(Faults.from_dict(data))
            except ValueError as exc:
                raise Problem(400, "Bad Request", str(exc)) from None
        elif request.method == "DELETE":
            sandbox.injector.configure(Faults())
        return json_response(dumps(sandbox.injector.faults.to_dict()))

    async def admin_stats(request: Request) -> Response:
        assert sandbox.injector is not None
        if request.method == "DELETE":
            sandbox.injector.reset_stats()
        injector = sandbox.injector
        counts = dict(injector.requests)
        stats = {
            "requests": sum(counts.values()),
            "by_supplier": counts,
            "max_in_flight": injector.max_in_flight,
            "resources": store.counts(),
        }
        return json_response(dumps(stats))

    async def admin_revoke(request: Request) -> Response:
        sandbox.tokens.clear()
        return json_response('{"revoked":true}')

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(request, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        problem = Problem(exc.status_code, title, str(exc.detail), headers=dict(exc.headers or {}))
        return problem_response(request, problem)

    base = "/s/{supplier}"
    tenant = base + "/tenants/{school}"
    env = tenant + "/environments/{environment}"
    routes = [
        Route(base + "/oauth/token", token, methods=["POST"]),
        Route(base + "/tenants", tenants, methods=["GET"]),
        Route(base + "/resources", all_resources, methods=["GET"]),
        Route(base + "/releases", releases, methods=["GET"]),
        Route(tenant + "/resources", tenant_list(None), methods=["GET"]),
        Route(tenant + "/environments", tenant_list("environment"), methods=["GET"]),
        Route(tenant + "/clients", tenant_list("client"), methods=["GET"]),
        Route(tenant + "/roles", tenant_list("role"), methods=["GET"]),
        Route(env, resource("environment"), methods=["GET", "PUT", "DELETE"]),
        Route(env + "/clients/{name}", resource("client"), methods=["GET", "PUT", "DELETE"]),
        Route(env + "/roles/{name}", resource("role"), methods=["GET", "PUT", "DELETE"]),
        *OkeEndpoints(store, lambda request, supplier: _credential(sandbox, request, supplier)).routes(
            control=control
        ),
    ]
    if control:
        routes += [
            Route("/_sandbox/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/stats", admin_stats, methods=["GET", "DELETE"]),
            Route("/_sandbox/tokens", admin_revoke, methods=["DELETE"]),
        ]
    app = Starlette(routes=routes, exception_handlers={Problem: on_problem, HTTPException: on_http})
    injector = FaultInjector(app, faults)
    sandbox.injector = injector
    return injector


def create_app(
    store: Store,
    *,
    faults: Faults | None = None,
    token_ttl: float = TOKEN_TTL_SECONDS,
    control: bool = False,
) -> Any:
    """The ASGI application over a store, with fault injection in front; ``control`` adds
    the ``/_sandbox/*`` endpoints (faults, statistics, token revocation)."""
    return build_app(Sandbox(store, token_ttl=token_ttl), faults=faults, control=control)


__all__ = ["ALL_TENANTS", "TOKEN_TTL_SECONDS", "Sandbox", "build_app", "create_app"]
