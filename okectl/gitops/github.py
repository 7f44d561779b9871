"""What the GitHub Action posts: the plan comment on a pull request and the drift issue.

Both go through GitHub's REST API at ``GITHUB_API_URL`` (github.com, a GitHub Enterprise
Server, or a stand-in on loopback in tests). Answers are read bounded in size and time, a
next page is followed only on the API's own origin (the token goes nowhere else), and
what GitHub says about a refusal is shown on one line, cut short.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from okectl.errors import OkectlError
from okectl.files import read_regular, write_atomic

if TYPE_CHECKING:
    import httpx

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
# GitHub refuses a comment or issue body over 65,536 characters.
BODY_LIMIT = 65_536
PLAN_LIMIT = 50_000
DRIFT_LIMIT = 10_000
VERIFY_LIMIT = 10_000
CUT_NOTE = "\n\n_Cut here; the whole text is in the job log._"
ANSWER_LIMIT = 16 << 20
MAX_PAGES = 100
# A job summary holds at most 1 MiB per step.
SUMMARY_LIMIT = 1 << 20
DRIFT_LABEL = "okectl-drift"
DRIFT_TITLE = "Configuration drift at the suppliers"
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


class ForgeError(OkectlError):
    """GitHub refused a call, or could not be reached; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def forbidden(self) -> bool:
        """The token may not do this: a pull request from a fork gets a read-only token."""
        return self.status == 403


def _said(content: bytes) -> str:
    """GitHub's own words about a refusal (its ``message``), on one line and short."""
    try:
        doc = json.loads(content)
        text = str(doc.get("message", "")) if isinstance(doc, dict) else ""
    except ValueError:
        text = ""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _bounded(chunks: Iterable[bytes], limit: int, what: str) -> bytes:
    """The chunks joined, refused once they pass ``limit`` bytes."""
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ForgeError(f"{what} is larger than {limit:,} bytes")
        out.append(chunk)
    return b"".join(out)


class GitHub:
    """A client for the few REST calls the action makes, with one token."""

    def __init__(
        self, api_url: str, token: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        import httpx

        from okectl.providers.http.transport import tls_context

        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ForgeError(f"GITHUB_API_URL={api_url!r} is not an http(s) URL")
        if not token:
            raise ForgeError("no GitHub token: pass the action's github-token input (GITHUB_TOKEN)")
        self.api_url = api_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc)
        self._others: list[httpx.Client] = []
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            verify=tls_context(),
            transport=transport,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "okectl",
            },
        )

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        for other in self._others:
            other.close()

    def call(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> tuple[Any, str | None]:
        """The decoded answer of one call, and the URL of the next page when there is one."""
        import httpx

        url = path_or_url if "://" in path_or_url else self.api_url + path_or_url
        try:
            with self._client.stream(method, url, params=params, json=body) as resp:
                content = _bounded(resp.iter_bytes(), ANSWER_LIMIT, f"{method} {url}: GitHub's answer")
                status, reason, links = resp.status_code, resp.reason_phrase, resp.links
        except httpx.HTTPError as exc:
            raise ForgeError(f"{method} {url}: cannot reach GitHub: {type(exc).__name__}: {exc}") from None
        if status >= 300:
            said = _said(content)
            raise ForgeError(
                f"{method} {url}: GitHub answered {status} {reason}" + (f": {said}" if said else ""), status
            )
        try:
            doc = json.loads(content) if content.strip() else None
        except ValueError:
            raise ForgeError(f"{method} {url}: GitHub answered with something that is not JSON") from None
        following = links.get("next", {}).get("url")
        return doc, following if following and self._same_origin(following) else None

    def download(self, url: str, *, limit: int) -> bytes:
        """The bytes behind ``url`` (an artifact's archive), at most ``limit`` of them.

        GitHub answers with a redirect to short-lived signed storage elsewhere: it is
        followed once, and without the token, which goes to the API's own origin only."""
        import httpx

        target = url if "://" in url else self.api_url + url
        client = self._client
        for _ in range(2):
            try:
                with client.stream("GET", target) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308) and client is self._client:
                        location = resp.headers.get("Location", "")
                        if urlsplit(location).scheme not in ("http", "https"):
                            raise ForgeError(f"GET {target}: GitHub redirected to {location[:200]!r}")
                        target = location
                        client = self._client if self._same_origin(location) else self._bare()
                        continue
                    if resp.status_code >= 300:
                        status = resp.status_code
                        raise ForgeError(f"GET {target}: answered {status} {resp.reason_phrase}", status)
                    return _bounded(resp.iter_bytes(), limit, f"GET {target}")
            except httpx.HTTPError as exc:
                raise ForgeError(f"GET {target}: cannot reach it: {type(exc).__name__}: {exc}") from None
        raise ForgeError(f"GET {url}: redirected more than once")

    def _bare(self) -> httpx.Client:
        """A client that sends nothing of ours: for storage GitHub redirects to."""
        import httpx

        from okectl.providers.http.transport import tls_context

        bare = httpx.Client(timeout=self._client.timeout, follow_redirects=False, verify=tls_context())
        self._others.append(bare)
        return bare

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self._origin

    def pages(self, path: str, params: dict[str, Any]) -> list[Any]:
        """Every item of a listing, page after page."""
        items: list[Any] = []
        url: str | None = path
        query: dict[str, Any] | None = params
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            doc, url = self.call("GET", url, params=query)
            query = None  # the next page's URL carries the query
            if not isinstance(doc, list):
                raise ForgeError(f"GET {path}: GitHub answered with something that is not a list")
            items.extend(doc)
        raise ForgeError(f"GET {path}: more than {MAX_PAGES} pages")


def check_repository(repo: str) -> str:
    """``owner/name`` as GitHub spells it, and nothing that could change the API path."""
    if not _REPO.fullmatch(repo) or ".." in repo:
        raise ForgeError(f"GITHUB_REPOSITORY={repo!r} is not owner/name")
    return repo


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + CUT_NOTE


def _fenced(text: str) -> str:
    # Longer than any run of backticks in the text, so the text cannot close the block.
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip(chr(10))}\n{fence}"


def marker(comment_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", comment_id):
        raise ForgeError(f"comment-id {comment_id!r}: use letters, digits, '.', '_' and '-' only")
    return f"<!-- {comment_id} -->"


@dataclass(frozen=True)
class Verification:
    level: str
    exit_code: str
    text: str


def comment_body(
    *,
    comment_id: str,
    plan: str | None,
    verification: Verification | None,
    sha: str,
    run_url: str,
    artifact: str,
) -> str:
    """The pull-request comment: marker, plan (or why there is none), verify's result, footer."""
    shown = (
        plan
        if plan is not None
        else f"**okectl produced no plan**: validation failed, see the [run]({run_url})."
    )
    body = f"{marker(comment_id)}\n{cut(shown, PLAN_LIMIT)}"
    if verification is not None:
        body += (
            f"\n\n### okectl verify --level {verification.level} (exit {verification.exit_code})\n\n"
            + _fenced(cut(verification.text, VERIFY_LIMIT))
        )
    kept = f"; artifact {artifact}" if artifact else ""
    return body + f"\n\n<sub>Plan for {sha[:7]} ([run]({run_url}){kept}).</sub>"


def upsert_comment(
    api: GitHub, repo: str, number: int, comment_id: str, body: str
) -> Literal["created", "updated"]:
    """Update the pull request's comment that carries the marker, or create it."""
    repo = check_repository(repo)
    tag = marker(comment_id)
    comments = api.pages(f"/repos/{repo}/issues/{number}/comments", {"per_page": 100})
    # Only a bot's comment that starts with the marker is ours: a person quoting it is not.
    previous = next(
        (
            c
            for c in comments
            if isinstance(c, dict)
            and isinstance(c.get("user"), dict)
            and c["user"].get("type") == "Bot"
            and isinstance(c.get("body"), str)
            and c["body"].startswith(tag)
            and isinstance(c.get("id"), int)
        ),
        None,
    )
    if previous is not None:
        api.call("PATCH", f"/repos/{repo}/issues/comments/{previous['id']}", body={"body": body})
        return "updated"
    api.call("POST", f"/repos/{repo}/issues/{number}/comments", body={"body": body})
    return "created"


DriftOutcome = Literal["opened", "updated", "closed", "clean", "unknown"]


def drift_body(
    *,
    plan_exit: str,
    plan: str | None,
    verify_exit: str,
    verify: str | None,
    run_url: str,
    drift: str | None = None,
) -> str | None:
    """The drift issue's text, or None when there is nothing to report.

    Exit codes as `okectl plan --detailed-exitcode` and `okectl verify` give them: plan 2
    (changes), 3 (policy errors stand: apply would refuse) and verify 4 (an environment serves
    another OKE version) are reported. ``drift`` is `okectl drift --output markdown`: what
    drifted, grouped by cause, and what each supplier's mode did about it; shown before the
    plan when there is anything to report."""
    said: list[str] = []
    if plan_exit == "2":
        said.append(
            f"The nightly plan found drift between the configuration and the suppliers ([run]({run_url})). "
            "Apply the configuration, or change it to match."
        )
    if plan_exit == "3":
        said.append(
            f"**Policy errors stand** ([run]({run_url})): `okectl apply` refuses to run until they are "
            "fixed or waived. The findings are in the plan below, which also shows any drift."
        )
    if verify_exit == "4":
        said.append(
            f"`okectl verify --level 2` found environments that do not serve what the configuration "
            f"declares ([run]({run_url}))."
        )
    if not said:
        return None
    body = "\n\n".join(said)
    if drift is not None:
        body += "\n\n" + cut(drift, DRIFT_LIMIT)
    if plan is not None:
        body += "\n\n" + cut(plan, PLAN_LIMIT)
    if verify_exit == "4" and verify is not None:
        body += "\n\n### okectl verify --level 2\n\n" + _fenced(cut(verify, VERIFY_LIMIT)) + "\n"
    return body


def keep_drift_issue(
    api: GitHub, repo: str, *, plan_exit: str, body: str | None, run_url: str
) -> DriftOutcome:
    """Open or update the one open issue labelled okectl-drift with ``body``; close it after
    a clean plan (exit 0, nothing else to report). A plan that failed says nothing about
    drift, so the issue is left as it is."""
    repo = check_repository(repo)
    listed = api.pages(f"/repos/{repo}/issues", {"labels": DRIFT_LABEL, "state": "open", "per_page": 100})
    issue = next(
        (
            i
            for i in listed
            if isinstance(i, dict) and "pull_request" not in i and isinstance(i.get("number"), int)
        ),
        None,
    )
    if body is not None:
        if issue is not None:
            api.call("PATCH", f"/repos/{repo}/issues/{issue['number']}", body={"body": body})
            return "updated"
        api.call(
            "POST",
            f"/repos/{repo}/issues",
            body={"title": DRIFT_TITLE, "body": body, "labels": [DRIFT_LABEL]},
        )
        return "opened"
    if plan_exit != "0":
        return "unknown"
    if issue is None:
        return "clean"
    api.call(
        "POST",
        f"/repos/{repo}/issues/{issue['number']}/comments",
        body={"body": f"The nightly plan is clean again ([run]({run_url})); closing."},
    )
    api.call(
        "PATCH",
        f"/repos/{repo}/issues/{issue['number']}",
        body={"state": "closed", "state_reason": "completed"},
    )
    return "closed"


PullRequestOutcome = Literal["opened", "updated"]
ACCEPT_TITLE = "Accept drift at the suppliers"


def keep_pull_request(
    api: GitHub, repo: str, *, branch: str, base: str, body: str
) -> tuple[PullRequestOutcome, int]:
    """Open the pull request of ``branch`` into ``base`` with ``body``, or update the one
    open already: one pull request of accepted drift, kept up to date night after night."""
    repo = check_repository(repo)
    owner = repo.split("/", 1)[0]
    listed = api.pages(
        f"/repos/{repo}/pulls", {"head": f"{owner}:{branch}", "base": base, "state": "open", "per_page": 100}
    )
    found = next(
        (
            p
            for p in listed
            if isinstance(p, dict)
            and isinstance(p.get("number"), int)
            and isinstance(p.get("head"), dict)
            and p["head"].get("ref") == branch
        ),
        None,
    )
    if found is not None:
        api.call("PATCH", f"/repos/{repo}/pulls/{found['number']}", body={"body": body})
        return "updated", int(found["number"])
    doc, _ = api.call(
        "POST",
        f"/repos/{repo}/pulls",
        body={"title": ACCEPT_TITLE, "head": branch, "base": base, "body": body},
    )
    number = doc.get("number") if isinstance(doc, dict) else None
    if not isinstance(number, int):
        raise ForgeError(f"POST /repos/{repo}/pulls: GitHub's answer names no pull request number")
    return "opened", number


def add_to_summary(path: Path, text: str) -> None:
    """Add ``text`` to the step's job summary (``GITHUB_STEP_SUMMARY``), within its size limit."""
    before = ""
    if os.path.lexists(path):
        before = read_regular(path, what="the job summary", limit=SUMMARY_LIMIT).decode("utf-8", "replace")
    room = SUMMARY_LIMIT - len(before.encode("utf-8")) - 1024
    write_atomic(path, before + cut(text, max(0, room // 4)) + "\n", what="the job summary")
