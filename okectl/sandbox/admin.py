"""The administration API's answers, without a web framework.

What the API checks and answers (bodies, credentials and tokens, page arguments,
listings) lives here, so the served application (``app``) and the embedded sandbox, which
answers in-process without sockets or ASGI, share one implementation of it.
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
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qs, quote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from okectl.model.resources import Kind
from okectl.sandbox.store import BASE_URL_MARKER, Credential, Store

if TYPE_CHECKING:
    from okectl.sandbox.faults import FaultInjector

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


def etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.blake2b(body, digest_size=10).hexdigest() + '"'


def problem_body(problem: Problem, path: str) -> bytes:
    """The problem document (RFC 9457) answering a request for ``path``."""
    return json.dumps(
        {
            "type": f"https://okectl.example/problems/{problem.slug}",
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            "instance": quote(path, safe="/"),
        }
    ).encode()


@dataclass
class _Token:
    credential: Credential
    expires: float


@dataclass
class Sandbox:
    """The API's state: its store, issued tokens and the fault injector (when served)."""

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

    def credential(self, authorization: str, supplier: str) -> Credential:
        """The credential of a request's ``Authorization`` header (a bearer token this
        supplier's token endpoint issued), or Problem 401."""
        scheme, _, token = authorization.partition(" ")
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

    def grant(
        self, supplier: str, form_body: bytes, authorization: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The token endpoint's answer to a client credentials request: its status, document
        and headers besides Content-Type (an error's document is OAuth's, not a problem)."""
        # Parsed by hand: form parsing in Starlette needs an extra dependency.
        try:
            form = {k: v[-1] for k, v in parse_qs(form_body.decode("utf-8")).items()}
        except UnicodeDecodeError:
            form = {}
        client_id: str | None = form.get("client_id")
        secret: str | None = form.get("client_secret")
        if authorization.lower().startswith("basic "):
            try:
                pair = base64.b64decode(authorization[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeError, binascii.Error):
                pair = ""
            client_id, _, secret = pair.partition(":")
        if form.get("grant_type") != "client_credentials":
            return (
                400,
                {"error": "unsupported_grant_type", "error_description": "use client_credentials"},
                {"ETag": '"oauth-error"'},
            )
        cred = (
            self.store.authenticate(supplier, client_id, secret)
            if client_id is not None and secret is not None
            else None
        )
        if cred is None:
            return (
                401,
                {"error": "invalid_client", "error_description": "unknown client or wrong secret"},
                {"ETag": '"oauth-error"', "WWW-Authenticate": 'Basic realm="okectl-sandbox"'},
            )
        access, ttl = self.issue(cred)
        scope = " ".join(f"tenant:{t}" for t in sorted(cred.tenants))
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope}, {}


def checked(name: str, value: str, pattern: re.Pattern[str]) -> str:
    """A path parameter that fits the API's pattern for it, or Problem 400."""
    if not pattern.fullmatch(value):
        raise Problem(400, "Bad Request", f"{name} {value!r} is not valid", slug="invalid-path")
    return value


def tenant_of(cred: Credential, school: str) -> str:
    """A school of the path this credential may see, or Problem 400 / 403."""
    checked("school", school, SCHOOL_RE)
    if not cred.sees(school):
        # The same answer whether or not the tenant exists: nothing about it leaks.
        raise Problem(403, "Forbidden", f"this credential has no access to tenant {school}")
    return school


_DIGITS = re.compile(r"[0-9]{1,19}")


def page_args(page_size: str | None, page_token: str | None) -> tuple[int, int]:
    """The page size and the row id to continue after, from a listing's query parameters."""
    raw_size = str(DEFAULT_PAGE_SIZE) if page_size is None else page_size
    # Digits only, and few: int() would also take "+5", " 5", "1_0" and 5,000-digit numbers.
    if not _DIGITS.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
        raise Problem(400, "Bad Request", f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
    after = 0
    if page_token is not None:
        try:
            decoded = base64.urlsafe_b64decode(page_token.encode("ascii") + b"==").decode("ascii")
        except (ValueError, UnicodeError, binascii.Error):
            decoded = ""
        if not _DIGITS.fullmatch(decoded) or int(decoded) > MAX_ROW_ID:
            raise Problem(400, "Bad Request", "page_token is not one this server issued")
        after = int(decoded)
    return int(raw_size), after


def _page_token(after: int | None) -> str:
    if after is None:
        return "null"
    return '"' + base64.urlsafe_b64encode(str(after).encode()).decode().rstrip("=") + '"'


def with_origin(text: str, origin: str) -> str:
    """Stored documents with their base URLs under ``origin`` (the sandbox's, as requested)."""
    return text.replace(BASE_URL_MARKER, '"base_url":"' + origin + "/ooapi/")


def listing(
    store: Store,
    cred: Credential,
    *,
    school: str | None,
    kind: Kind | None,
    environment: str | None,
    page_size: str | None,
    page_token: str | None,
    origin: str,
) -> str:
    """One page of a resource listing as the API answers it (JSON text), or Problem 400."""
    size, after = page_args(page_size, page_token)
    if environment is not None and not NAME_RE.fullmatch(environment):
        raise Problem(400, "Bad Request", f"environment {environment!r} is not valid")
    docs, more = store.page(cred, school=school, environment=environment, kind=kind, after=after, limit=size)
    text = '{"items":[' + ",".join(docs) + '],"next_page_token":' + _page_token(more) + "}"
    return with_origin(text, origin)
