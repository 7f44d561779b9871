"""Real git repositories, driven through the git command line, and the configuration
repository most git-aware tests start from (``BASE_FILES``: three schools, two suppliers,
comments and quoting as people write them)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.repos import write_tree

SUPPLIER_DELTA = """
    # A test-delivery supplier.
    id: delta
    name: Delta Toets
    roles: [ta]
    flows: [0, 2, 3, 4]
    oke_versions: ["1.0", "1.0.1", "1.1"]
    api: {provider: sandbox}
    role_names: {assessor: Beoordelaar}
"""
SUPPLIER_PLAN = """
    id: planwijs
    name: Planwijs
    roles: [tpl]
    flows: [0, 1, 2, 3, 4, 5]
    oke_versions: ["1.0", "1.0.1"]
    api: {provider: sandbox}
"""
PROFILE_STANDARD = """
    id: standard
    environments:
      production: {type: production}
      acceptance: {type: acceptance}
"""
PROFILE_MINIMAL = """
    id: minimal
    environments:
      production: {type: production}
"""
VERSIONS = """
    oke_versions:
      "1.0": {ooapi: "5.0", status: final, end_of_support: 2099-12-31}
      "1.0.1": {ooapi: "5.0", status: final}
      "1.1": {ooapi: "5.0", status: concept}
"""
SCHOOL_11AA = """
    # yaml-language-server: $schema=../schema/school.schema.json
    code: 11AA
    name: ROC Aa
    federation: surfconext
    schac_home: aa.example
    systems: {tpl: planwijs}
    connections:
      delta:
        profile: standard
        oke_version: "1.0"      # the chain runs 1.0
        flows: [0, 2, 3, 4]
        clients:
          planwijs:
            scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]
            secret: {env: DELTA_11AA}
      planwijs:
        profile: minimal
        function: tpl
        oke_version: '1.0'
        flows: [0, 1, 2, 3, 4, 5]
    roles:
      assessor: [aa-docenten]
"""
SCHOOL_22BB = """
    code: 22BB
    name: ROC Bb
    federation: entree
    schac_home: bb.example
    connections:
      delta:
        profile: minimal
        oke_version: "1.0"
        flows: [0, 2, 3, 4]
"""
SCHOOL_33CC = """
    code: 33CC
    name: ROC Cc
    federation: surfconext
    schac_home: cc.example
    connections:
      planwijs:
        profile: standard
        oke_version: "1.0"
        flows: [1, 5]
"""
BASE_FILES: dict[str, str] = {
    # DELTA_11AA and the like are no *_SECRET names: this repository allows them itself.
    "okectl.yaml": "repository: test\nsecrets: {env: [\"DELTA_*\"]}\n",
    "suppliers/delta.yaml": SUPPLIER_DELTA,
    "suppliers/planwijs.yaml": SUPPLIER_PLAN,
    "environments/standard.yaml": PROFILE_STANDARD,
    "environments/minimal.yaml": PROFILE_MINIMAL,
    "policies/versions.yaml": VERSIONS,
    "schools/11AA.yaml": SCHOOL_11AA,
    "schools/22BB.yaml": SCHOOL_22BB,
    "schools/33CC.yaml": SCHOOL_33CC,
    "README.md": "configuration\n",
}


class GitRepo:
    """A configuration repository under git, driven through the git command line."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        write_tree(self.root, files)

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def remove(self, rel: str) -> None:
        self.git("rm", "-q", rel)

    @property
    def branch(self) -> str:
        return self.git("rev-parse", "--abbrev-ref", "HEAD")


def init_repo(top: Path, files: dict[str, str] | None = None, *, subdir: str = "") -> GitRepo:
    """A new git repository at ``top`` on branch main, its configuration (``files``, by
    default ``BASE_FILES``) in ``subdir`` committed as the first commit."""
    top.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(top)], check=True)
    for key, value in (("user.name", "Adoption Team"), ("user.email", "team@example.org")):
        subprocess.run(["git", "-C", str(top), "config", key, value], check=True)
    root = top / subdir if subdir else top
    root.mkdir(parents=True, exist_ok=True)
    repo = GitRepo(root)
    repo.commit("initial configuration", files if files is not None else BASE_FILES)
    return repo
