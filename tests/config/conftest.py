"""A tiny valid repository that each test breaks in exactly one place."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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

BuildRepo = Callable[..., Path]


def delta_with(api_block: str) -> str:
    """The base repository's delta supplier with another ``api:`` block (``""``: none at all,
    which makes it verified only)."""
    text = textwrap.dedent(BASE["suppliers/delta.yaml"]).lstrip()
    return text.replace("api: {provider: sandbox}\n", "") + api_block


@pytest.fixture
def repo(build_tree: Callable[[dict[str, str]], Path]) -> BuildRepo:
    """The base repository with some files replaced (or removed, when given None)."""

    def build(files: dict[str, str | None] | None = None) -> Path:
        merged: dict[str, str | None] = {**BASE, **(files or {})}
        return build_tree({rel: text for rel, text in merged.items() if text is not None})

    return build


Problems = Callable[[Path], list[str]]


@pytest.fixture
def problems(cli: Callable[..., Any]) -> Problems:
    """The problem lines of a validation that must fail cleanly: exit 1, no traceback."""

    def run(root: Path) -> list[str]:
        result = cli("validate", "--repo", str(root))
        assert result.exit_code == 1, result.out + result.err
        assert "Traceback" not in result.err
        assert "internal error" not in result.err
        assert result.out == ""
        lines: list[str] = result.err.splitlines()
        return lines

    return run
