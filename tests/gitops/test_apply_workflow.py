"""The apply workflow on a push: it fetches the plan the merged pull request's check kept
and applies it with `okectl apply --reviewed`. Its steps run here as a runner runs them
(bash, their `env:` filled in), against a real git repository, the sandbox supplier as a
real HTTP server, and a stand-in for GitHub's API on loopback that redirects an artifact's
download to a second server standing in for GitHub's storage (the forge cannot run here)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.support.cli import run_cli
from tests.support.git import BASE_FILES, GitRepo
from tests.support.github_api import TOKEN
from tests.support.repos import PROJECT

MakeRepo = Callable[..., GitRepo]
pytestmark = pytest.mark.timeout(120)

WORKFLOW = yaml.safe_load((PROJECT / ".github/workflows/apply.yml").read_text(encoding="utf-8"))
STEPS = {s.get("name"): s for s in WORKFLOW["jobs"]["apply"]["steps"]}
REPOSITORY = "adoption/okectl-config"
PULL = 7


@dataclass
class Forge:
    """What the stand-in serves: the merged pull request and the artifacts kept for it."""

    merge_sha: str = ""
    head_sha: str = ""
    # (id, head sha of the run that kept it, expired, the archive's bytes)
    artifacts: list[tuple[int, str, bool, bytes]] = field(default_factory=list)
    # The Authorization header of each request, by path.
    seen: list[tuple[str, str]] = field(default_factory=list)


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def forge(state: Forge) -> Iterator[str]:
    """GitHub's API on one port, its artifact storage on another; yields the API's URL."""

    class Storage(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            state.seen.append((self.path, self.headers.get("Authorization", "")))
            wanted = int(urlsplit(self.path).path.rsplit("/", 1)[1])
            raw = next(a[3] for a in state.artifacts if a[0] == wanted)
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    storage, storage_url = _serve(Storage)

    class Api(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, doc: Any, status: int = 200) -> None:
            raw = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.seen.append((parts.path, self.headers.get("Authorization", "")))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._json({"message": "Bad credentials"}, 401)
                return
            base = f"/repos/{REPOSITORY}"
            if parts.path == f"{base}/commits/{state.merge_sha}/pulls":
                self._json(
                    [
                        # Another pull request that holds the commit, not merged as it.
                        {"number": 3, "merged_at": None, "merge_commit_sha": "0" * 40},
                        {
                            "number": PULL,
                            "merged_at": "2026-11-28T10:00:00Z",
                            "merge_commit_sha": state.merge_sha,
                            "head": {"sha": state.head_sha},
                        },
                    ]
                )
            elif parts.path == f"{base}/actions/artifacts":
                name = parse_qs(parts.query)["name"][0]
                self._json(
                    {
                        "total_count": len(state.artifacts),
                        "artifacts": [
                            {
                                "id": ident,
                                "name": name,
                                "expired": expired,
                                "created_at": f"2026-11-28T09:{ident % 60:02d}:00Z",
                                "archive_download_url": f"http://{self.headers['Host']}{base}/actions/artifacts/{ident}/zip",
                                "workflow_run": {"id": 100 + ident, "head_sha": head},
                            }
                            for ident, head, expired, _ in state.artifacts
                        ],
                    }
                )
            elif m := re.fullmatch(rf"{base}/actions/artifacts/(\d+)/zip", parts.path):
                # As GitHub does: a redirect to signed storage elsewhere.
                self.send_response(302)
                self.send_header("Location", f"{storage_url}/blob/{m.group(1)}?sig=signed")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._json({"message": "Not Found"}, 404)

    api, api_url = _serve(Api)
    try:
        yield api_url
    finally:
        for server in (api, storage):
            server.shutdown()
            server.server_close()


def _archive(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return buf.getvalue()



@pytest.fixture
def merged(make_repo: MakeRepo, sandbox: str, tmp_path: Path) -> tuple[GitRepo, bytes]:
    """A pull request moving 22BB to OKE 1.0.1, merged: the repository, and the plan its check kept."""
    repo = make_repo()
    assert run_cli("apply", "--repo", str(repo.root), "--auto-approve").exit_code == 0
    school = BASE_FILES["schools/22BB.yaml"].replace('oke_version: "1.0"', 'oke_version: "1.0.1"')
    repo.commit("22BB to OKE 1.0.1", {"schools/22BB.yaml": school})
    plan = tmp_path / "okectl-plan.json"
    assert run_cli("plan", "--repo", str(repo.root), "--out", str(plan)).exit_code == 0
    return repo, plan.read_bytes()


def _bin(tmp_path: Path) -> Path:
    """okectl and python as the runner has them after the action's install step."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name, run in (("okectl", "-m okectl"), ("python", "")):
        path = folder / name
        path.write_text(f'#!/usr/bin/env bash\nPYTHONPATH="{PROJECT}" exec "{sys.executable}" {run} "$@"\n')
        path.chmod(0o755)
    return folder


def _run_step(name: str, repo: GitRepo, tmp_path: Path, api_url: str) -> subprocess.CompletedProcess[str]:
    step = STEPS[name]
    values = {
        "${{ github.token }}": TOKEN,
        "${{ github.event_name }}": "push",
        "${{ steps.okectl.outputs.plan-file }}": "",
    }
    env = {
        "PATH": f"{_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "OKECTL_TODAY": os.environ["OKECTL_TODAY"],
        "OKECTL_SANDBOX_URL": os.environ["OKECTL_SANDBOX_URL"],
        "DELTA_11AA": os.environ["DELTA_11AA"],
        "GITHUB_API_URL": api_url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SHA": repo.git("rev-parse", "HEAD"),
        **{k: values.get(str(v), str(v)) for k, v in step.get("env", {}).items()},
    }
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    # A step without a shell runs as GitHub's default: bash -e.
    return subprocess.run(
        ["bash", "-e", str(script)], cwd=repo.root, env=env, capture_output=True, text=True, timeout=120
    )


def _pushed(repo: GitRepo, tmp_path: Path, state: Forge) -> list[subprocess.CompletedProcess[str]]:
    """Run the push's steps after the action: find the reviewed plan, then apply it."""
    state.merge_sha = repo.git("rev-parse", "HEAD")
    with forge(state) as api_url:
        found = _run_step("Find the reviewed plan", repo, tmp_path, api_url)
        if found.returncode != 0:
            return [found]
        return [found, _run_step("Apply what was reviewed", repo, tmp_path, api_url)]


def test_the_push_applies_the_plan_the_pull_requests_review_saw(
    merged: tuple[GitRepo, bytes], tmp_path: Path
) -> None:
    repo, plan = merged
    head = "a" * 40
    state = Forge(
        head_sha=head,
        artifacts=[
            # An earlier push to the pull request, and an expired copy: neither is what was merged.
            (11, "b" * 40, False, _archive({"okectl-plan.json": b"{}"})),
            (12, head, True, _archive({"okectl-plan.json": b"{}"})),
            (13, head, False, _archive({"okectl-plan.json": plan, "okectl-plan.md": b"# plan\n"})),
        ],
    )

    found, applied = _pushed(repo, tmp_path, state)

    assert found.returncode == 0, found.stdout + found.stderr
    assert f"okectl: the plan reviewed on pull request #{PULL} is in okectl-reviewed.json" in found.stdout
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "planning now makes 1 change(s), each as reviewed" in applied.stderr
    assert "delta/22BB/production: updated" in applied.stdout
    assert (repo.root / "okectl-plan.json").read_bytes() == plan
    # The token went to the API only, never to the storage the download was redirected to.
    assert [auth for path, auth in state.seen if path.startswith("/blob/")] == [""]
    assert all(auth == f"Bearer {TOKEN}" for path, auth in state.seen if path.startswith("/repos/"))


def test_a_change_merged_after_the_review_stops_the_apply_before_any_write(
    merged: tuple[GitRepo, bytes], tmp_path: Path
) -> None:
    repo, plan = merged
    school = BASE_FILES["schools/11AA.yaml"].replace('oke_version: "1.0"', 'oke_version: "1.0.1"', 1)
    repo.commit("not reviewed", {"schools/11AA.yaml": school})
    state = Forge(head_sha="a" * 40, artifacts=[(13, "a" * 40, False, _archive({"okectl-plan.json": plan}))])
    runs = len(list((repo.root / ".okectl" / "runs").glob("*.jsonl")))

    found, applied = _pushed(repo, tmp_path, state)

    assert found.returncode == 0, found.stderr
    assert applied.returncode == 1
    said = "delta/11AA/production (update): not in the reviewed plan: planning now gives an update"
    assert said in applied.stderr
    assert len(list((repo.root / ".okectl" / "runs").glob("*.jsonl"))) == runs


# Archives are made when the test runs (a large one is not built just to collect the tests).
UNUSABLE: dict[str, tuple[Callable[[], list[tuple[int, str, bool, bytes]]], str]] = {
    "only-an-earlier-push": (
        lambda: [(11, "b" * 40, False, b"")],
        "no artifact okectl-plan-7 kept for the pull request's last commit aaaaaaaaaaaa",
    ),
    "not-a-zip": (
        lambda: [(13, "a" * 40, False, b"not a zip")],
        "artifact okectl-plan-7 is not a readable zip archive",
    ),
    "no-plan-inside": (
        lambda: [(13, "a" * 40, False, _archive({"plan.md": b"x"}))],
        "artifact okectl-plan-7 holds no okectl-plan.json",
    ),
    "too-large-once-unpacked": (
        lambda: [(13, "a" * 40, False, _archive({"okectl-plan.json": b"0" * (65 << 20)}))],
        "artifact okectl-plan-7: okectl-plan.json is larger than 67,108,864 bytes",
    ),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_without_a_usable_reviewed_plan_the_step_fails_with_one_line(
    merged: tuple[GitRepo, bytes], tmp_path: Path, case: str
) -> None:
    repo, _ = merged
    artifacts, message = UNUSABLE[case]

    (found,) = _pushed(repo, tmp_path, Forge(head_sha="a" * 40, artifacts=artifacts()))

    assert found.returncode == 1
    (line,) = found.stdout.splitlines()
    assert line.startswith("::error::") and message in line
    assert not (repo.root / "okectl-reviewed.json").exists()
