"""A small valid repository for policy tests; each test adds its rule and changes one value."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pytest

from okectl.config.repository import load_state
from okectl.policy.engine import evaluate
from okectl.policy.findings import PolicyReport

TODAY = date(2026, 11, 28)

BASE: dict[str, str] = {
    "okectl.yaml": "repository: test\n",
    "policies/versions.yaml": """
        oke_versions:
          "0.9.4": {ooapi: "5.0", status: outdated, end_of_support: 2025-06-30}
          "1.0": {ooapi: "5.0", status: final, end_of_support: 2027-12-31}
          "1.0.1": {ooapi: "5.0", status: final}
          "1.1": {ooapi: "5.0", status: concept}
        """,
    "policies/roles.yaml": """
        roles:
          exam-committee: {description: Examencommissie}
          assessor: {description: Beoordelaar, required_for: [ta]}
          invigilator: {description: Surveillant, required_for: [ta]}
          board: {description: College van bestuur}
        separation_of_duties:
          - {roles: [exam-committee, assessor], reason: the committee does not assess}
        """,
    "environments/standard.yaml": """
        id: standard
        environments:
          production: {type: production, sso: required}
          acceptance: {type: acceptance, sso: required}
        """,
    "suppliers/plan.yaml": """
        id: plan
        name: Plan
        roles: [sis, tpl]
        flows: [0, 1, 2, 3, 4, 5]
        oke_versions: ["1.0", "1.0.1"]
        privacy: {processing_agreement: model-4.0, dpia: {status: approved}}
        certification: [{oke: "1.0", status: certified}, {oke: "1.0.1", status: certified}]
        """,
    "suppliers/toets.yaml": """
        id: toets
        name: Toets
        roles: [ta]
        flows: [0, 2, 3, 4, 6]
        oke_versions: ["1.0", "1.0.1"]
        role_names: {assessor: Beoordelaar, invigilator: Surveillant}
        privacy: {processing_agreement: model-4.0, dpia: {status: approved}}
        certification: [{oke: "1.0", status: certified}, {oke: "1.0.1", status: certified}]
        support: {email: support@toets.example}
        """,
    "schools/10AA.yaml": """
        code: 10AA
        name: ROC Tien
        federation: surfconext
        schac_home: tien.example
        systems: {sis: plan, tpl: plan}
        connections:
          plan:
            profile: standard
            function: tpl
            oke_version: "1.0.1"
            flows: [0, 1, 2, 3, 4, 5]
            clients: {plan: {scopes: [nl-test-admin-flow-1-5]}}
          toets:
            profile: standard
            oke_version: "1.0.1"
            flows: [0, 2, 3, 4]
            clients: {plan: {scopes: [nl-test-admin-flow-0, nl-test-admin-flow-2-3-4]}}
        roles:
          exam-committee: [10aa-examencommissie]
          assessor: [10aa-docenten]
        """,
}


def rules_yaml(body: str) -> str:
    return "rules:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"


Edits = dict[str, list[tuple[str, str]]]


class Repo(Protocol):
    def __call__(
        self, rules: str | None = None, *, edit: Edits | None = None, files: dict[str, str] | None = None
    ) -> Path: ...


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """The base repository with the given rules; ``edit`` replaces text in a base file
    (each replacement must apply), ``files`` adds or replaces whole files."""

    def build(
        rules: str | None = None, *, edit: Edits | None = None, files: dict[str, str] | None = None
    ) -> Path:
        root = tmp_path / "repo"
        contents = {rel: textwrap.dedent(text).lstrip("\n") for rel, text in BASE.items()}
        for rel, changes in (edit or {}).items():
            for old, new in changes:
                assert old in contents[rel], f"{old!r} not in {rel}"
                contents[rel] = contents[rel].replace(old, new, 1)
        for rel, text in (files or {}).items():
            contents[rel] = textwrap.dedent(text).lstrip("\n")
        if rules is not None:
            contents["policies/rules.yaml"] = rules_yaml(rules)
        for rel, text in contents.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return build


Check = Callable[..., PolicyReport]


@pytest.fixture
def check() -> Check:
    """Evaluate a repository's policies as of a fixed date."""

    def run(root: Path, today: date = TODAY, **kwargs: Any) -> PolicyReport:
        return evaluate(load_state(root), today=today, **kwargs)

    return run


@pytest.fixture
def findings(repo: Repo, check: Check) -> Callable[..., list[str]]:
    """The findings of one set of rules over the base repository with some edits, as
    ``path:line:col: severity[policy] address: message`` lines."""

    def run(
        rules: str, *, edit: Edits | None = None, files: dict[str, str] | None = None, **kw: Any
    ) -> list[str]:
        report = check(repo(rules, edit=edit, files=files), **kw)
        return sorted(str(f) for f in report.findings)

    return run
