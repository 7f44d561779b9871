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

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okectl.model.resources import Kind
from okectl.sandbox.faults import FaultInjector, Faults
from okectl.sandbox.oke import OkeEndpoints
from okectl.sandbox.store import ALL_TENANTS, BASE_URL_MARKER, Credential, Key, Store, dumps

PROBLEM = "application/problem+json"
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
TOKEN_TTL_SECONDS = 3600

# Always used with fullmatch: with match, "$" also matches before a trailing newline.
SUPPLIER_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SCHOOL_RE = re.compile(r"[0-9]{2}[A-Z]{2}")
NAME_RE = SUPPLIER_RE
# Page tokens name a row id: SQLite's integers are 64-bit.
MAX_ROW_ID = 2**63 - 1


def _whole(value: str) -> str:
    # Python's "$" also matches before a final line break: the patterns below are meant
    # for the whole string, as in the OpenAPI document.
    if value.endswith("\n"):
        raise ValueError("must not end with a line break")
    return value


Whole = AfterValidator(_whole)
VersionText = Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"), Whole]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$"), Whole]
LabelValue = Annotated[str, StringConstraints(max_length=256)]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=64)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Body(BaseModel):
    # Python's regular expressions, as the OpenAPI document's patterns are read by clients
    # and test generators in Python too. Built on first use: a plan only reads, and every
    # plan against the embedded sandbox imports this module.
    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re", defer_build=True)


class SsoBody(_Body):
    mode: Literal["required", "optional", "off"] = "required"
    federation: Literal["surfconext", "entree"] | None = None
    schac_home: Annotated[str, StringConstraints(max_length=253)] | None = None


class EnvironmentBody(_Body):
    type: Literal["production", "acceptance", "test", "pilot", "chain-test"]
    status: Literal["live", "planned", "retiring"] = "live"
    function: Literal["sis", "tpl", "ta"] | None = None
    oke_version: VersionText
    ooapi_version: VersionText | None = None
    # Not strict: JSON Schema's integer includes 6.0, and so does this API.
    flows: Annotated[list[Annotated[int, Field(ge=0, le=6, strict=False)]], Field(max_length=7)] = []
    sso: SsoBody = SsoBody()
    labels: Labels = {}


class ClientBody(_Body):
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    scopes: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"), Whole]],
        Field(max_length=16),
    ] = []
    secret: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    labels: Labels = {}


class RoleBody(_Body):
    name: ShortText
    groups: Annotated[list[ShortText], Field(max_length=256)] = []
    labels: Labels = {}


BODIES: dict[Kind, type[EnvironmentBody] | type[ClientBody] | type[RoleBody]] = {
    "environment": EnvironmentBody,
    "client": ClientBody,
    "role": RoleBody,
}


class Problem(Exception):
    def __init__(
        self, status: int, title: str, detail: str, *, slug: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug or title.lower().replace(" ", "-")
        self.headers = headers or {}


def _etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'


def problem_response(request: Request, problem: Problem) -> Response:
    body = json.dumps(
        {
            "type": f"https://okectl.example/problems/{problem.slug}",
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            "instance": quote(request.url.path, safe="/"),
        }
    ).encode()
    headers = {"ETag": _etag_of(body), **problem.headers}
    return Response(body, status_code=problem.status, media_type=PROBLEM, headers=headers)


def json_response(text: str, *, status: int = 200, etag: str | None = None) -> Response:
    body = text.encode("utf-8")
    return Response(
        body, status_code=status, media_type="application/json", headers={"ETag": etag or _etag_of(body)}
    )


@dataclass
class _Token:
    credential: Credential
    expires: float


@dataclass
class Sandbox:
    """The application's state: its store, issued tokens and the fault injector."""

    store: Store
    token_ttl: float = TOKEN_TTL_SECONDS
    tokens: dict[str, _Token] = field(default_factory=dict)
    injector: FaultInjector | None = None

    # --- authentication ------------------------------------------------------------------

    def issue(self, cred: Credential) -> tuple[str, int]:
        now = time.monotonic()
        if len(self.tokens) > 10_000:
            self.tokens = {k: v for k, v in self.tokens.items() if v.expires > now}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = _Token(cred, now + self.token_ttl)
        return token, int(self.token_ttl)

    def credential(self, request: Request, supplier: str) -> Credential:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        entry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if entry is None or entry.expires < time.monotonic() or entry.credential.supplier != supplier:
            if entry is not None and entry.expires < time.monotonic():
                self.tokens.pop(token.strip(), None)
            raise Problem(
                401,
                "Unauthorized",
                "a valid bearer token from this supplier's token endpoint is required",
                headers={"WWW-Authenticate": 'Bearer realm="okectl-sandbox"'},
            )
        return entry.credential


def _path(request: Request, name: str, pattern: re.Pattern[str]) -> str:
    value: str = request.path_params[name]
    if not pattern.fullmatch(value):
        raise Problem(400, "Bad Request", f"{name} {value!r} is not valid", slug="invalid-path")
    return value


def _tenant(request: Request, cred: Credential) -> str:
    school = _path(request, "school", SCHOOL_RE)
    if not cred.sees(school):
        # The same answer whether or not the tenant exists: nothing about it leaks.
        raise Problem(403, "Forbidden", f"this credential has no access to tenant {school}")
    return school


def _page_args(request: Request) -> tuple[int, int]:
    raw_size = request.query_params.get("page_size", str(DEFAULT_PAGE_SIZE))
    # Digits only, and few: int() would also take "+5", " 5", "1_0" and 5,000-digit numbers.
    if not _DIGITS.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise Problem(400, "Bad Request", f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    token = request.query_params.get("page_token")
    after = 0
    if token is not None:
        try:
            decoded = base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("ascii")
        except (ValueError, UnicodeError, binascii.Error):
            decoded = ""
        if not _DIGITS.fullmatch(decoded) or int(decoded) > MAX_ROW_ID:
            raise Problem(400, "Bad Request", "page_token is not one this server issued")
        after = int(decoded)
    return int(raw_size), after


_DIGITS = re.compile(r"[0-9]{1,19}")


def _page_token(after: int | None) -> str:
    if after is None:
        return "null"
    return '"' + base64.urlsafe_b64encode(str(after).encode()).decode().rstrip("=") + '"'


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _with_origin(text: str, request: Request) -> str:
    return text.replace(BASE_URL_MARKER, '"base_url":"' + _origin(request) + "/ooapi/")


def build_app(sandbox: Sandbox, *, faults: Faults | None = None, control: bool = False) -> FaultInjector:
    store = sandbox.store

    async def token(request: Request) -> Response:
        supplier = _path(request, "supplier", SUPPLIER_RE)
        # Parsed by hand: form parsing in Starlette needs an extra dependency.
        try:
            form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        except UnicodeDecodeError:
            form = {}
        client_id: str | None = form.get("client_id")
        secret: str | None = form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                pair = base64.b64decode(auth[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeError, binascii.Error):
                pair = ""
            client_id, _, secret = pair.partition(":")
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "use client_credentials"},
                status_code=400,
                headers={"ETag": '"oauth-error"'},
            )
        cred = (
            store.authenticate(supplier, client_id, secret)
            if client_id is not None and secret is not None
            else None
        )
        if cred is None:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
                status_code=401,
                headers={"ETag": '"oauth-error"', "WWW-Authenticate": 'Basic realm="okectl-sandbox"'},
            )
        access, ttl = sandbox.issue(cred)
        scope = " ".join(f"tenant:{t}" for t in sorted(cred.tenants))
        return json_response(
            dumps({"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope})
        )

    async def tenants(request: Request) -> Response:
        cred = sandbox.credential(request, _path(request, "supplier", SUPPLIER_RE))
        items = [{"school": s, "resources": n} for s, n in store.tenants(cred)]
        return json_response(dumps({"items": items}))

    def _listing(request: Request, cred: Credential, school: str | None, kind: Kind | None) -> Response:
        size, after = _page_args(request)
        environment = request.query_params.get("environment")
        if environment is not None and not NAME_RE.fullmatch(environment):
            raise Problem(400, "Bad Request", f"environment {environment!r} is not valid")
        docs, more = store.page(
            cred, school=school, environment=environment, kind=kind, after=after, limit=size
        )
        text = '{"items":[' + ",".join(docs) + '],"next_page_token":' + _page_token(more) + "}"
        return json_response(_with_origin(text, request))

    async def all_resources(request: Request) -> Response:
        cred = sandbox.credential(request, _path(request, "supplier", SUPPLIER_RE))
        return _listing(request, cred, None, None)

    def tenant_list(kind: Kind | None) -> Any:
        async def handler(request: Request) -> Response:
            cred = sandbox.credential(request, _path(request, "supplier", SUPPLIER_RE))
            return _listing(request, cred, _tenant(request, cred), kind)

        return handler

    def _key(request: Request, kind: Kind) -> tuple[Credential, Key]:
        supplier = _path(request, "supplier", SUPPLIER_RE)
        cred = sandbox.credential(request, supplier)
        school = _tenant(request, cred)
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
                return json_response(_with_origin(stored.doc, request), etag=stored.etag)
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
                _with_origin(stored.doc, request), status=201 if created else 200, etag=stored.etag
            )

        return handler

    async def releases(request: Request) -> Response:
        supplier = _path(request, "supplier", SUPPLIER_RE)
        sandbox.credential(request, supplier)
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
        *OkeEndpoints(store, sandbox.credential).routes(control=control),
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


__all__ = ["ALL_TENANTS", "Sandbox", "build_app", "create_app"]
