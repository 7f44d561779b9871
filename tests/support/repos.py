"""Repositories to run okectl on: inline files written to a folder (each test shows its own
YAML), the example repository at the top of this project, and a tiny valid repository that
each configuration test breaks in exactly one place."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE_PARTS = ("schools", "suppliers", "environments", "policies", "sandbox", "state", "requests")

# The day the example repository describes: its waivers hold and OKE 1.0 is supported.
# Policies depend on the date, and no test should start failing when the calendar moves on.
EXAMPLE_TODAY = "2026-11-28"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} under root; text is dedented so tests can inline YAML."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def secret_values(repo: Path) -> dict[str, str]:
    """A known, unique value for every variable the repository's client secrets name
    (``{env: NAME}``), by name: what a test sets so every write can be made, and looks for
    where no secret may appear."""
    from okectl.engine.validate import validate_repository

    values: dict[str, str] = {}
    for res in validate_repository(repo).resources:
        ref = res.spec.get("secret") if res.kind == "client" else None
        if ref and ref.startswith("env:"):
            values[ref[4:]] = f"S3CRET-{ref[4:]}-VALUE"
    return values


def copy_example(dest: Path) -> Path:
    """A private copy of the example repository at ``dest`` (state under .okectl/ starts
    empty)."""
    dest.mkdir()
    for part in EXAMPLE_PARTS:
        src = PROJECT / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
    shutil.copy(PROJECT / "okectl.yaml", dest / "okectl.yaml")
    return dest


BASE: dict[str, str] = {
    "okectl.yaml": "repository: test\n",
    "policies/versions.yaml": """
        oke_versions:
          "1.0": {ooapi: "5.0", status: final}
          "1.0.1": {ooapi: "5.0", status: final}
        """,
    "policies/roles.yaml": """
        roles:
          assessor: {description: Beoordelaar}
          exam-office: {description: Examenbureau}
        """,
    "environments/standard.yaml": """
        id: standard
        environments:
          production: {type: production}
        """,
    "suppliers/eduplan.yaml": """
        id: eduplan
        name: EduPlan
        roles: [sis, tpl]
        flows: [0, 1, 2, 3, 4, 5]
        api: {provider: sandbox}
        role_names: {exam-office: Examenbureau}
        """,
    "suppliers/delta.yaml": """
        id: delta
        name: Delta
        roles: [ta]
        flows: [0, 2, 3, 4]
        api: {provider: sandbox}
        role_names: {assessor: Beoordelaar}
        """,
    "schools/99ZZ.yaml": """
        code: 99ZZ
        name: ROC Voorbeeld
        federation: surfconext
        schac_home: voorbeeld.nl
        systems: {sis: eduplan, tpl: eduplan}
        connections:
          delta:
            profile: standard
            oke_version: "1.0"
            flows: [0, 2, 3, 4]
            clients:
              eduplan:
                scopes: [nl-test-admin-flow-0]
                secret: {env: DELTA_SECRET}
        roles:
          assessor: [docenten]
        """,
}

# The base repository with some files replaced (or removed, when given None): the `repo`
# fixture of the configuration tests.
BuildRepo = Callable[..., Path]


def delta_with(api_block: str) -> str:
    """The base repository's delta supplier with another ``api:`` block (``""``: none at all,
    which makes it verified only)."""
    text = textwrap.dedent(BASE["suppliers/delta.yaml"]).lstrip()
    return text.replace("api: {provider: sandbox}\n", "") + api_block


def school_yaml(
    *,
    code: str = "99ZZ",
    federation: str = "surfconext",
    oke_version: str = '"1.0"',
    secret: str = "{env: DELTA_SECRET}",
) -> str:
    """The base repository's school file with the given values written in."""
    return f"""\
code: {code}
name: ROC Voorbeeld
federation: {federation}
schac_home: voorbeeld.nl
systems: {{sis: eduplan, tpl: eduplan}}
connections:
  delta:
    profile: standard
    oke_version: {oke_version}
    flows: [0, 2, 3, 4]
    clients:
      eduplan:
        scopes: [nl-test-admin-flow-0]
        secret: {secret}
roles:
  assessor: [docenten]
"""
