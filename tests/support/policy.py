"""The policy tests' repository: a small valid repository (``BASE``) that each test gives
its rules and changes in one value (``build_repo``), evaluated as of a fixed day (``TODAY``)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from okectl.config.repository import load_state
from okectl.policy.engine import evaluate
from okectl.policy.findings import PolicyReport
from tests.support.repos import write_tree

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
    """``policies/rules.yaml`` holding the rules written in ``body``."""
    return "rules:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"


Edits = dict[str, list[tuple[str, str]]]


class Repo(Protocol):
    """The `repo` fixture: ``build_repo`` into the test's own folder."""

    def __call__(
        self, rules: str | None = None, *, edit: Edits | None = None, files: dict[str, str] | None = None
    ) -> Path: ...


def build_repo(
    root: Path, rules: str | None = None, *, edit: Edits | None = None, files: dict[str, str] | None = None
) -> Path:
    """The base repository at ``root`` with the given rules; ``edit`` replaces text in a base
    file (each replacement must apply), ``files`` adds or replaces whole files."""
    contents = {rel: textwrap.dedent(text).lstrip("\n") for rel, text in BASE.items()}
    for rel, changes in (edit or {}).items():
        for old, new in changes:
            assert old in contents[rel], f"{old!r} not in {rel}"
            contents[rel] = contents[rel].replace(old, new, 1)
    for rel, text in (files or {}).items():
        contents[rel] = textwrap.dedent(text).lstrip("\n")
    if rules is not None:
        contents["policies/rules.yaml"] = rules_yaml(rules)
    return write_tree(root, contents)


# Evaluate a repository's policies (the `check` fixture).
Check = Callable[..., PolicyReport]


def evaluate_policies(root: Path, today: date = TODAY, **kwargs: Any) -> PolicyReport:
    """The policy report of the repository at ``root`` as of ``today``."""
    return evaluate(load_state(root), today=today, **kwargs)
