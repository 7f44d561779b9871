"""Whole repositories: many problems at once, the example repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cli import SUMMARY, Problems
from tests.support.repos import BuildRepo


def test_problems_across_files_are_reported_together_sorted_by_file_and_line(
    repo: BuildRepo, problems: Problems
) -> None:
    root = repo(
        {
            "suppliers/delta.yaml": "id: delta\nname: Delta\nroles: [ta]\nflows: [0]\nsupport: {mail: x}\n",
            "suppliers/eduplan.yaml": "id: eduplan\nname: Plan\nroles: [sis]\nflows: [0, 1, 9]\nbogus: 1\n",
            "environments/standard.yaml": "id: standard\nenvironments:\n  production: {type: live}\n",
            "schools/99ZZ.yaml": "code: 99ZZ\nname: [ROC\n",
        }
    )
    assert problems(root) == [
        "environments/standard.yaml:3:22: environments.production.type: 'live' is not one of "
        "production, acceptance, test, pilot, chain-test",
        "schools/99ZZ.yaml:3:1: malformed YAML: did not find expected ',' or ']'; the [ at line 2, "
        "column 7 is not closed, or its items are not separated by commas",
        "suppliers/delta.yaml:5:11: unknown field 'mail'; did you mean 'email'?",
        "suppliers/eduplan.yaml:4:15: flows[2]: 9 is out of range; expected OKE flow number, 0 to 6",
        "suppliers/eduplan.yaml:5:1: unknown field 'bogus'; allowed here: api, certification, drift, flows, "
        "id, name, oke_versions, privacy, role_names, roles, safety, support, verify",
    ]


def test_reference_problems_across_schools_are_reported_together(repo: BuildRepo, problems: Problems) -> None:
    school = "code: {code}\nname: X\nfederation: entree\nschac_home: x.nl\nsystems: {{sis: nope}}\n"
    root = repo(
        {"schools/11AA.yaml": school.format(code="11AA"), "schools/10AA.yaml": school.format(code="10AA")}
    )
    assert problems(root) == [
        "schools/10AA.yaml:5:16: unknown supplier 'nope': there is no suppliers/nope.yaml",
        "schools/11AA.yaml:5:16: unknown supplier 'nope': there is no suppliers/nope.yaml",
    ]


def test_unknown_policy_file(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"policies/rule.yaml": "rules: []\n"})
    assert problems(root) == [
        "policies/rule.yaml:1:1: unknown policy file; expected one of roles.yaml, versions.yaml, "
        "rules.yaml, waivers.yaml, calendar.yaml, rollout.yaml (did you mean rules.yaml?)"
    ]


def test_two_files_defining_the_same_supplier(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"suppliers/delta.yml": "id: delta\nname: Delta\nroles: [ta]\nflows: [0, 2, 3, 4]\n"})
    assert problems(root) == ["suppliers/delta.yml:1:1: supplier 'delta' is defined twice; keep one file"]


def test_missing_folder_is_one_clear_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = cli("validate", "--repo", str(missing))
    assert result.exit_code == 1
    assert result.out == ""
    assert result.err.splitlines() == [f"{missing}: not a directory; pass the repository with --repo DIR"]


def test_folder_that_is_not_a_repository_is_one_clear_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    result = cli("validate", "--repo", str(tmp_path))
    assert result.exit_code == 1
    assert result.err.splitlines() == [
        f"{tmp_path.resolve()}: no schools/, suppliers/, environments/ or policies/ folder here; "
        "pass the configuration repository with --repo DIR"
    ]


def test_the_base_repository_validates(repo: BuildRepo, cli: Callable[..., Any]) -> None:
    result = cli("validate", "--repo", str(repo()))
    assert (result.exit_code, result.err) == (0, "")
    assert (
        result.out
        == "valid: 1 schools, 2 suppliers, 1 profiles; 3 resources (1 environments, 1 clients, 1 roles)\n"
    )


def test_the_example_repository_validates(example_repo: Path, cli: Callable[..., Any]) -> None:
    result = cli("validate", "--repo", str(example_repo))
    assert (result.exit_code, result.err) == (0, "")
    found = SUMMARY.fullmatch(result.out.strip())
    assert found is not None, result.out
    assert int(found[1]) == len(list((example_repo / "schools").glob("*.yaml")))
    assert int(found[2]) == len(list((example_repo / "suppliers").glob("*.yaml")))
    assert int(found[3]) == len(list((example_repo / "environments").glob("*.yaml")))
    assert int(found[4]) == sum(int(found[i]) for i in (5, 6, 7)) > 0


def test_readme_validate_command_works_through_the_console_script(example_repo: Path) -> None:
    okectl = shutil.which("okectl") or str(Path(sys.executable).with_name("okectl"))
    assert os.path.exists(okectl), "install the project first: pip install -e '.[test]'"
    done = subprocess.run(
        [okectl, "validate", "--repo", str(example_repo)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert SUMMARY.fullmatch(done.stdout.strip())
