"""A configuration that cannot be read is an error naming it, never an absence."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import Validate, clean_failure, run_cli
from tests.support.hostile import HERE

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _broken_link(path: Path, outside: Path) -> None:
    path.symlink_to(path.parent / "gone.yaml")


def _folder(path: Path, outside: Path) -> None:
    path.mkdir()


def _fifo(path: Path, outside: Path) -> None:
    os.mkfifo(path)


def _device(path: Path, outside: Path) -> None:
    if not AS_ROOT:
        pytest.skip("making a device node needs root")
    os.mknod(path, stat.S_IFCHR | 0o644, os.makedev(1, 5))  # a copy of /dev/zero


def _link_outside(path: Path, outside: Path) -> None:
    # A valid-looking file, but outside the repository: a pull request cannot add a link
    # that makes okectl read (and show) a file of the machine it runs on.
    path.symlink_to(outside)


def _link_to_device(path: Path, outside: Path) -> None:
    path.symlink_to("/dev/zero")


HAZARDS: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "broken-link": (_broken_link, "which does not exist; restore it or remove the link"),
    "folder": (_folder, "is a folder, not a YAML file"),
    "fifo": (_fifo, "is not a regular file (a FIFO, socket or device)"),
    "device": (_device, "is not a regular file (a FIFO, socket or device)"),
    "link-outside": (_link_outside, "leads outside the repository"),
    "link-to-device": (_link_to_device, "leads outside the repository (to /dev/zero)"),
}
# A file in each folder okectl reads, named as one it would load.
TARGETS = {
    "schools": "schools/98YY.yaml",
    "suppliers": "suppliers/extra.yml",
    "environments": "environments/extra.yaml",
    "policies": "policies/rules.yaml",
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("hazard", sorted(HAZARDS))
@pytest.mark.parametrize("folder", sorted(TARGETS))
def test_an_unreadable_file_in_a_config_folder_is_an_error_naming_it(
    base_repo: Path, tmp_path: Path, validate: Validate, folder: str, hazard: str
) -> None:
    make, message = HAZARDS[hazard]
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("code: 98YY\n", encoding="utf-8")
    rel = TARGETS[folder]
    make(base_repo / rel, outside)
    lines = validate(base_repo)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{rel}:1:1: ") and message in lines[0], lines


def test_a_broken_link_to_a_school_is_not_one_school_fewer(base_repo: Path, validate: Validate) -> None:
    school = base_repo / "schools" / "99ZZ.yaml"
    kept = base_repo / "kept.yaml"
    school.rename(kept)
    school.symlink_to(base_repo / "moved" / "99ZZ.yaml")
    lines = validate(base_repo)
    assert lines == [
        f"schools/99ZZ.yaml:1:1: is a link to {base_repo / 'moved' / '99ZZ.yaml'}, which does not exist; "
        "restore it or remove the link"
    ]
    # Plan stops there too: it would otherwise delete the school's environments.
    assert clean_failure(run_cli("plan", "--repo", str(base_repo))) == lines
    # A link inside the repository to a real file is fine.
    school.unlink()
    school.symlink_to(kept)
    assert run_cli("validate", "--repo", str(base_repo)).exit_code == 0


@pytest.mark.skipif(AS_ROOT, reason="root reads any file")
def test_an_unreadable_school_is_an_error(base_repo: Path, validate: Validate) -> None:
    school = base_repo / "schools" / "99ZZ.yaml"
    school.chmod(0)
    try:
        assert validate(base_repo) == ["schools/99ZZ.yaml:1:1: cannot read this file: permission denied"]
    finally:
        school.chmod(0o644)


def test_a_config_folder_leading_outside_the_repository_is_an_error(
    base_repo: Path, tmp_path: Path, validate: Validate
) -> None:
    elsewhere = tmp_path / "other-schools"
    (base_repo / "schools").rename(elsewhere)
    (base_repo / "schools").symlink_to(elsewhere)
    assert validate(base_repo) == [
        f"schools/:1:1: leads outside the repository (to {elsewhere}); okectl reads only inside it"
    ]


def test_a_config_folder_that_is_a_file_is_an_error(base_repo: Path, validate: Validate) -> None:
    (base_repo / "environments" / "standard.yaml").unlink()
    (base_repo / "environments").rmdir()
    (base_repo / "environments").write_text("standard: {}\n", encoding="utf-8")
    lines = validate(base_repo)
    assert "environments/:1:1: cannot read this folder: it is not a folder" in lines


# --- okectl.yaml ----------------------------------------------------------------------

SETTINGS_CASES = sorted(p.name for p in (HERE / "config").glob("okectl-*.yaml"))


def _expected(name: str) -> str:
    first = (HERE / "config" / name).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{name} must start with '# expect: <message part>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("name", SETTINGS_CASES)
def test_a_wrong_okectl_yaml_is_an_error(base_repo: Path, validate: Validate, name: str) -> None:
    (base_repo / "okectl.yaml").write_bytes((HERE / "config" / name).read_bytes())
    lines = validate(base_repo)
    assert any(_expected(name) in line and line.startswith("okectl.yaml:") for line in lines), lines


def test_a_missing_okectl_yaml_is_an_error_not_a_default_repository(
    base_repo: Path, validate: Validate
) -> None:
    (base_repo / "okectl.yaml").unlink()
    lines = validate(base_repo)
    assert lines[0].startswith("okectl.yaml:1:1: missing; every repository needs one")
    # Planning would otherwise label (and so disown) everything as repository "default".
    assert clean_failure(run_cli("plan", "--repo", str(base_repo)))[0] == lines[0]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("hazard", ["fifo", "folder", "link-outside", "broken-link"])
def test_an_unreadable_okectl_yaml_is_an_error(
    base_repo: Path, tmp_path: Path, validate: Validate, hazard: str
) -> None:
    outside = tmp_path / "settings.yaml"
    outside.write_text("repository: someone-else\n", encoding="utf-8")
    (base_repo / "okectl.yaml").unlink()
    HAZARDS[hazard][0](base_repo / "okectl.yaml", outside)
    lines = validate(base_repo)
    assert len(lines) == 1 and lines[0].startswith("okectl.yaml:1:1: ")
    assert HAZARDS[hazard][1] in lines[0]


def test_every_problem_of_okectl_yaml_and_the_files_is_reported_at_once(
    base_repo: Path, validate: Validate
) -> None:
    (base_repo / "okectl.yaml").write_text("repository: x\nrepo: y\n", encoding="utf-8")
    (base_repo / "schools" / "98YY.yaml").mkdir()
    assert validate(base_repo) == [
        "okectl.yaml:2:1: unknown field 'repo'; allowed here: repository, secrets, smtp",
        "schools/98YY.yaml:1:1: is a folder, not a YAML file; rename or remove it",
    ]


# --- school files with hostile secret references ------------------------------------------

SCHOOL_CASES = sorted(p.name for p in (HERE / "config").glob("school-*.yaml"))


@pytest.mark.parametrize("name", SCHOOL_CASES)
def test_a_hostile_secret_reference_is_refused_at_its_line(
    base_repo: Path, validate: Validate, name: str
) -> None:
    text = (HERE / "config" / name).read_text(encoding="utf-8")
    never = text.splitlines()[1].removeprefix("# never: ")
    (base_repo / "schools" / "99ZZ.yaml").write_text(text, encoding="utf-8")
    lines = validate(base_repo)
    assert any(line.startswith("schools/99ZZ.yaml:16:") and _expected(name) in line for line in lines), lines
    assert never not in "\n".join(lines)
    # Plan stops at the same line, before anything is read or sent.
    assert clean_failure(run_cli("plan", "--repo", str(base_repo))) == lines
