"""What verify is run against: a repository with an environment at every OKE version and
every role (``FILES``), held by a real sandbox server as already applied (``Served``), and
a verification run as the command runs it (``verify``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from okectl.engine.validate import validate_repository
from okectl.engine.workspace import load_workspace
from okectl.sandbox.seed import seed_in_sync
from okectl.verify.model import VerifyReport
from okectl.verify.runner import Selection
from okectl.verify.runner import verify as run_verify
from tests.support.repos import write_tree
from tests.support.serving import serve_in_background

LIMITS = "limits: {concurrency: 16, requests_per_second: 2000}"

FILES: dict[str, str] = {
    "okectl.yaml": "repository: verify-test\n",
    "policies/versions.yaml": """
        oke_versions:
          "0.9.3": {ooapi: "5.0", status: outdated}
          "0.9.4": {ooapi: "5.0", status: outdated}
          "1.0": {ooapi: "5.0", status: final}
          "1.0.1": {ooapi: "5.0", status: final}
          "1.1": {ooapi: "5.0", status: concept}
        """,
    "policies/roles.yaml": """
        roles:
          assessor: {description: Beoordelaar}
        """,
    "environments/otap.yaml": """
        id: otap
        environments:
          production: {type: production}
          acceptance: {type: acceptance}
          test: {type: test}
          pilot: {type: pilot}
        """,
    "suppliers/toets.yaml": f"""
        id: toets
        name: Toets
        roles: [ta]
        flows: [0, 2, 3, 4]
        api: {{provider: sandbox, {LIMITS}}}
        """,
    "suppliers/plan.yaml": f"""
        id: plan
        name: Plan
        roles: [tpl]
        flows: [1, 2, 3, 4, 5]
        api: {{provider: sandbox, {LIMITS}}}
        """,
    "suppliers/leerling.yaml": f"""
        id: leerling
        name: Leerling
        roles: [sis]
        flows: [1, 5, 6]
        api: {{provider: sandbox, {LIMITS}}}
        """,
    # One school, every version: production 1.0.1, acceptance 1.1, test 1.0, pilot 0.9.4;
    # the planner on 0.9.3 everywhere but production.
    "schools/10AA.yaml": """
        code: 10AA
        name: ROC Proef
        federation: surfconext
        schac_home: proef.example
        systems: {sis: leerling, tpl: plan}
        connections:
          toets:
            profile: otap
            oke_version: "1.0.1"
            flows: [0, 2, 3, 4]
            environments:
              acceptance: {oke_version: "1.1"}
              test: {oke_version: "1.0"}
              pilot: {oke_version: "0.9.4"}
          plan:
            profile: otap
            oke_version: "0.9.3"
            flows: [1, 2, 3, 4, 5]
            environments:
              production: {oke_version: "1.0.1"}
          leerling:
            profile: otap
            oke_version: "1.0.1"
            flows: [1, 5, 6]
            environments:
              test: {oke_version: "1.0"}
              pilot: {oke_version: "1.1"}
        """,
}


@dataclass
class Served:
    """A repository at ``root`` and the sandbox server at ``url`` that holds it."""

    root: Path
    url: str

    def faults(self, environment: str, **faults: Any) -> None:
        resp = httpx.post(f"{self.url}/_sandbox/oke/faults", json={"environment": environment, **faults})
        resp.raise_for_status()

    def requests(self) -> dict[str, list[str]]:
        data: dict[str, list[str]] = httpx.get(f"{self.url}/_sandbox/oke/requests").json()
        return data

    def reset(self) -> None:
        httpx.delete(f"{self.url}/_sandbox/oke/faults").raise_for_status()
        httpx.delete(f"{self.url}/_sandbox/oke/requests").raise_for_status()


def serve_repository(tmp: Path, files: dict[str, str]) -> Iterator[Served]:
    """Write ``files`` under ``tmp``, seed a sandbox with its environments as applied and
    serve it on loopback (a generator, for a fixture to ``yield from``)."""
    root = write_tree(tmp / "repo", files)
    db = tmp / "sandbox.db"
    seed_in_sync(db, validate_repository(root).resources, "verify-test")
    with serve_in_background(db, control=True) as url:
        yield Served(root, url)


def verify(root: Path, selection: Selection) -> VerifyReport:
    """A verification of the repository at ``root``, loaded as the command loads it."""
    return run_verify(load_workspace(root), selection)
