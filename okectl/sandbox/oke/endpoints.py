"""The routes of every sandbox environment's OKE service: token endpoint, ``GET /``, the
operations of its role and flows, and the run-time control of faults and the request log."""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from okectl.model.oke import (
    CONSUMER_KEY,
    IDENTIFIERS,
    NOT_FILTERS,
    ROLES,
    SCOPE_FLOWS,
    Operation,
    has_flow6,
    operations,
)
from okectl.sandbox.oke.answers import (
    PROBLEM,
    V6_MEDIA,
    Answer,
    OkeProblem,
    json_body,
    merge,
    oauth_error,
)
from okectl.sandbox.oke.data import (
    COLLECTION_SIZE,
    DOCUMENT_ID,
    ID_FIELD,
    MISSING_FIELD,
    PAGE_SIZES,
    SINGULAR,
    TEMPLATES,
    WRONG_CONSUMER_KEY,
    fixtures,
    nth_id,
)
from okectl.sandbox.oke.faults import OkeFaults, echo_into, echoed, hostile_answer
from okectl.sandbox.store import Credential, Key, Store

TOKEN_TTL_SECONDS = 3600
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SCHOOL = re.compile(r"^[0-9]{2}[A-Z]{2}$")
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass
class _Token:
    # The environment it was issued at; None: at the supplier's own token endpoint, valid at
    # every environment of a school the credential sees.
    env: tuple[str, str, str] | None
    scopes: frozenset[str]
    expires: float
    supplier: str = ""
    credential: Credential | None = None

    def valid_at(self, key: tuple[str, str, str]) -> bool:
        if self.env is not None:
            return self.env == key
        return self.supplier == key[0] and self.credential is not None and self.credential.sees(key[1])


@dataclass
class _Env:
    key: tuple[str, str, str]
    oke_version: str
    ooapi_version: str
    roles: frozenset[str]
    flows: frozenset[int]
    ops: list[Operation]

    @property
    def v6(self) -> bool:
        return self.ooapi_version.split(".")[0] == "6"


@dataclass
class OkeEndpoints:
    """The OKE side of the sandbox: tokens, written resources, faults and the request log."""

    store: Store
    # The administration API's token check, for GET / (raises its own 401/403).
    admin_credential: Callable[[Request, str], Credential]
    token_ttl: float = TOKEN_TTL_SECONDS
    tokens: dict[str, _Token] = field(default_factory=dict)
    faults: dict[tuple[str, str, str], OkeFaults] = field(default_factory=dict)
    written: dict[tuple[str, str, str], dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    log: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- plumbing --------------------------------------------------------------------------

    def _key(self, request: Request) -> tuple[str, str, str]:
        supplier = request.path_params["supplier"]
        school = request.path_params["school"]
        name = request.path_params["environment"]
        if not (_NAME.match(supplier) and _SCHOOL.match(school) and _NAME.match(name)):
            raise OkeProblem(400, "Bad Request", "not an environment's address")
        key = (supplier, school, name)
        with self._lock:
            self.log.setdefault(key, []).append(f"{request.method} {request.url.path}")
        return key

    def _env(self, request: Request) -> _Env:
        """The environment addressed. One that does not exist is answered as one the caller
        may not see (401, as without a token): nothing tells which tenants exist."""
        env = self._lookup(self._key(request))
        if env is None:
            raise _unauthorized()
        return env

    def _lookup(self, key: tuple[str, str, str]) -> _Env | None:
        stored = self.store.get(Key(*key))
        if stored is None:
            return None
        doc = json.loads(stored.doc)
        function = doc.get("function")
        roles = frozenset({function}) if function else frozenset(ROLES)
        flows = frozenset(int(f) for f in doc.get("flows") or [])
        oke_version = str(doc.get("oke_version"))
        ooapi = str(doc.get("ooapi_version") or "5.0")
        return _Env(key, oke_version, ooapi, roles, flows, operations(roles, flows, oke_version))

    async def _hostile(self, env: _Env, media: str) -> Response | None:
        """The answer a faulty environment sends instead of the real one, if any."""
        faults = self._faults(env)
        if faults.slow_ms:
            await asyncio.sleep(faults.slow_ms / 1000)
        return hostile_answer(faults, media) if faults.hostile else None

    def _faults(self, env: _Env) -> OkeFaults:
        return self.faults.get(env.key) or OkeFaults()

    def _problem(self, env: _Env | None, problem: OkeProblem, request: Request) -> Response:
        v6 = env is not None and env.v6
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": problem.title,
            # OOAPI v5 writes the status as a string; OEAPI v6 follows RFC 9457 (a number).
            "status": problem.status if v6 else str(problem.status),
            "detail": problem.detail,
            "instance": request.url.path,
        }
        if env is not None and self._faults(env).wrong_error_body:
            body = {"error": problem.title.lower(), "status": problem.status}
        return Response(
            json.dumps(body), status_code=problem.status, media_type=PROBLEM, headers=problem.headers
        )

    def _json(self, env: _Env, value: Any, status: int = 200, media: str = "application/json") -> Response:
        if self._faults(env).wrong_content_type:
            media = "text/plain; charset=utf-8"
        return Response(json.dumps(value, ensure_ascii=False), status_code=status, media_type=media)

    def _negotiate(self, env: _Env, request: Request) -> str:
        """The media type to answer with; 406 for a v6 version this environment does not serve."""
        if not env.v6:
            return "application/json"
        accept = request.headers.get("accept", "")
        for part in accept.split(","):
            media, *params = [p.strip() for p in part.split(";")]
            if media != V6_MEDIA:
                continue
            args = dict(p.split("=", 1) for p in params if "=" in p)
            version = args.get("version")
            if version is not None and version != env.ooapi_version:
                body = {
                    "type": "about:blank",
                    "title": "Not Acceptable",
                    "status": 406,
                    "detail": f"version {version} is not served here",
                    "requestedVersion": version,
                    "supportedVersions": [env.ooapi_version],
                }
                raise Answer(Response(json.dumps(body), status_code=406, media_type=PROBLEM))
            return f"{V6_MEDIA}; version={env.ooapi_version}"
        return "application/json"

    def _token(self, request: Request, env: _Env) -> _Token | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        entry = self.tokens.get(value.strip())
        if entry is None or not entry.valid_at(env.key) or entry.expires < time.monotonic():
            return None
        return entry

    def _authorize(self, request: Request, env: _Env, allowed: frozenset[str]) -> None:
        if self._faults(env).no_auth:
            return
        entry = self._token(request, env)
        if entry is None:
            raise _unauthorized()
        if not entry.scopes & allowed:
            raise OkeProblem(
                403,
                "Forbidden",
                "this token's scope does not cover the operation; it needs " + " or ".join(sorted(allowed)),
            )

    # --- the served data -------------------------------------------------------------------

    def _item(self, env: _Env, kind: str, n: int = 0) -> dict[str, Any]:
        data = fixtures(env.oke_version)
        doc: dict[str, Any] = copy.deepcopy(data[kind])
        for id_field in IDENTIFIERS:
            if id_field in doc and isinstance(doc[id_field], str):
                doc[id_field] = nth_id(doc[id_field], n)
        return doc

    def _known(self, env: _Env, kind: str, ident: str) -> dict[str, Any] | None:
        written = self.written.get(env.key, {}).get((kind, ident))
        if written is not None:
            return copy.deepcopy(written)
        data = fixtures(env.oke_version)
        if kind not in data:
            return None
        for n in range(COLLECTION_SIZE):
            doc = self._item(env, kind, n)
            if any(doc.get(f) == ident for f in ID_FIELD.values()) or doc.get("componentId") == ident:
                return doc
            if doc.get("organizationId") == ident:
                return doc
        return None

    def _served(self, env: _Env, kind: str, doc: Any) -> Any:
        faults = self._faults(env)
        if not isinstance(doc, dict):
            return doc
        if faults.missing_field:
            doc.pop(MISSING_FIELD.get(kind, ""), None)
        if faults.wrong_consumer_key:
            for consumer in doc.get("consumers") or []:
                if isinstance(consumer, dict) and consumer.get("consumerKey") == CONSUMER_KEY:
                    consumer["consumerKey"] = WRONG_CONSUMER_KEY
        return doc

    def _page(self, env: _Env, request: Request, kind: str, media: str) -> Response:
        raw_size = request.query_params.get("pageSize", "10")
        raw_number = request.query_params.get("pageNumber", "1")
        if not raw_size.isdigit() or int(raw_size) not in PAGE_SIZES:
            raise OkeProblem(400, "Bad Request", f"pageSize must be one of {', '.join(map(str, PAGE_SIZES))}")
        if not raw_number.isdigit() or not 1 <= int(raw_number) <= 10_000:
            raise OkeProblem(400, "Bad Request", "pageNumber must be a whole number from 1 to 10000")
        size, number = int(raw_size), int(raw_number)
        faults = self._faults(env)
        every = (
            [self._item(env, kind, n) for n in range(COLLECTION_SIZE)]
            if kind in fixtures(env.oke_version)
            else []
        )
        if not faults.ignore_filters:
            every = [item for item in every if _passes(item, request.query_params.multi_items())]
        total = len(every)
        if faults.broken_paging == "oversize":
            size = max(size, total + 1)
        start = (number - 1) * size
        if faults.broken_paging == "repeat":
            start = 0
        items = [self._served(env, kind, item) for item in every[start : start + size]]
        more = start + size < total or faults.broken_paging == "endless"
        body = {
            "pageSize": int(raw_size),
            "pageNumber": number,
            "hasPreviousPage": number > 1,
            "hasNextPage": more,
            "totalPages": max(1, -(-total // size)),
            "items": items,
        }
        return self._json(env, body, media=media)

    # --- handlers --------------------------------------------------------------------------

    async def service(self, request: Request) -> Response:
        return self._echo(request, await self._service(request))

    async def operation(self, request: Request) -> Response:
        return self._echo(request, await self._operation(request))

    def _echo(self, request: Request, response: Response) -> Response:
        """With echo_secrets, the caller's bearer token comes back in the answer's text
        fields and headers, raw and encoded, as a careless endpoint's might."""
        try:
            key = self._key(request)
        except OkeProblem:
            return response
        if not self.faults.get(key, OkeFaults()).echo_secrets:
            return response
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        if not token or isinstance(response, StreamingResponse):
            return response
        body = echo_into(bytes(response.body), token)
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        }
        headers["X-Echo"] = echoed(token)
        media = (response.media_type or "application/json") + f"; echo={token}"
        return Response(body, status_code=response.status_code, headers=headers, media_type=media)

    async def _service(self, request: Request) -> Response:
        env: _Env | None = None
        try:
            key = self._key(request)
            env = self._lookup(key)
            # Without an OKE token, the administration API's tenant check decides, before
            # anything tells whether the environment exists.
            if env is None or self._token(request, env) is None:
                if not self.admin_credential(request, key[0]).sees(key[1]):
                    raise OkeProblem(403, "Forbidden", f"this credential has no access to tenant {key[1]}")
                if env is None:
                    raise OkeProblem(404, "Not Found", f"no environment {key[1]}/{key[2]}")
            media = self._negotiate(env, request)
            hostile = await self._hostile(env, media)
            if hostile is not None:
                return hostile
            claimed = self._faults(env).claim_version or env.oke_version
            supplier, school, name = env.key
            origin = str(request.base_url).rstrip("/")
            service: dict[str, Any] = {
                "contactEmail": self.store.contact_email(supplier) or f"support@{supplier}.example",
                "specification": "https://open-education-api.github.io/specification/v5/docs.html",
                "documentation": f"{origin}/ooapi/{supplier}/{school}/{name}/docs",
                "supportedVersions": ["v5"],
                "supportedConsumers": [{"consumerKey": CONSUMER_KEY, "version": claimed}],
            }
            if env.v6:
                service["specification"] = "https://openonderwijsapi.nl/specification/v6/docs.html"
                del service["supportedVersions"]
                verbs: dict[str, list[str]] = {}
                for op in env.ops:
                    verbs.setdefault(op.path, []).append(op.method)
                service["supportedOperations"] = [{"verbs": v, "path": p} for p, v in verbs.items()]
            return self._json(env, service, media=media)
        except OkeProblem as problem:
            return self._problem(env, problem, request)
        except Answer as answer:
            return answer.response

    async def token(self, request: Request) -> Response:
        """An environment's own token endpoint: tokens valid at that environment only."""
        try:
            key = self._key(request)
        except OkeProblem as problem:
            return self._problem(None, problem, request)
        env = self._lookup(key)
        offered = sorted(
            s for s in SCOPE_FLOWS if env is None or s != "nl-test-admin-flow-6" or has_flow6(env.oke_version)
        )
        return await self._issue(request, key[0], offered, school=key[1], env=env, env_key=key)

    async def supplier_token(self, request: Request) -> Response:
        """The supplier's one token endpoint: tokens valid at every environment of the schools
        the client sees (as a verification client declared in ``verify.token_url`` uses)."""
        supplier = request.path_params["supplier"]
        if not _NAME.match(supplier):
            return self._problem(None, OkeProblem(400, "Bad Request", "not a supplier's address"), request)
        return await self._issue(request, supplier, sorted(SCOPE_FLOWS))

    async def _issue(
        self,
        request: Request,
        supplier: str,
        offered: list[str],
        *,
        school: str | None = None,
        env: _Env | None = None,
        env_key: tuple[str, str, str] | None = None,
    ) -> Response:
        try:
            form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        except UnicodeDecodeError:
            form = {}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeError, binascii.Error):
                client_id = secret = None
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "use client_credentials")
        cred = self.store.authenticate(supplier, client_id, secret) if client_id and secret else None
        # The same answer for an environment that does not exist as for another school's.
        if cred is None or (school is not None and (not cred.sees(school) or env is None)):
            return oauth_error(
                401, "invalid_client", "unknown client, wrong secret or another school's client"
            )
        asked = form.get("scope", "").split() or offered
        unknown = [s for s in asked if s not in offered]
        if unknown:
            version = f"OKE {env.oke_version}" if env is not None else "OKE"
            return oauth_error(400, "invalid_scope", f"not a scope of {version}: {' '.join(unknown)}")
        now = time.monotonic()
        with self._lock:
            if len(self.tokens) > 10_000:
                self.tokens = {k: v for k, v in self.tokens.items() if v.expires > now}
            access = secrets.token_urlsafe(24)
            self.tokens[access] = _Token(
                env_key if school is not None else None,
                frozenset(asked),
                now + self.token_ttl,
                supplier=supplier,
                credential=cred,
            )
        scope = " ".join(asked)
        if any(f.echo_secrets for k, f in self.faults.items() if k[0] == supplier) and secret:
            scope += " " + echoed(secret)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl),
            "scope": scope,
        }
        return Response(json.dumps(body), media_type="application/json")

    async def _operation(self, request: Request) -> Response:
        env: _Env | None = None
        try:
            env = self._env(request)
            media = self._negotiate(env, request)
            hostile = await self._hostile(env, media)
            if hostile is not None:
                return hostile
            path = "/" + request.path_params["rest"].rstrip("/")
            method = request.method
            matches = [(op, m) for op in env.ops if (m := TEMPLATES[op.path].match(path))]
            if not matches:
                raise OkeProblem(404, "Not Found", f"{path} is not an operation of this environment")
            if method == "DELETE":
                allowed = frozenset(op.scope for op, _ in matches if op.method in ("PUT", "PATCH"))
                if not allowed:
                    raise OkeProblem(405, "Method Not Allowed", f"DELETE {path} is not allowed")
                self._authorize(request, env, allowed)
                return self._delete(env, path)
            same = [(op, m) for op, m in matches if op.method == method]
            if not same:
                verbs = sorted({op.method for op, _ in matches})
                raise OkeProblem(
                    405,
                    "Method Not Allowed",
                    f"{method} {path} is not allowed",
                    headers={"Allow": ", ".join(verbs)},
                )
            op, match = same[0]
            self._authorize(request, env, frozenset(o.scope for o, _ in same))
            params = match.groupdict()
            if any(not _ID.match(v) for v in params.values()):
                raise OkeProblem(400, "Bad Request", "an id in the path is not valid")
            if method == "GET":
                return self._get(env, request, op, params, media)
            body = await json_body(request)
            if method == "PUT":
                return self._put(env, op, params, body, media)
            return self._patch(env, op, params, body, media)
        except OkeProblem as problem:
            return self._problem(env, problem, request)
        except Answer as answer:
            return answer.response

    def _get(
        self, env: _Env, request: Request, op: Operation, params: dict[str, str], media: str
    ) -> Response:
        path = op.path
        if path == "/components":
            return self._page(env, request, "component", media)
        if path in ("/offerings", "/groups"):
            return self._page(env, request, path[1:-1], media)
        if path == "/groups/{groupId}/members":
            self._need(env, "group", params["groupId"])
            return self._page(env, request, "member", media)
        if path == "/offerings/{offeringId}/associations":
            self._need(env, "offering", params["offeringId"])
            return self._page(env, request, "association", media)
        if path == "/persons/{personId}/associations":
            self._need(env, "person", params["personId"])
            return self._page(env, request, "programme_association", media)
        if path == "/associations/{associationId}/url":
            self._need(env, "association", params["associationId"])
            return self._json(env, f"https://toets.example/start/{params['associationId']}", media=media)
        if path == "/documents/{documentId}":
            if params["documentId"] != DOCUMENT_ID:
                raise OkeProblem(404, "Not Found", f"no document {params['documentId']}")
            return Response(
                b"%PDF-1.4\n% okectl sandbox report of a sitting\n", media_type="application/octet-stream"
            )
        kind = path.split("/")[1]
        kind = {"components": "component", "organizations": "organization"}.get(
            kind, SINGULAR.get(kind, kind)
        )
        ident = next(iter(params.values()))
        doc = self._need(env, kind, ident)
        return self._json(env, self._served(env, kind, doc), media=media)

    def _need(self, env: _Env, kind: str, ident: str) -> dict[str, Any]:
        doc = self._known(env, kind, ident)
        if doc is None:
            raise OkeProblem(404, "Not Found", f"no {kind} {ident}")
        return doc

    def _put(
        self, env: _Env, op: Operation, params: dict[str, str], body: dict[str, Any], media: str
    ) -> Response:
        collection = op.path.split("/")[1]
        if op.path == "/groups/{groupId}/members/{personId}":
            self._need(env, "group", params["groupId"])
            kind, ident, id_field = "member", params["groupId"] + "/" + params["personId"], "personId"
            given = body.get("personId")
            expected = params["personId"]
        else:
            kind, id_field = SINGULAR[collection], ID_FIELD[collection]
            ident = expected = params[id_field]
            given = body.get(id_field)
        if given is not None and given != expected:
            raise OkeProblem(
                400, "Bad Request", f"the body's {id_field} {given!r} differs from the path's {expected!r}"
            )
        existed = self._known(env, kind, ident) is not None
        stored = dict(body)
        if kind != "member":
            stored[id_field] = ident
        with self._lock:
            self.written.setdefault(env.key, {})[(kind, ident)] = stored
        return self._json(env, stored, status=200 if existed else 201, media=media)

    def _patch(
        self, env: _Env, op: Operation, params: dict[str, str], body: dict[str, Any], media: str
    ) -> Response:
        collection = op.path.split("/")[1]
        kind, id_field = SINGULAR[collection], ID_FIELD[collection]
        ident = params[id_field]
        if id_field in body:
            raise OkeProblem(
                400, "Bad Request", f"a PATCH carries no {id_field}; the path names the resource"
            )
        current = self._need(env, kind, ident)
        cancelled = current.get("state") in ("canceled", "cancelled") or any(
            isinstance(c, dict) and c.get("offeringState") in ("canceled", "cancelled")
            for c in current.get("consumers") or []
        )
        if cancelled and self._faults(env).reject_cancelled and ("result" in body or kind == "offering"):
            raise OkeProblem(400, "Bad Request", f"the {kind} {ident} is cancelled")
        merged = merge(current, body)
        with self._lock:
            self.written.setdefault(env.key, {})[(kind, ident)] = merged
        if kind == "association":
            # The profile answers a PATCH of an association with its id, messages and state,
            # not the association itself.
            answer: dict[str, Any] = {
                "associationId": ident,
                "message": [{"language": "en-GB", "value": "the association was updated"}],
            }
            if isinstance(merged.get("state"), str):
                answer["state"] = merged["state"]
            return self._json(env, answer, media=media)
        return self._json(env, merged, media=media)

    def _delete(self, env: _Env, path: str) -> Response:
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "groups":
            key = ("member", parts[1] + "/" + parts[3])
        elif len(parts) == 2 and parts[0] in SINGULAR:
            key = (SINGULAR[parts[0]], parts[1])
        else:
            raise OkeProblem(405, "Method Not Allowed", f"DELETE {path} is not allowed")
        with self._lock:
            removed = self.written.get(env.key, {}).pop(key, None)
        if removed is None:
            raise OkeProblem(404, "Not Found", f"nothing created at {path}")
        return Response(status_code=204)

    # --- run-time control ------------------------------------------------------------------

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.faults.clear()
        elif request.method == "POST":
            try:
                data = json.loads(await request.body() or b"{}")
                if not isinstance(data, dict) or not isinstance(data.get("environment"), str):
                    raise ValueError('send {"environment": "supplier/school/name", <fault>: ...}')
                parts = tuple(data.pop("environment").split("/"))
                if len(parts) != 3:
                    raise ValueError("environment is supplier/school/name")
                self.faults[(parts[0], parts[1], parts[2])] = OkeFaults.from_dict(data)
            except ValueError as exc:
                return Response(
                    json.dumps({"title": "Bad Request", "status": 400, "detail": str(exc)}),
                    status_code=400,
                    media_type=PROBLEM,
                )
        body = {"/".join(k): asdict(v) for k, v in self.faults.items()}
        return Response(json.dumps(body), media_type="application/json")

    async def admin_tokens(self, request: Request) -> Response:
        """Every token issued, so a test can prove none of them is kept anywhere."""
        with self._lock:
            body = sorted(self.tokens)
        return Response(json.dumps(body), media_type="application/json")

    async def admin_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            with self._lock:
                self.log.clear()
        with self._lock:
            body = {"/".join(k): list(v) for k, v in self.log.items()}
        return Response(json.dumps(body), media_type="application/json")

    def routes(self, *, control: bool = False) -> list[Route]:
        """The OKE routes; ``control`` adds the faults and request log for tests."""
        base = "/ooapi/{supplier}/{school}/{environment}"
        routes = [
            Route("/ooapi/{supplier}/oauth/token", self.supplier_token, methods=["POST"]),
            Route(base, self.service, methods=["GET"]),
            Route(base + "/", self.service, methods=["GET"]),
            Route(base + "/oauth/token", self.token, methods=["POST"]),
            Route(base + "/{rest:path}", self.operation, methods=["GET", "PUT", "PATCH", "DELETE"]),
        ]
        if control:
            routes += [
                Route("/_sandbox/oke/faults", self.admin_faults, methods=["GET", "POST", "DELETE"]),
                Route("/_sandbox/oke/requests", self.admin_requests, methods=["GET", "DELETE"]),
                Route("/_sandbox/oke/tokens", self.admin_tokens, methods=["GET"]),
            ]
        return routes


def _unauthorized() -> OkeProblem:
    return OkeProblem(
        401,
        "Unauthorized",
        "a bearer token from this environment's token endpoint is required",
        headers={"WWW-Authenticate": 'Bearer realm="okectl-sandbox-oke"'},
    )


def _passes(item: dict[str, Any], query: list[tuple[str, str]]) -> bool:
    """Whether an item matches the query's filters on its own fields (``offeringType=course``,
    ``resultExpected=true``); paging, sorting and search parameters are not filters."""
    for name, wanted in query:
        if name in NOT_FILTERS:
            continue
        value = item.get(name)
        shown = str(value).lower() if isinstance(value, bool) else value
        if shown != wanted:
            return False
    return True
