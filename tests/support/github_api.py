"""A stand-in for GitHub's REST API on loopback, for the action's steps that talk to GitHub.

The forge cannot run here, so this serves the few calls the action makes over a real socket,
with GitHub's shapes: paged listings with `Link: <…>; rel="next"`, comments, issues and pull
requests (listed by their head branch) that keep their ids, authors and times (``created_at``,
and ``updated_at`` moved by an edit or a comment, to the second as GitHub gives them), and,
when `read_only` is set, the 403 a fork's read-only token gets on a write.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_test-token-0123456789"
# Where a GitHub Enterprise Server serves its API; github.com serves it at the root.
PREFIX = "/api/v3"
READ_ONLY = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    "status": "403",
}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str


@dataclass
class GitHubState:
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    read_only: bool = False
    page_size: int = 100
    next_id: int = 1000

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]


BOT = {"type": "Bot", "login": "github-actions[bot]"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _touch(state: GitHubState, number: int) -> None:
    for issue in state.issues:
        if issue["number"] == number:
            issue["updated_at"] = _now()


def _handler(state: GitHubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _page(self, items: list[Any], query: dict[str, list[str]], path: str) -> None:
            size = min(int(query.get("per_page", ["30"])[0]), state.page_size)
            page = int(query.get("page", ["1"])[0])
            chunk = items[(page - 1) * size : page * size]
            headers = {}
            if page * size < len(items):
                rest = {k: v[0] for k, v in query.items() if k != "page"}
                qs = "&".join(f"{k}={v}" for k, v in {**rest, "page": str(page + 1)}.items())
                host = self.headers["Host"]
                headers["Link"] = f'<http://{host}{path}?{qs}>; rel="next"'
            self._answer(200, chunk, headers)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            body: Any = json.loads(self.rfile.read(length)) if length else None
            path = parts.path.removeprefix(PREFIX)
            state.calls.append(Call(method, path, query, body, self.headers.get("Authorization", "")))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"message": "Bad credentials"})
                return
            segments = path.strip("/").split("/")
            if not parts.path.startswith(PREFIX) or len(segments) < 3 or segments[0] != "repos":
                self._answer(404, {"message": "Not Found"})
                return
            rest = segments[3:]
            if method != "GET" and state.read_only:
                self._answer(403, READ_ONLY)
                return
            if rest[:1] == ["issues"] and len(rest) == 3 and rest[2] == "comments":
                number = int(rest[1])
                if method == "GET":
                    self._page(state.comments.get(number, []), query, parts.path)
                    return
                state.next_id += 1
                made = {"id": state.next_id, "user": BOT, "body": body["body"], "created_at": _now()}
                state.comments.setdefault(number, []).append(made)
                _touch(state, number)
                self._answer(201, made)
                return
            if rest[:2] == ["issues", "comments"] and len(rest) == 3 and method == "PATCH":
                for comments in state.comments.values():
                    for c in comments:
                        if c["id"] == int(rest[2]):
                            c["body"] = body["body"]
                            self._answer(200, c)
                            return
                self._answer(404, {"message": "Not Found"})
                return
            if rest == ["issues"]:
                if method == "GET":
                    labels = set(query.get("labels", [""])[0].split(",")) - {""}
                    wanted = query.get("state", ["open"])[0]
                    found = [
                        i
                        for i in state.issues
                        if labels <= {label["name"] for label in i["labels"]} and i["state"] == wanted
                    ]
                    self._page(found, query, parts.path)
                    return
                state.next_id += 1
                made = {
                    "number": state.next_id,
                    "title": body["title"],
                    "body": body["body"],
                    "state": "open",
                    "labels": [{"name": n} for n in body.get("labels", [])],
                    "user": BOT,
                    "created_at": _now(),
                    "updated_at": _now(),
                }
                state.issues.append(made)
                self._answer(201, made)
                return
            if rest == ["pulls"]:
                if method == "GET":
                    head = query.get("head", [""])[0].partition(":")[2]
                    wanted = query.get("state", ["open"])[0]
                    found = [
                        p for p in state.pulls if p["state"] == wanted and head in ("", p["head"]["ref"])
                    ]
                    self._page(found, query, parts.path)
                    return
                state.next_id += 1
                made = {
                    "number": state.next_id,
                    "title": body["title"],
                    "body": body["body"],
                    "state": "open",
                    "head": {"ref": body["head"]},
                    "base": {"ref": body["base"]},
                    "user": BOT,
                }
                state.pulls.append(made)
                self._answer(201, made)
                return
            if rest[:1] == ["pulls"] and len(rest) == 2 and method == "PATCH":
                for pull in state.pulls:
                    if pull["number"] == int(rest[1]):
                        pull.update(body)
                        self._answer(200, pull)
                        return
            if rest[:1] == ["issues"] and len(rest) == 2 and method == "PATCH":
                for issue in state.issues:
                    if issue["number"] == int(rest[1]):
                        issue.update(body, updated_at=_now())
                        self._answer(200, issue)
                        return
            self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def github_api(state: GitHubState) -> Iterator[str]:
    """Serve ``state`` on a free loopback port; yields the API's base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
