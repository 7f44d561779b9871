"""The checks per level, for one environment.

- L0 transport: https with a valid certificate (loopback sandboxes are exempt, and say so);
- L1 auth: a token per flow scope, 401 without a token, 403 with another flow's scope;
- L2 metadata: ``GET /`` against the profile's ``Service`` schema, the declared OKE version
  in ``supportedConsumers`` (else version drift), v6 ``supportedOperations`` and header
  negotiation;
- L3 read contract: every GET of the role's enabled flows: status, paging envelope, items
  valid against the profile, the ``nl-test-admin`` consumer extension, date-times with an
  offset, 404 problem+json for an unknown id; flow 6 returns programme-offering
  associations only;
- L4 write contract: PUT and PATCH as the flow documents say, with synthetic ids created for
  the run and removed again. Never on a production environment.

Independent requests run concurrently; a request that needs an earlier answer (a token, an
id from a listing) waits for exactly that answer, so an environment costs about as many
round trips as its longest chain.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit

from okectl.model.oke import (
    CONSUMER_KEY,
    IDENTIFIERS,
    NOT_FILTERS,
    SCOPE_FLOWS,
    Method,
    Operation,
    has_flow6,
    operations,
)
from okectl.model.redaction import scrub
from okectl.verify.client import Exchange, SupplierClient, scrub_texts
from okectl.verify.model import OKECTL_RULE, PROFILE_RULE, CheckResult, EnvironmentResult, Status
from okectl.verify.profiles import Profile, v6_service_schema
from okectl.verify.schema import (
    consumer_problems,
    date_times_without_offset,
    extension_errors,
    kept_fields,
    schema_errors,
)

V6_MEDIA = "application/vnd.oeapi+json"
UNSUPPORTED_V6_VERSION = "0.1"
PROBLEM_JSON = "application/problem+json"
# A finding quotes what an endpoint sent: enough to see it, never a whole hostile answer.
MAX_KEPT_MESSAGE = 2000
# What evidence keeps of a token endpoint's answer (RFC 6749 §5.1, without the token).
TOKEN_FIELDS = ("token_type", "expires_in", "scope", "error", "error_description")
# The smallest page the profiles allow: listings are read at it, so paging shows early.
PAGE_SIZE = 10
# Pages read per listing at most: enough to see paging work, bounded for a large catalogue.
MAX_PAGES = 4
# The id field of each listing's items: no item may appear twice across its pages.
LISTING_IDS: dict[str, str] = {
    "/components": "componentId",
    "/offerings": "offeringId",
    "/groups": "groupId",
    "/groups/{groupId}/members": "personId",
    "/offerings/{offeringId}/associations": "associationId",
    "/persons/{personId}/associations": "associationId",
}

# Sources of the rules that are not the OpenAPI file's own (`CheckResult.rule`).
SPEC_TEXT = (
    "OKE specification v1.0 (2024-09-18), chapter 5 'Koppelvlakken' (referenced from doc/ErrorHandling.md)"
)
SECURITY_TEXT = "doc/ErrorHandling.md, 'Authentication en beveiliging' and 'scopes'"
PATCH_TEXT = "doc/technical-reference.md, 'Information model' (PATCH)"
FLOW6_TEXT = "doc/flow6.md, 3.6.1 (Programme Enrolments: ProgramOfferingAssociation)"
V6_NEGOTIATION = "OEAPI v6 version negotiation (Accept header; 406 with requestedVersion, supportedVersions)"
RFC_9457 = "RFC 9457 (OEAPI v6 problems)"
# Where an item endpoint finds its id: the listing that names it, and the field.
SOURCES: dict[str, tuple[str, str]] = {
    "/components/{componentId}": ("/components", "componentId"),
    "/offerings/{offeringId}": ("/offerings", "offeringId"),
    "/offerings/{offeringId}/associations": ("/offerings", "offeringId"),
    "/groups/{groupId}": ("/groups", "groupId"),
    "/groups/{groupId}/members": ("/groups", "groupId"),
    "/associations/{associationId}": ("/offerings/{offeringId}/associations", "associationId"),
    "/associations/{associationId}/url": ("/offerings/{offeringId}/associations", "associationId"),
    "/persons/{personId}": ("/groups/{groupId}/members", "personId"),
    "/persons/{personId}/associations": ("/groups/{groupId}/members", "personId"),
}


class ProductionRefused(Exception):
    """A write check was about to run against a production environment."""


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    client_secret: str
    token_url: str | None = None  # None: the environment's own {base_url}/oauth/token


@dataclass(slots=True)
class Target:
    """One environment to verify, as the repository declares it and the supplier locates it."""

    supplier: str
    school: str
    environment: str
    type: str
    roles: frozenset[str]
    flows: frozenset[int]
    oke_version: str
    ooapi_version: str
    base_url: str
    production: bool
    # The adapter's own reference supplier (the sandbox): loopback URLs need no https.
    local: bool = False

    @property
    def address(self) -> str:
        return f"{self.supplier}/{self.school}/{self.environment}"

    @property
    def v6(self) -> bool:
        return self.ooapi_version.split(".")[0] == "6"


@cache
def request_bodies(oke_version: str) -> dict[str, Any]:
    """Level 4's request bodies, valid against the profile's request schemas (built from the
    profiles like the sandbox's data)."""
    name = f"requests-{oke_version}.json"
    data: dict[str, Any] = json.loads(
        (resources.files("okectl.verify") / "data" / name).read_text(encoding="utf-8")
    )
    return data


def _tls_failure(error: str) -> bool:
    lowered = error.lower()
    return "ssl" in lowered or "certificate" in lowered


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".invalid"):
        # *.invalid never resolves: it is the embedded sandbox, reached in-process.
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


def _matches(template: str, path: str) -> bool:
    return bool(_template_regex(template).match(path))


def _fill(template: str, values: dict[str, str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


@dataclass
class EnvironmentCheck:
    target: Target
    profile: Profile
    client: SupplierClient
    credentials: Credentials
    level: int
    result: EnvironmentResult
    tokens: dict[str, str] = field(default_factory=dict)
    token_depth: int = 0
    # Listings whose first page was not valid against the profile (read.get said so).
    invalid_listings: set[str] = field(default_factory=set)
    ops: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        t = self.target
        self.ops = operations(t.roles, t.flows, t.oke_version)

    # --- plumbing --------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.target.base_url.rstrip("/") + path

    def record(
        self,
        level: int,
        check: str,
        status: Status,
        message: str,
        *,
        exchange: Exchange | None = None,
        requires: str = "",
        rule: str = PROFILE_RULE,
        kept: str | None = None,
    ) -> None:
        """One check's result. ``kept`` is what evidence keeps of the answer (the profile's
        fields, see `kept_fields`) instead of its raw start. What an endpoint said reaches
        the result cleaned of the run's secrets first, and only then cut short."""
        message, line = scrub_texts([message, exchange.line if exchange else ""], self._hidden())
        if len(message) > MAX_KEPT_MESSAGE:
            message = message[:MAX_KEPT_MESSAGE] + "…"
        self.result.add(
            CheckResult(
                level,
                check,
                status,
                message,
                request=line,
                requires=requires,
                excerpt=exchange.excerpt(self._hidden(), kept) if exchange else None,
                rule=rule,
            )
        )

    def clean(self, text: str) -> str:
        """``text`` without the run's secrets known so far, in any form (`scrub`)."""
        return scrub(text, self._hidden())

    def schema_errors(self, schema: Any, instance: Any, **kwargs: Any) -> list[str]:
        return schema_errors(schema, instance, clean=self.clean, **kwargs)

    async def send(self, method: str, url: str, **kwargs: Any) -> Exchange:
        """Every request of the environment's checks: notes whether the endpoint answers."""
        ex = await self.client.send(method, url, **kwargs)
        observed = self.result.observed
        if ex.status is not None:
            observed.answered = True
        elif observed.answered is None:
            observed.answered = False
        return ex

    def path_of(self, ex: Exchange) -> str:
        base = self.target.base_url.rstrip("/")
        return ex.url[len(base) :] or "/" if ex.url.startswith(base) else ex.url

    def transport_failed(self, level: int, check: str, ex: Exchange) -> bool:
        if ex.limit is not None:
            # An answer past a limit is the endpoint's failure, reported once: an endpoint
            # that sends one usually sends more, and the first says it.
            if not any(c.rule == OKECTL_RULE and c.check.endswith(".limit") for c in self.result.checks):
                self.record(
                    level,
                    check + ".limit",
                    "fail",
                    f"{ex.method} {self.path_of(ex)}: {ex.limit}",
                    exchange=ex,
                    requires=f"every answer whole within {self.client.timeout:g} s and at most "
                    f"{self.client.max_answer_bytes // (1024 * 1024)} MiB, compressed or decoded",
                    rule=OKECTL_RULE,
                )
            return True
        if ex.error is None:
            return False
        if _tls_failure(ex.error):
            # A certificate the client cannot trust is a transport failure of the
            # environment, not an outage: reported once, at level 0.
            if not any(c.check == "transport.certificate" for c in self.result.checks):
                self.record(
                    0,
                    "transport.certificate",
                    "fail",
                    f"TLS failed: {ex.error}",
                    exchange=ex,
                    requires="https with a valid certificate (OKE: TLS)",
                    rule=SECURITY_TEXT,
                )
            return True
        self.record(level, check, "error", f"no answer: {ex.error}", exchange=ex)
        return True

    def headers(self) -> dict[str, str]:
        if self.target.v6:
            version = self.target.ooapi_version
            return {
                "Accept": f"{V6_MEDIA}; version={version}; consumer={CONSUMER_KEY}; "
                f"consumer-version={self.target.oke_version}"
            }
        return {}

    async def get(self, path: str, *, after: int, scope: str | None = None) -> Exchange:
        token = self.tokens.get(scope) if scope else next(iter(self.tokens.values()), None)
        return await self.send("GET", self.url(path), after=after, token=token, headers=self.headers())

    def problem_errors(self, ex: Exchange, method: str, op_path: str) -> list[str]:
        """An error answer against the profile: ``application/problem+json``, valid against
        the version's problem schema (OOAPI v5: ``status`` a string; OEAPI v6: RFC 9457)."""
        problems: list[str] = []
        media = ex.content_type.split(";")[0].strip().lower()
        if media != PROBLEM_JSON:
            problems.append(f"content type {ex.content_type or 'none'}, not {PROBLEM_JSON}")
        try:
            body = ex.json()
        except ValueError:
            return [*problems, "the body is not JSON"]
        if self.target.v6:
            if not isinstance(body, dict) or not isinstance(body.get("title"), str):
                problems.append("the problem has no title")
            elif "status" in body and body["status"] != ex.status:
                problems.append(f"status: {body['status']!r} is not the number {ex.status}")
        else:
            schema = self.profile.error_schema(method, op_path, ex.status or 0)
            if schema is not None:
                problems += self.schema_errors(schema, body)
        return problems

    def problem_requires(self, status: int) -> str:
        if self.target.v6:
            return f"a {status} answer is {PROBLEM_JSON} with a title and status {status} as a number"
        return (
            f"a {status} answer is {PROBLEM_JSON} valid against the problem schema of "
            f"{self.profile_name()} (status a string, title required)"
        )

    def media_errors(self, ex: Exchange, method: str, op_path: str) -> list[str]:
        """A successful answer's content type against the media types the profile declares."""
        declared = self.profile.media_types(method, op_path, str(ex.status))
        if self.target.v6:
            declared = [*declared, V6_MEDIA]
        media = ex.content_type.split(";")[0].strip().lower()
        if not declared or media in declared:
            return []
        return [f"content type {ex.content_type or 'none'}, not {' or '.join(declared)}"]

    def profile_name(self) -> str:
        return f"OKE {self.profile.version} ({self.profile.file})"

    # --- the run ---------------------------------------------------------------------------

    async def run(self) -> None:
        if not self.transport():
            # No token, and nothing else, goes to an endpoint that is not https.
            return
        if self.level < 1:
            return
        if not await self.fetch_tokens():
            return
        later: list[Awaitable[None]] = [self.auth_probes()]
        if self.level >= 2:
            later.append(self.metadata())
        if self.level >= 3:
            later.append(self.read_contract())
        await asyncio.gather(*later)
        if self.level >= 4:
            await self.write_contract()

    # L0 -------------------------------------------------------------------------------------

    def transport(self) -> bool:
        """L0; False when the endpoint must not be sent anything more."""
        url = self.target.base_url
        scheme = urlsplit(url).scheme
        if self.target.local and is_loopback(url):
            self.record(
                0,
                "transport.https",
                "skip",
                f"{url} is a loopback sandbox: exempt from https and certificate checks",
                requires="https with a valid certificate (OKE: TLS)",
            )
        elif scheme != "https":
            self.record(
                0,
                "transport.https",
                "fail",
                f"the base URL {url} is not https; nothing more was sent to it",
                requires="https with a valid certificate (OKE: TLS)",
            )
            return False
        else:
            # Certificates are checked on every request (the client verifies them); a
            # failing handshake shows as a transport error on the first one.
            self.record(
                0, "transport.https", "pass", f"{url} is https; certificates verified on each request"
            )
        return True

    # L1 -------------------------------------------------------------------------------------

    def _needed_scopes(self) -> list[str]:
        own = sorted({op.scope for op in self.ops})
        needed = list(own)
        for scope in own:
            probe = self._probe_op(scope)
            if probe is not None and not (set(needed) - self._allowed(probe)):
                foreign = self._foreign_scope(probe)
                if foreign is not None and foreign not in needed:
                    needed.append(foreign)
        return needed

    def _allowed(self, op: Operation) -> set[str]:
        return set(self.profile.scopes(op.method, op.path)) | {op.scope}

    def _foreign_scope(self, op: Operation) -> str | None:
        allowed = self._allowed(op)
        for scope in SCOPE_FLOWS:
            if scope not in allowed and (
                scope != "nl-test-admin-flow-6" or has_flow6(self.target.oke_version)
            ):
                return scope
        return None

    def _probe_op(self, scope: str) -> Operation | None:
        mine = [op for op in self.ops if op.scope == scope]
        gets = [op for op in mine if op.method == "GET"]
        return (gets or mine)[0] if (gets or mine) else None

    def _hidden(self) -> list[str]:
        """What evidence must never show: the client secret and every token obtained."""
        return [self.credentials.client_secret, *self.tokens.values()]

    async def fetch_tokens(self) -> bool:
        token_url = self.credentials.token_url or self.url("/oauth/token")
        scopes = self._needed_scopes()

        async def one(scope: str) -> None:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "scope": scope,
            }
            ex = await self.send("POST", token_url, form=form)
            self.token_depth = max(self.token_depth, ex.depth)
            if ex.limit is not None:
                self.transport_failed(1, "auth.token", ex)
                return
            if ex.error is not None:
                if _tls_failure(ex.error):
                    self.transport_failed(0, "transport.certificate", ex)
                else:
                    self.record(
                        1, "auth.token", "error", f"token endpoint unreachable: {ex.error}", exchange=ex
                    )
                return
            try:
                answer = ex.json()
            except ValueError:
                answer = None
            token = answer.get("access_token") if ex.status == 200 and isinstance(answer, dict) else None
            # Evidence keeps what RFC 6749 defines of the answer, never the token itself.
            kept = (
                json.dumps({k: answer[k] for k in TOKEN_FIELDS if k in answer}, ensure_ascii=False)
                if isinstance(answer, dict)
                else None
            )
            if not isinstance(token, str) or not token:
                self.result.observed.scopes_refused.append(scope)
                status: Status = "fail" if scope in {op.scope for op in self.ops} else "skip"
                self.record(
                    1,
                    "auth.token",
                    status,
                    f"no token for scope {scope}: HTTP {ex.status}",
                    exchange=ex,
                    requires="OAuth 2.0 client credentials grant per flow scope",
                    rule=SECURITY_TEXT,
                    kept=kept,
                )
                return
            self.tokens[scope] = token
            self.result.observed.scopes_granted.append(scope)
            if scope in {op.scope for op in self.ops}:
                self.record(1, "auth.token", "pass", f"token for scope {scope}", exchange=ex, kept=kept)

        await asyncio.gather(*(one(s) for s in scopes))
        self.result.observed.scopes_granted.sort()
        self.result.observed.scopes_refused.sort()
        own = {op.scope for op in self.ops}
        return bool(own & set(self.tokens)) or not own

    def _probe_path(self, op: Operation) -> str:
        return _fill(op.path, {name: str(uuid.uuid4()) for name in IDENTIFIERS})

    async def _send_probe(self, op: Operation, token: str | None) -> Exchange:
        body: dict[str, Any] | None = {} if op.method in ("PUT", "PATCH") else None
        return await self.send(
            op.method,
            self.url(self._probe_path(op)),
            after=self.token_depth if token else 0,
            token=token,
            headers=self.headers(),
            json_body=body,
            content_type="application/merge-patch+json" if op.method == "PATCH" else None,
        )

    def _expect_problem(
        self, level: int, check: str, ex: Exchange, op: Operation, status: int, when: str, requires: str
    ) -> None:
        """An answer that must be the error ``status``, with a problem body the profile allows."""
        what = f"{op.method} {op.path}"
        if ex.status != status:
            self.record(
                level,
                check,
                "fail",
                f"{what}: answered {ex.status} {when}, not {status}",
                exchange=ex,
                requires=requires,
                rule=SECURITY_TEXT,
            )
            return
        problems = self.problem_errors(ex, op.method, op.path)
        if problems:
            self.record(
                level,
                check,
                "fail",
                f"{what}: the {status} answer {when}: " + "; ".join(problems),
                exchange=ex,
                requires=self.problem_requires(status),
            )
        else:
            self.record(level, check, "pass", f"{what}: {status} {when}, a valid problem", exchange=ex)

    async def auth_probes(self) -> None:
        async def probe(scope: str) -> None:
            op = self._probe_op(scope)
            if op is None:
                return
            requires = f"{op.method} {op.path} requires a token with scope " + " or ".join(
                sorted(self._allowed(op))
            )
            ex = await self._send_probe(op, None)
            if not self.transport_failed(1, "auth.no-token", ex):
                self._expect_problem(1, "auth.no-token", ex, op, 401, "without a token", requires)
            allowed = self._allowed(op)
            other = next((s for s in self.tokens if s not in allowed), None)
            if other is None:
                self.record(
                    1, "auth.wrong-scope", "skip", f"no token of another flow's scope to probe {op.path}"
                )
                return
            ex = await self._send_probe(op, self.tokens[other])
            if not self.transport_failed(1, "auth.wrong-scope", ex):
                self._expect_problem(
                    1, "auth.wrong-scope", ex, op, 403, f"to a token of scope {other}", requires
                )

        await asyncio.gather(*(probe(s) for s in sorted({op.scope for op in self.ops})))

    # L2 -------------------------------------------------------------------------------------

    async def metadata(self) -> None:
        ex = await self.get("/", after=self.token_depth)
        if self.transport_failed(2, "metadata.service", ex):
            return
        requires = f"GET / answers 200 with a Service document ({self.profile_name()})"
        if ex.status != 200:
            self.record(
                2, "metadata.service", "fail", f"GET / answered {ex.status}", exchange=ex, requires=requires
            )
            return
        try:
            doc = ex.json()
        except ValueError:
            self.record(2, "metadata.service", "fail", "GET / is not JSON", exchange=ex, requires=requires)
            return
        self._observe_service(doc)
        if self.target.v6:
            errors = self.media_errors(ex, "get", "/") + self.schema_errors(
                v6_service_schema(), doc, draft2020=True
            )
            schema_name = "the OEAPI v6 Service schema"
        elif self.profile.has_service:
            errors = self.media_errors(ex, "get", "/") + self.schema_errors(
                self.profile.response_schema("get", "/"), doc
            )
            schema_name = f"the Service schema of {self.profile_name()}"
        else:
            errors = None
            schema_name = ""
        if errors is None:
            self.record(
                2,
                "metadata.service",
                "skip",
                f"the {self.profile.version} profile defines no GET /; its version is still read",
                exchange=ex,
            )
        elif errors:
            self.record(
                2,
                "metadata.service",
                "fail",
                "GET / is not valid: " + "; ".join(errors),
                exchange=ex,
                requires=f"valid against {schema_name}",
            )
        else:
            self.record(2, "metadata.service", "pass", f"GET / is valid against {schema_name}", exchange=ex)
        self._version(doc, ex)
        if self.target.v6:
            self._operations(doc, ex)
            await self.negotiation(ex.depth)

    def _observe_service(self, doc: Any) -> None:
        consumers = doc.get("supportedConsumers") if isinstance(doc, dict) else None
        seen: list[dict[str, str]] = []
        for consumer in (consumers if isinstance(consumers, list) else [])[:20]:
            if isinstance(consumer, dict):
                seen.append(
                    {
                        k: self.clean(str(consumer[k]))[:64]
                        for k in ("consumerKey", "version")
                        # Text only: a number's str() is not what was sent (1.10 → "1.1").
                        if isinstance(consumer.get(k), str)
                    }
                )
        self.result.observed.consumers = seen
        ours = [c.get("version") for c in seen if c.get("consumerKey") == CONSUMER_KEY]
        self.result.observed.oke_version = ours[0] if ours else None

    def _version(self, doc: Any, ex: Exchange) -> None:
        declared = self.target.oke_version
        consumers = doc.get("supportedConsumers") if isinstance(doc, dict) else None
        ours = [
            c.get("version")
            for c in consumers or []
            if isinstance(c, dict) and c.get("consumerKey") == CONSUMER_KEY
        ]
        requires = f"supportedConsumers holds {{consumerKey: {CONSUMER_KEY}, version: {declared}}}"
        if declared in ours:
            self.record(2, "metadata.version", "pass", f"GET / names OKE {declared}", exchange=ex)
        elif ours and not isinstance(ours[0], str):
            # 1.10 written unquoted arrives as the number 1.1: no version to compare or keep.
            shown = self.clean(json.dumps(ours[0]))[:64]
            self.record(
                2,
                "metadata.version",
                "fail",
                f"GET / names its version as {shown}, not as text: no OKE version to compare with {declared}",
                exchange=ex,
                requires=requires,
                rule=OKECTL_RULE,
            )
        elif ours:
            served = self.clean(str(ours[0]))[:64]
            self.result.drift = served
            self.record(
                2,
                "metadata.version",
                "fail",
                f"version drift: the repository declares OKE {declared}, GET / says OKE {served}",
                exchange=ex,
                requires=requires,
                rule=OKECTL_RULE,
            )
        else:
            self.record(
                2,
                "metadata.version",
                "fail",
                f"GET / names no {CONSUMER_KEY} consumer",
                exchange=ex,
                requires=requires,
                rule=OKECTL_RULE,
            )

    def _operations(self, doc: Any, ex: Exchange) -> None:
        listed = doc.get("supportedOperations") if isinstance(doc, dict) else None
        if listed is None:
            self.record(2, "metadata.operations", "skip", "GET / lists no supportedOperations", exchange=ex)
            return
        have = {
            (verb, op.get("path")) for op in listed if isinstance(op, dict) for verb in op.get("verbs") or []
        }
        missing = [f"{op.method} {op.path}" for op in self.ops if (op.method, op.path) not in have]
        if missing:
            self.record(
                2,
                "metadata.operations",
                "fail",
                "supportedOperations lacks " + ", ".join(missing),
                exchange=ex,
                requires="supportedOperations covers the role's operations for its enabled flows",
                rule=OKECTL_RULE,
            )
        else:
            self.record(
                2, "metadata.operations", "pass", f"supportedOperations covers all {len(self.ops)} operations"
            )

    async def negotiation(self, after: int) -> None:
        accept = (
            f"{V6_MEDIA}; version={UNSUPPORTED_V6_VERSION}; consumer={CONSUMER_KEY}; "
            f"consumer-version={self.target.oke_version}"
        )
        token = next(iter(self.tokens.values()), None)
        ex = await self.send("GET", self.url("/"), after=after - 1, token=token, headers={"Accept": accept})
        if self.transport_failed(2, "metadata.negotiation", ex):
            return
        requires = "406 with requestedVersion and supportedVersions for a version not served"
        try:
            body = ex.json()
        except ValueError:
            body = None
        supported = body.get("supportedVersions") if isinstance(body, dict) else None
        problems = self.problem_errors(ex, "get", "/") if ex.status == 406 else []
        if problems:
            self.record(
                2,
                "metadata.negotiation",
                "fail",
                "the 406 answer: " + "; ".join(problems),
                exchange=ex,
                requires=self.problem_requires(406),
                rule=RFC_9457,
            )
        elif (
            ex.status == 406
            and isinstance(supported, list)
            and self.target.ooapi_version in supported
            and isinstance(body, dict)
            and body.get("requestedVersion") == UNSUPPORTED_V6_VERSION
        ):
            self.record(
                2,
                "metadata.negotiation",
                "pass",
                f"406 for version {UNSUPPORTED_V6_VERSION}; serves " + ", ".join(map(str, supported)),
                exchange=ex,
            )
        else:
            self.record(
                2,
                "metadata.negotiation",
                "fail",
                f"asked for version {UNSUPPORTED_V6_VERSION}: answered {ex.status}"
                + ("" if isinstance(supported, list) else " without supportedVersions"),
                exchange=ex,
                requires=requires,
                rule=V6_NEGOTIATION,
            )

    # L3 -------------------------------------------------------------------------------------

    def kept(self, ex: Exchange, schema: Any) -> str | None:
        """What evidence keeps of a JSON answer: the fields the profile defines, cut short."""
        if schema is None:
            return None
        try:
            # Cleaned as a whole before any string in it is cut short.
            body = json.loads(self.clean(ex.content.decode("utf-8", "replace")))
        except ValueError:
            return None
        return json.dumps(kept_fields(schema, body), ensure_ascii=False)

    def _check_body(self, level: int, op_path: str, ex: Exchange, check: str) -> Any:
        """Status 200, its content type, JSON valid against the profile, OKE consumers,
        offsets; the body (None when there is no JSON answer)."""
        requires = f"GET {op_path} answers 200 valid against {self.profile_name()}"
        if ex.status != 200:
            self.record(
                level, check, "fail", f"answered {ex.status}, not 200", exchange=ex, requires=requires
            )
            return None
        try:
            body = ex.json()
        except ValueError:
            problems = [*self.media_errors(ex, "get", op_path), "the answer is not JSON"]
            self.record(level, check, "fail", "; ".join(problems), exchange=ex, requires=requires)
            return None
        schema = self.profile.response_schema("get", op_path)
        kept = self.kept(ex, schema)
        problems = self.media_errors(ex, "get", op_path)
        found = self.schema_errors(schema, body) if schema is not None else []
        if found:
            self.invalid_listings.add(op_path)
        if schema is not None and not found:
            found += extension_errors(schema, body, clean=self.clean)
        problems += found + date_times_without_offset(body)
        if problems:
            self.record(level, check, "fail", "; ".join(problems), exchange=ex, requires=requires, kept=kept)
        else:
            self.record(level, check, "pass", f"GET {op_path}: 200, valid", exchange=ex, kept=kept)
        keys = consumer_problems(body)
        if keys:
            self.record(
                level,
                "read.consumer-key",
                "fail",
                f"GET {op_path}: " + "; ".join(keys),
                exchange=ex,
                requires=f"OKE's consumer extension travels under consumerKey {CONSUMER_KEY!r} exactly",
                rule=OKECTL_RULE,
                kept=kept,
            )
        if op_path == "/persons/{personId}/associations":
            kinds = (
                {i.get("associationType") for i in body.get("items", []) if isinstance(i, dict)}
                if isinstance(body, dict)
                else set()
            )
            other = sorted(str(k) for k in kinds - {"programOfferingAssociation"})
            if other:
                self.record(
                    level,
                    "read.flow-6",
                    "fail",
                    "flow 6 returns programme-offering associations only, not " + ", ".join(other),
                    exchange=ex,
                    requires="GET /persons/{personId}/associations lists programOfferingAssociations only",
                    rule=FLOW6_TEXT,
                    kept=kept,
                )
        # Even an invalid answer names ids: the reads that depend on it still run.
        return body

    async def not_found(self, op: Operation) -> None:
        path = self._probe_path(op)
        scope = op.scope if op.scope in self.tokens else None
        ex = await self.get(path, after=self.token_depth, scope=scope)
        if self.transport_failed(3, "read.unknown-id", ex):
            return
        self._expect_problem(
            3,
            "read.unknown-id",
            ex,
            op,
            404,
            "for an unknown id",
            f"an unknown id answers 404 {PROBLEM_JSON} ({self.profile_name()})",
        )

    async def listing(self, op: Operation, url_path: str, first: Exchange, body: Any) -> None:
        """Paging and filters of a listing whose first page (``body``) was read."""
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return
        params = self.profile.query_parameters("get", op.path)
        await asyncio.gather(
            self.paging(op, url_path, first, body),
            *(
                self.filter(op, url_path, name, schema, body["items"], first.depth)
                for name, schema in params.items()
                if name not in NOT_FILTERS
            ),
        )

    async def paging(self, op: Operation, url_path: str, first: Exchange, body: dict[str, Any]) -> None:
        """pageSize honoured, hasNextPage leading to a next page that is read and checked, no
        item twice, no page larger than asked."""
        requires = (
            f"GET {op.path} pages by pageSize and pageNumber: at most pageSize items a page, "
            "hasNextPage true only when a next page holds items, no item on two pages"
        )
        id_field = LISTING_IDS.get(op.path)
        schema = self.profile.response_schema("get", op.path)
        # Later pages are held to the schema when the first was (else read.get said it).
        first_valid = op.path not in self.invalid_listings
        seen: dict[str, int] = {}
        ex, number, problems = first, 1, []
        while True:
            items = body.get("items")
            items = items if isinstance(items, list) else []
            if len(items) > PAGE_SIZE:
                problems.append(
                    f"page {number} holds {len(items)} items, more than the pageSize={PAGE_SIZE} asked"
                )
            for i, item in enumerate(items):
                key = (
                    str(item.get(id_field))
                    if id_field and isinstance(item, dict) and id_field in item
                    else json.dumps(item, sort_keys=True)
                )
                if key in seen:
                    shown = f" ({id_field} {key})" if id_field and len(key) < 200 else ""
                    problems.append(f"page {number} items[{i}]{shown} was already on page {seen[key]}")
                    break
                seen[key] = number
            if problems or body.get("hasNextPage") is not True or number >= MAX_PAGES:
                break
            number += 1
            sep = "&" if "?" in url_path else "?"
            ex = await self.get(f"{url_path}{sep}pageNumber={number}", after=ex.depth, scope=op.scope)
            if self.transport_failed(3, "read.paging", ex):
                return
            if ex.status != 200:
                problems.append(f"page {number} (after hasNextPage: true) answered {ex.status}, not 200")
                break
            try:
                next_body = ex.json()
            except ValueError:
                next_body = None
            if not isinstance(next_body, dict):
                problems.append(f"page {number} is not a page")
                break
            invalid = self.schema_errors(schema, next_body) if schema is not None and first_valid else []
            if invalid:
                problems.append(f"page {number}: " + "; ".join(invalid))
                break
            if not next_body.get("items"):
                problems.append(f"page {number} is empty, but page {number - 1} said hasNextPage: true")
                break
            body = next_body
        if problems:
            self.record(
                3,
                "read.paging",
                "fail",
                f"GET {op.path}: " + "; ".join(problems),
                exchange=ex,
                requires=requires,
            )
        else:
            more = " (not read further)" if body.get("hasNextPage") is True else ""
            self.record(
                3,
                "read.paging",
                "pass",
                f"GET {op.path}: {number} page(s) of at most {PAGE_SIZE}{more}, "
                f"{len(seen)} items, none twice",
            )

    async def filter(
        self, op: Operation, url_path: str, name: str, schema: Any, items: list[Any], after: int
    ) -> None:
        """A query filter the profile declares, exercised with a value the listing shows: the
        first item's own value finds it, another value of the enumeration finds only its own."""
        first = items[0] if items and isinstance(items[0], dict) else None
        value = first.get(name) if first is not None else None
        if not isinstance(value, (str, bool)):
            self.record(
                3, "read.filter", "skip", f"GET {op.path}?{name}=…: no item shows a {name} to filter on"
            )
            return
        enum = schema.get("enum") if isinstance(schema, dict) else None
        cases: list[tuple[str | bool, bool]] = []
        if isinstance(value, bool):
            cases = [(value, True), (not value, False)]
        elif isinstance(enum, list):
            # Only where the enumeration holds the item's own value: elsewhere the profile
            # contradicts itself, and any reading of the filter would be a guess.
            if value in enum:
                cases = [(value, True)]
                other = next((e for e in enum if isinstance(e, str) and e != value), None)
                if other is not None:
                    cases.append((other, False))
        else:
            cases = [(value, True)]
        if not cases:
            self.record(
                3, "read.filter", "skip", f"GET {op.path}?{name}=…: {value!r} is not among its values"
            )
            return
        requires = f"GET {op.path} filters on {name} (a query parameter the profile declares)"
        sep = "&" if "?" in url_path else "?"
        shown: list[str] = []
        for wanted, expect_some in cases:
            text = str(wanted).lower() if isinstance(wanted, bool) else wanted
            query = f"{name}={quote(text, safe='')}"
            ex = await self.get(f"{url_path}{sep}{query}", after=after, scope=op.scope)
            if self.transport_failed(3, "read.filter", ex):
                return
            found: Any = None
            if ex.status == 200:
                try:
                    found = ex.json().get("items")
                except (ValueError, AttributeError):
                    found = None
            problem = None
            if ex.status != 200:
                problem = f"answered {ex.status}, not 200"
            elif not isinstance(found, list):
                problem = "the answer is not a page"
            else:
                wrong = next(
                    (
                        (i, item.get(name))
                        for i, item in enumerate(found)
                        if not isinstance(item, dict) or item.get(name) != wanted
                    ),
                    None,
                )
                if wrong is not None:
                    problem = f"items[{wrong[0]}].{name} is {wrong[1]!r}, not {wanted!r}"
                elif expect_some and not found:
                    problem = f"nothing found, though the listing shows an item with {name} {wanted!r}"
            if problem is not None:
                self.record(
                    3,
                    "read.filter",
                    "fail",
                    f"GET {op.path}?{query}: {problem}",
                    exchange=ex,
                    requires=requires,
                )
                return
            shown.append(f"?{query}: {len(found)}")
        self.record(3, "read.filter", "pass", f"GET {op.path} {', '.join(shown)} item(s), each matching")

    async def read_contract(self) -> None:
        gets = {op.path: op for op in self.ops if op.method == "GET"}
        ids: dict[str, asyncio.Future[tuple[str | None, int]]] = {}
        loop = asyncio.get_running_loop()
        for path in gets:
            ids[path] = loop.create_future()

        def publish(path: str, value: str | None, depth: int) -> None:
            if path in ids and not ids[path].done():
                ids[path].set_result((value, depth))

        async def read(op: Operation) -> None:
            path = op.path
            check = "read.get"
            depth = self.token_depth
            if "{" in path:
                source = SOURCES.get(path)
                if source is None or source[0] not in gets:
                    self.record(
                        3,
                        check,
                        "skip",
                        f"GET {path}: no listing names an id to read; level 4 reads back what it creates",
                    )
                    publish(path, None, depth)
                    return
                ident, depth = await ids[source[0]]
                if ident is None:
                    self.record(3, check, "skip", f"GET {path}: no id found to read")
                    publish(path, None, depth)
                    return
                url_path = _fill(
                    path,
                    {
                        "componentId": ident,
                        "offeringId": ident,
                        "groupId": ident,
                        "associationId": ident,
                        "personId": ident,
                    },
                )
            else:
                url_path = path
            is_listing = "pageSize" in self.profile.query_parameters("get", path)
            if is_listing:
                url_path += f"?pageSize={PAGE_SIZE}"
            ex = await self.get(url_path, after=depth, scope=op.scope)
            if self.transport_failed(3, check, ex):
                publish(path, None, ex.depth)
                return
            body = self._check_body(3, path, ex, check)
            field_name = next((f for src, f in SOURCES.values() if src == path), None)
            found: str | None = None
            if isinstance(body, dict) and field_name is not None:
                items = body.get("items")
                first = items[0] if isinstance(items, list) and items else body
                if isinstance(first, dict) and isinstance(first.get(field_name), str):
                    found = first[field_name]
            publish(path, found, ex.depth)
            if is_listing:
                await self.listing(op, url_path, ex, body)

        tasks = [read(op) for op in gets.values()]
        tasks += [self.not_found(op) for op in gets.values() if "{" in op.path]
        await asyncio.gather(*tasks)

    # L4 -------------------------------------------------------------------------------------

    async def write_contract(self) -> None:
        if self.target.production or self.target.type == "production":
            raise ProductionRefused(f"{self.target.address} is a production environment")
        await WriteContract(self).run()


class WriteContract:
    """Level 4: synthetic ids, created, checked and removed again."""

    def __init__(self, env: EnvironmentCheck) -> None:
        self.env = env
        self.ops = {(op.method, op.path): op for op in env.ops}
        self.created: list[str] = []
        self.bodies = request_bodies(env.target.oke_version)

    def template_of(self, ex: Exchange) -> str:
        """The operation template an exchange's URL matches (its path, when none does)."""
        path = self.env.path_of(ex).split("?")[0]
        return next(
            (t for (m, t) in self.ops if m == ex.method and _matches(t, path)),
            path,
        )

    def token_for(self, method: Method, path: str) -> str | None:
        """The token for a request: the scope of the operation whose template matches."""
        for (m, template), op in self.ops.items():
            if m == method and _matches(template, path):
                return self.env.tokens.get(op.scope)
        return None

    async def send(self, method: Method, path: str, body: Any, after: int) -> Exchange:
        return await self.env.send(
            method,
            self.env.url(path),
            after=after,
            token=self.token_for(method, path),
            headers=self.env.headers(),
            json_body=body,
            content_type="application/merge-patch+json" if method == "PATCH" else None,
        )

    def expect(
        self,
        check: str,
        ex: Exchange,
        statuses: tuple[int, ...],
        what: str,
        requires: str,
        rule: str = PROFILE_RULE,
        template: str = "",
    ) -> bool:
        """The answer's status is one of ``statuses``; an error status expected is also held to
        the profile's problem schema (``template`` names the operation)."""
        if self.env.transport_failed(4, check, ex):
            return False
        if ex.status not in statuses:
            self.env.record(
                4,
                check,
                "fail",
                f"{what}: answered {ex.status}, expected {' or '.join(map(str, statuses))}",
                exchange=ex,
                requires=requires,
                rule=rule,
            )
            return False
        template = template or self.template_of(ex)
        if ex.status is not None and ex.status < 300 and ex.content:
            # A write's answer is an answer too: its media type and body against the profile.
            schema = self.env.profile.response_schema(ex.method, template, str(ex.status))
            problems = self.env.media_errors(ex, ex.method, template)
            if schema is not None:
                try:
                    problems += self.env.schema_errors(schema, ex.json())
                except ValueError:
                    problems.append("the answer is not JSON")
            if problems:
                self.env.record(
                    4,
                    check,
                    "fail",
                    f"{what}: the {ex.status} answer: " + "; ".join(problems),
                    exchange=ex,
                    requires=f"{ex.method} {template} answers {ex.status} valid against "
                    f"{self.env.profile_name()}",
                    kept=self.env.kept(ex, schema),
                )
                return False
        if ex.status is not None and ex.status >= 400:
            problems = self.env.problem_errors(ex, ex.method, template)
            if problems:
                self.env.record(
                    4,
                    check,
                    "fail",
                    f"{what}: the {ex.status} answer: " + "; ".join(problems),
                    exchange=ex,
                    requires=self.env.problem_requires(ex.status),
                )
                return False
        self.env.record(4, check, "pass", f"{what}: {ex.status}", exchange=ex, rule=rule)
        return True

    async def put(
        self,
        collection: str,
        id_field: str,
        kind: str,
        ident: str,
        after: int,
        extra: dict[str, Any] | None = None,
    ) -> int | None:
        path = f"/{collection}/{ident}"
        body = {**self.bodies[kind], id_field: ident, **(extra or {})}
        ex = await self.send("PUT", path, body, after)
        self.created.append(path)
        ok = self.expect(
            "write.put",
            ex,
            (200, 201),
            f"PUT /{collection}/{{{id_field}}} (synthetic {ident})",
            "PUT creates (201) or replaces (200); the body's id equals the path's",
        )
        return ex.depth if ok else None

    async def read_back(self, collection: str, template: str, ident: str, after: int) -> None:
        if ("GET", template) not in self.ops:
            return
        ex = await self.env.send(
            "GET",
            self.env.url(f"/{collection}/{ident}"),
            after=after,
            token=self.token_for("GET", template),
            headers=self.env.headers(),
        )
        if not self.env.transport_failed(4, "write.read-back", ex):
            self.env._check_body(4, template, ex, "write.read-back")

    async def run(self) -> None:
        env = self.env
        start = env.token_depth
        try:
            await asyncio.gather(self.offerings(start), self.associations(start), self.people(start))
        finally:
            await self.cleanup()

    async def offerings(self, after: int) -> None:
        if ("PUT", "/offerings/{offeringId}") not in self.ops:
            return
        ident = str(uuid.uuid4())
        depth = await self.put("offerings", "offeringId", "put_offering", ident, after)
        if depth is None:
            return
        await asyncio.gather(
            self.read_back("offerings", "/offerings/{offeringId}", ident, depth),
            self.read_back(
                "offerings", "/offerings/{offeringId}/associations", ident + "/associations", depth
            ),
        )
        if ("PATCH", "/offerings/{offeringId}") in self.ops:
            ex = await self.send("PATCH", f"/offerings/{ident}", self.bodies["patch_offering"], depth)
            self.expect(
                "write.patch",
                ex,
                (200,),
                "PATCH /offerings/{offeringId} (report of the sitting, flow 4)",
                "PATCH carries no id and answers 200",
                rule=PATCH_TEXT,
            )

    async def associations(self, after: int) -> None:
        template = "/associations/{associationId}"
        if ("PUT", template) not in self.ops:
            return
        ident, other, cancelled = (str(uuid.uuid4()) for _ in range(3))
        mismatch = {**self.bodies["put_association"], "associationId": ident}
        first, wrong, gone = await asyncio.gather(
            self.put("associations", "associationId", "put_association", ident, after),
            self.send("PUT", f"/associations/{other}", mismatch, after),
            self.put(
                "associations", "associationId", "put_association", cancelled, after, {"state": "canceled"}
            ),
        )
        self.created.append(f"/associations/{other}")
        self.expect(
            "write.put-id-mismatch",
            wrong,
            (400,),
            "PUT whose body id differs from the path",
            "on PUT the body's id equals the path id, else 400",
            rule=SPEC_TEXT,
            template=template,
        )
        if first is not None:
            await asyncio.gather(
                self.read_back("associations", template, ident, first),
                self.read_back("associations", template + "/url", ident + "/url", first),
            )
            if ("PATCH", template) in self.ops:
                ex = await self.send(
                    "PATCH", f"/associations/{ident}", self.bodies["patch_association"], first
                )
                self.expect(
                    "write.patch",
                    ex,
                    (200,),
                    "PATCH /associations/{associationId} (result)",
                    "PATCH carries no id and answers 200",
                    rule=PATCH_TEXT,
                )
        receives_results = bool(self.env.target.roles & {"tpl", "sis"})
        if gone is not None and receives_results and ("PATCH", template) in self.ops:
            body = {"result": self.bodies["patch_association"].get("result", {})}
            ex = await self.send("PATCH", f"/associations/{cancelled}", body, gone)
            self.expect(
                "write.cancelled-association",
                ex,
                (200,),
                "a correct result for a cancelled association",
                "a receiver must answer 200, not 400, to a correct result for a cancelled association "
                "(flows 3 and 5)",
                rule=SPEC_TEXT,
            )

    async def people(self, after: int) -> None:
        if ("PUT", "/persons/{personId}") not in self.ops:
            return
        person, group = str(uuid.uuid4()), str(uuid.uuid4())
        done = await asyncio.gather(
            self.put("persons", "personId", "put_person", person, after),
            self.put("groups", "groupId", "put_group", group, after),
        )
        template = "/groups/{groupId}/members/{personId}"
        if ("PUT", template) in self.ops and all(d is not None for d in done):
            path = f"/groups/{group}/members/{person}"
            body = {**self.bodies["put_member"], "personId": person}
            ex = await self.send("PUT", path, body, max(d or 0 for d in done))
            self.created.insert(0, path)
            self.expect(
                "write.put",
                ex,
                (200, 201),
                "PUT /groups/{groupId}/members/{personId}",
                "PUT creates (201) or replaces (200)",
            )

    async def cleanup(self) -> None:
        """Remove every synthetic resource again. OKE defines no DELETE; where the supplier
        offers none (405), the ids are reported so they can be removed by hand."""
        left: list[str] = []

        async def remove(path: str) -> None:
            ex = await self.env.send(
                "DELETE", self.env.url(path), token=self._any_token(path), after=self.env.token_depth
            )
            if ex.error is not None or ex.status not in (200, 204, 404):
                left.append(path)

        members = [p for p in self.created if "/members/" in p]
        rest = [p for p in self.created if "/members/" not in p]
        await asyncio.gather(*(remove(p) for p in members))
        await asyncio.gather(*(remove(p) for p in rest))
        if left:
            self.env.record(
                4, "write.cleanup", "skip", "synthetic resources left (no DELETE): " + ", ".join(left)
            )
        elif self.created:
            self.env.record(4, "write.cleanup", "pass", f"{len(self.created)} synthetic resource(s) removed")

    def _any_token(self, path: str) -> str | None:
        collection = path.split("/")[1]
        for (method, template), op in self.ops.items():
            if method in ("PUT", "PATCH") and template.split("/")[1] == collection:
                return self.env.tokens.get(op.scope)
        return None
