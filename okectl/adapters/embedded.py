"""The embedded sandbox as a provider: its reads answered in-process.

A plan reads every resource of every supplier; against the embedded sandbox that went
through HTTP messages, ASGI and Starlette for an answer the same process makes. Here the
token and the listing pages come from the sandbox's own API functions (``sandbox.admin``,
which the served application answers with too) and go through the very checks a served
answer goes through: the token's, the status and body checks (a secret echoed, JSON), the
listing's paging and the codec of its documents. Other requests (writes, single reads, the
tenant list, releases) go over HTTP to the ASGI application of the same sandbox.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from okectl.config.models import Supplier
from okectl.providers.http.provider import HttpProvider
from okectl.sandbox.admin import (
    SUPPLIER_RE,
    Problem,
    Sandbox,
    checked,
    listing,
    problem_body,
    tenant_of,
)
from okectl.sandbox.store import Store, dumps

if TYPE_CHECKING:
    import httpx


@dataclass
class EmbeddedSandbox:
    """A repository's in-process sandbox: its store and API state, shared by its suppliers;
    the ASGI application over them is built when a request first needs HTTP."""

    store: Store
    origin: str
    sandbox: Sandbox = field(init=False)
    _app: Any = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.sandbox = Sandbox(self.store)

    def app(self) -> Any:
        with self._lock:
            if self._app is None:
                from okectl.sandbox.app import build_app

                self._app = build_app(self.sandbox)
            return self._app


class EmbeddedProvider(HttpProvider):
    """The admin API of one supplier of the embedded sandbox."""

    def __init__(self, supplier: Supplier, embedded: EmbeddedSandbox, **options: Any) -> None:
        super().__init__(supplier, **options)
        self._embedded = embedded

    def _new_transport(self) -> httpx.AsyncBaseTransport:
        import httpx

        return httpx.ASGITransport(app=self._embedded.app())

    async def _token_answer(self, form: dict[str, str]) -> tuple[int, bytes]:
        self.requests += 1
        status, doc, _ = self._embedded.sandbox.grant(self.supplier.id, urlencode(form).encode(), "")
        return status, dumps(doc).encode("utf-8")

    async def _listing_page(self, school: str | None, params: dict[str, Any], what: str) -> Any:
        authorization = "Bearer " + await self._access_token()
        self.requests += 1
        sandbox = self._embedded.sandbox
        path = f"/s/{self.supplier.id}" + ("/resources" if school is None else f"/tenants/{school}/resources")
        try:
            cred = sandbox.credential(authorization, checked("supplier", self.supplier.id, SUPPLIER_RE))
            text = listing(
                sandbox.store,
                cred,
                school=None if school is None else tenant_of(cred, school),
                kind=None,
                environment=None,
                page_size=str(params["page_size"]),
                page_token=params.get("page_token"),
                origin=self._embedded.origin,
            )
        except Problem as problem:
            return self._check_answer(problem.status, problem_body(problem, path), what)
        return self._check_answer(200, text.encode("utf-8"), what)
