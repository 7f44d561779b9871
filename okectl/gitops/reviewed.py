"""The plan a pull request's review saw, found again for the apply at merge.

The pull-request workflow keeps its plan as the artifact ``okectl-plan-<number>``. On the
push that merged it, this finds that pull request (the one merged as the pushed commit),
the artifact kept by a run for its last commit (what the plan comment showed when it was
merged, never an earlier push), and takes ``okectl-plan.json`` out of it. Everything
GitHub and its storage send is bounded; the archive is read as the hostile input it may
be. ``okectl apply --reviewed`` then decides whether it is what planning now gives.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import Any

from okectl.gitops.github import ForgeError, GitHub, check_repository
from okectl.plans.document import MAX_PLAN_BYTES

PLAN_MEMBER = "okectl-plan.json"
# An artifact holds the plan, as JSON and Markdown; far more is not one.
MAX_ARCHIVE_BYTES = 64 << 20
MAX_PLAN_IN_ARCHIVE = min(MAX_PLAN_BYTES, 64 << 20)


def _merged_pull_request(api: GitHub, repo: str, sha: str) -> tuple[int, str]:
    """The pull request merged as commit ``sha``: its number and its last commit."""
    doc, _ = api.call("GET", f"/repos/{repo}/commits/{sha}/pulls")
    pulls = [p for p in doc if isinstance(p, dict)] if isinstance(doc, list) else []
    merged = [p for p in pulls if p.get("merged_at") and p.get("merge_commit_sha") == sha]
    if not merged:
        raise ForgeError(
            f"no pull request was merged as commit {sha[:12]}: there is no reviewed plan to apply "
            "(merge through a pull request, or run the workflow by hand to plan and apply)"
        )
    pull = merged[0]
    number, head = pull.get("number"), (pull.get("head") or {}).get("sha")
    if not isinstance(number, int) or not isinstance(head, str):
        raise ForgeError(f"GitHub's answer about the pull request merged as {sha[:12]} lacks its number")
    return number, head


def _artifact(api: GitHub, repo: str, name: str, head: str) -> dict[str, Any]:
    """The newest unexpired artifact ``name`` kept by a run for commit ``head``."""
    # Few artifacts carry one pull request's name: the first page of 100 holds them.
    doc, _ = api.call("GET", f"/repos/{repo}/actions/artifacts", params={"name": name, "per_page": 100})
    items = doc.get("artifacts") if isinstance(doc, dict) else None
    found = [
        a
        for a in (items if isinstance(items, list) else [])
        if isinstance(a, dict)
        and a.get("name") == name
        and not a.get("expired")
        and isinstance(a.get("workflow_run"), dict)
        and a["workflow_run"].get("head_sha") == head
    ]
    if not found:
        raise ForgeError(
            f"no artifact {name} kept for the pull request's last commit {head[:12]}: its check did not "
            "keep a plan (it failed, or the artifact expired); nothing was applied"
        )
    return max(found, key=lambda a: (str(a.get("created_at", "")), int(a.get("id", 0))))


def _plan_from(archive: bytes, name: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            member = zipped.getinfo(PLAN_MEMBER)
            # One byte past the limit is read at most: a size the archive understates is caught too.
            with zipped.open(member) as fh:
                data = fh.read(MAX_PLAN_IN_ARCHIVE + 1) if member.file_size <= MAX_PLAN_IN_ARCHIVE else b""
    except KeyError:
        raise ForgeError(f"artifact {name} holds no {PLAN_MEMBER}") from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ForgeError(f"artifact {name} is not a readable zip archive ({exc})") from None
    if member.file_size > MAX_PLAN_IN_ARCHIVE or len(data) > MAX_PLAN_IN_ARCHIVE:
        raise ForgeError(f"artifact {name}: {PLAN_MEMBER} is larger than {MAX_PLAN_IN_ARCHIVE:,} bytes")
    return data


def reviewed_plan(api: GitHub, repo: str, sha: str, *, prefix: str = "okectl-plan-") -> tuple[int, bytes]:
    """The number of the pull request merged as ``sha`` and the bytes of the plan its
    review saw (to be read as any saved plan is: untrusted)."""
    repo = check_repository(repo)
    number, head = _merged_pull_request(api, repo, sha)
    name = f"{prefix}{number}"
    artifact = _artifact(api, repo, name, head)
    url = artifact.get("archive_download_url")
    if not isinstance(url, str):
        raise ForgeError(f"artifact {name}: GitHub gives no archive_download_url")
    return number, _plan_from(api.download(url, limit=MAX_ARCHIVE_BYTES), name)
