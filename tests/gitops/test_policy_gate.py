"""Bump and report with the policy engine: no new policy errors, findings per policy."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from okectl.config.repository import DesiredState
from okectl.engine.workspace import load_workspace
from okectl.gitops.report import build_report, write_report
from okectl.views.report import render_html
from tests.support.cli import run_cli
from tests.support.git import GitRepo

MakeRepo = Callable[..., GitRepo]


@dataclass(frozen=True)
class FakeFinding:
    policy: str
    severity: str
    address: str
    path: str
    line: int
    col: int
    message: str
    school: str | None = None
    supplier: str | None = None
    waived_by: Any = None


@dataclass
class FakeReport:
    findings: list[FakeFinding] = field(default_factory=list)

    @property
    def errors(self) -> list[FakeFinding]:
        return [f for f in self.findings if f.severity == "error" and f.waived_by is None]


def evaluate(state: DesiredState, *, today: Any = None, releases: Any = None) -> FakeReport:
    """A chain rule: every connection of a school runs the same OKE version."""
    report = FakeReport()
    for code, school in sorted(state.schools.items()):
        versions = {c.oke_version for c in school.connections.values()}
        if len(versions) > 1:
            for sid, conn in sorted(school.connections.items()):
                report.findings.append(FakeFinding(
                    "chain-aligned", "error", f"{sid}/{code}", f"schools/{code}.yaml", 1, 1,
                    f"OKE {conn.oke_version} differs from the rest of the chain",
                    school=code, supplier=sid,
                ))
        report.findings.append(FakeFinding(
            "dpia", "warning", f"delta/{code}", f"schools/{code}.yaml", 1, 1, "DPIA is old",
            school=code, supplier="delta",
        ))
    return report


@pytest.fixture(autouse=True)
def policy_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    module: Any = types.ModuleType("okectl.policy.engine")
    module.evaluate = evaluate
    monkeypatch.setitem(sys.modules, "okectl.policy.engine", module)


def test_a_bump_that_introduces_a_policy_error_writes_nothing(make_repo: MakeRepo) -> None:
    repo = make_repo()
    before = repo.read("schools/11AA.yaml")

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "11AA",
                     "--repo", str(repo.root))

    assert result.exit_code == 3
    assert result.err.splitlines() == [
        "[chain-aligned] delta/11AA: OKE 1.0.1 differs from the rest of the chain",
        "[chain-aligned] planwijs/11AA: OKE 1.0 differs from the rest of the chain",
        "the bump would introduce 2 policy error(s); nothing was written",
    ]
    assert repo.read("schools/11AA.yaml") == before


def test_a_bump_that_keeps_policy_clean_is_written_without_a_warning(make_repo: MakeRepo) -> None:
    repo = make_repo()

    result = run_cli("bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "22BB",
                     "--repo", str(repo.root))

    assert result.exit_code == 0, result.err
    assert "warning:" not in result.out
    assert '"1.0.1"' in repo.read("schools/22BB.yaml")


def test_the_report_groups_findings_per_policy_and_marks_the_matrix(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo()
    repo.commit("misalign 11AA", {"schools/11AA.yaml": repo.read("schools/11AA.yaml").replace(
        "oke_version: '1.0'", "oke_version: '1.0.1'")})

    data = build_report(load_workspace(repo.root), with_plan=False)
    html = write_report(render_html(data), tmp_path / "out").read_text(encoding="utf-8")

    assert [(g.policy, g.errors, g.warnings) for g in data.policy_groups] == [
        ("chain-aligned", 2, 0), ("dpia", 0, 3)
    ]
    assert data.rows[0].cells["delta"].policy_status == "error"
    assert data.rows[1].cells["delta"].policy_status == "warning"
    assert '<span class="policy p-error">✕ 1 error</span>' in html
    assert '<span class="policy p-warning">! 1 warning</span>' in html
