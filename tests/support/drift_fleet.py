"""A small fleet under git, applied to a sandbox supplier served over a real socket, and
edits made by hand at that supplier through its administration API, as a person at the
supplier's desk would make them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from okectl.commands.apply import apply
from okectl.engine.workspace import load_workspace
from okectl.model.resources import WIRE_FIELDS, Kind
from tests.support.git import (
    PROFILE_MINIMAL,
    PROFILE_STANDARD,
    SUPPLIER_DELTA,
    SUPPLIER_PLAN,
    VERSIONS,
    GitRepo,
)
from tests.support.serving import serve_in_background

SCHOOLS = ("11AA", "22BB", "33CC", "44DD")

# The supplier of tests.support.git, with its drift mode.
SUPPLIER = SUPPLIER_DELTA + "    drift: {mode}\n"
RULES = """
    rules:
      - id: production-final
        kind: supported-version
        params: {statuses: [final]}
        select: {environment_types: [production]}
        description: Production runs a final OKE version.
"""


def school(code: str) -> str:
    return f"""
        # yaml-language-server: $schema=../schema/school.schema.json
        code: {code}
        name: ROC {code}
        federation: surfconext
        schac_home: {code.lower()}.example
        systems: {{tpl: planwijs}}
        connections:
          delta:
            profile: standard
            oke_version: "1.0"      # the chain runs 1.0
            flows: [0, 2, 3, 4]
            clients:
              planwijs: {{scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]}}
        roles:
          assessor: [{code.lower()}-docenten]
    """


def fleet_files(mode: str = "detect") -> dict[str, str]:
    files = {
        "okectl.yaml": "repository: drift-test\n",
        "suppliers/delta.yaml": SUPPLIER.replace("{mode}", mode),
        "suppliers/planwijs.yaml": SUPPLIER_PLAN,
        "environments/standard.yaml": PROFILE_STANDARD,
        "environments/minimal.yaml": PROFILE_MINIMAL,
        "policies/versions.yaml": VERSIONS,
        "policies/rules.yaml": RULES,
        ".gitignore": ".okectl/\n",
    }
    files.update({f"schools/{code}.yaml": school(code) for code in SCHOOLS})
    return files


class Desk:
    """The supplier's own administration API, used by hand (its development credential)."""

    def __init__(self, url: str, supplier: str = "delta") -> None:
        self.base = f"{url}/s/{supplier}"
        token = httpx.post(
            f"{self.base}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "okectl-dev",
                "client_secret": "okectl-dev",
            },
            timeout=10,
        ).json()["access_token"]
        self.http = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def _path(self, address: str) -> str:
        school, env, *rest = address.split("/")
        path = f"{self.base}/tenants/{school}/environments/{env}"
        if rest:
            path += f"/{rest[0]}s/{rest[1]}"
        return path

    def get(self, address: str) -> tuple[dict[str, Any], str]:
        answer = self.http.get(self._path(address))
        answer.raise_for_status()
        return answer.json(), answer.headers["ETag"]

    def edit(self, address: str, **fields: Any) -> None:
        """Change fields of a resource, keeping its labels (a hand edit leaves them alone)."""
        doc, etag = self.get(address)
        # The address without its supplier: school/environment[/kind/name].
        kind = cast(Kind, "environment" if address.count("/") == 1 else address.split("/")[2])
        kept = {k: doc[k] for k in (*WIRE_FIELDS[kind], "labels") if k in doc}
        kept.update(fields)
        self.http.put(self._path(address), json=kept, headers={"If-Match": etag}).raise_for_status()

    def create(self, address: str, **fields: Any) -> None:
        """Make a resource (a hand edit may copy another's labels along)."""
        self.http.put(self._path(address), json=fields, headers={"If-None-Match": "*"}).raise_for_status()

    def delete(self, address: str) -> None:
        _, etag = self.get(address)
        self.http.delete(self._path(address), headers={"If-Match": etag}).raise_for_status()

    def slow(self, latency_ms: int) -> None:
        """Every answer of the supplier that much later (0: as fast as it can)."""
        control = self.base.rsplit("/s/", 1)[0] + "/_sandbox/faults"
        if latency_ms:
            httpx.post(control, json={"latency_ms": latency_ms}, timeout=10).raise_for_status()
        else:
            httpx.delete(control, timeout=10).raise_for_status()

    def close(self) -> None:
        self.http.close()


@dataclass
class Fleet:
    repo: GitRepo
    desk: Desk
    url: str

    @property
    def root(self) -> Path:
        return self.repo.root


def make_fleets(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Fleet]]:
    """``make_fleet(mode)``: a fleet under git whose configuration (supplier delta in drift
    ``mode``) was applied from its HEAD commit to a sandbox served on a real socket.
    The fixture ``make_fleet`` of tests/gitops/conftest.py."""
    with ExitStack() as stack:

        def make(mode: str = "detect") -> Fleet:
            repo = make_repo(fleet_files(mode))
            url = stack.enter_context(serve_in_background(tmp_path / "sandbox.db", control=True))
            monkeypatch.setenv("OKECTL_SANDBOX_URL", url)
            apply_all(repo.root)
            desk = Desk(url)
            stack.callback(desk.close)
            return Fleet(repo, desk, url)

        yield make


def apply_all(root: Path) -> None:
    applied = apply(load_workspace(root))
    assert applied.result is not None and applied.result.ok, applied.result


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
