"""Everything okectl writes goes to an exclusive temporary file in the target folder, then
an atomic rename: never through a link planted at the target or the temporary name, never
over a device; and a plan file that cannot be read is one clear line."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from okectl import cli as okectl_cli
from okectl import files
from okectl.files import UnsafeWrite, write_atomic
from okectl.gitops.bump import write_files
from tests.support.cli import clean_failure, run_cli
from tests.support.git import GitRepo

VICTIM_TEXT = "root:x:0:0:do not touch\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_text(VICTIM_TEXT, encoding="utf-8")
    return path


def test_a_link_planted_at_the_target_is_refused_and_its_target_untouched(
    tmp_path: Path, victim: Path
) -> None:
    target = tmp_path / "out.json"
    target.symlink_to(victim)
    with pytest.raises(UnsafeWrite, match=r"is a symbolic link; okectl does not write through links"):
        write_atomic(target, "{}")
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT and target.is_symlink()


def test_a_link_planted_at_the_temporary_name_is_never_followed(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone who could guess the temporary name plants a link there first.
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: "guessed")
    (tmp_path / ".out.json.guessed.tmp").symlink_to(victim)
    with pytest.raises(UnsafeWrite, match=r"cannot write the plan file: File exists"):
        write_atomic(tmp_path / "out.json", "{}", what="the plan file")
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT
    assert not (tmp_path / "out.json").exists()


def test_replacing_a_file_keeps_its_permissions_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "school.yaml"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o600)
    files.replace_file(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["school.yaml"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_plan_out_dev_full_does_not_replace_the_device(example_repo: Path) -> None:
    lines = clean_failure(run_cli("plan", "--repo", str(example_repo), "--out", "/dev/full"))
    assert lines == ["/dev/full: exists and is not a regular file; refusing to replace it"]
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_plan_out_through_a_planted_link_is_refused(example_repo: Path, tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "plan.json"
    out.symlink_to(victim)
    lines = clean_failure(run_cli("plan", "--repo", str(example_repo), "--out", str(out)))
    assert lines == [f"{out}: is a symbolic link; okectl does not write through links"]
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT


def test_schema_out_through_a_planted_link_is_refused(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "schema"
    out.mkdir()
    (out / "school.schema.json").symlink_to(victim)
    result = run_cli("schema", "--out", str(out))
    assert clean_failure(result)[-1] == (
        f"{out / 'school.schema.json'}: is a symbolic link; okectl does not write through links"
    )
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT


def test_report_out_through_a_planted_link_is_refused(
    example_repo: Path, tmp_path: Path, victim: Path
) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").symlink_to(victim)
    lines = clean_failure(run_cli("report", "--repo", str(example_repo), "--out", str(out), "--no-plan"))
    assert lines == [f"{out / 'index.html'}: is a symbolic link; okectl does not write through links"]
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT


def test_bump_does_not_write_through_a_linked_school_file(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo()
    school = repo.root / "schools" / "11AA.yaml"
    shared = repo.root / "shared-11AA.yaml"
    school.rename(shared)
    school.symlink_to(shared)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "share the school file")
    before = shared.read_text(encoding="utf-8")
    result = run_cli(
        "bump", "--supplier", "delta", "--oke-version", "1.0.1", "--school", "11AA", "--repo", str(repo.root)
    )
    assert clean_failure(result) == [f"{school}: is a symbolic link; okectl does not write through links"]
    assert shared.read_text(encoding="utf-8") == before


def test_the_writers_of_bump_and_import_refuse_a_device(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    (tmp_path / "schools").mkdir()
    (tmp_path / "schools" / "11AA.yaml").symlink_to("/dev/full")
    with pytest.raises(UnsafeWrite):
        write_files(tmp_path, {"schools/11AA.yaml": ("", "code: 11AA\n")})
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_the_crash_log_is_private_and_written_safely() -> None:
    try:
        raise RuntimeError("something unexpected")
    except RuntimeError as exc:
        path = Path(okectl_cli._crash_log(exc))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not path.is_symlink()
        assert "RuntimeError: something unexpected" in path.read_text(encoding="utf-8")
    finally:
        path.unlink()


# --- plan files that cannot be read -------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


PLAN_FILES: dict[str, tuple[Callable[[Path], object], str]] = {
    "not-utf-8": (
        lambda p: p.write_bytes(b'{"format_version": "\xff\xfe"}'),
        "not a plan file (not UTF-8 text: byte",
    ),
    "nested-too-deep": (
        lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
        "not a plan file (nested more than 32 levels deep)",
    ),
    "nested-objects": (
        lambda p: p.write_text('{"a":' * 100_000 + "1" + "}" * 100_000),
        "not a plan file (nested more than 32 levels deep)",
    ),
    "fifo": (_fifo, "cannot read the plan file: not a regular file"),
    "invalid-json": (
        lambda p: p.write_text("{\n  'changes': []\n}\n"),
        ":2:3: not a plan file (invalid JSON)",
    ),
    "a-list": (lambda p: p.write_text(json.dumps([1, 2])), "not a plan file of format version"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(PLAN_FILES))
def test_a_plan_file_that_cannot_be_read_is_one_clear_line(
    example_repo: Path, tmp_path: Path, case: str
) -> None:
    make, message = PLAN_FILES[case]
    path = tmp_path / "plan.json"
    make(path)
    lines = clean_failure(run_cli("apply", "--repo", str(example_repo), str(path)))
    assert len(lines) == 1 and lines[0].startswith(str(path)) and message in lines[0], lines


@pytest.mark.timeout(60)
def test_a_device_as_plan_file_is_refused_without_reading_it(example_repo: Path) -> None:
    lines = clean_failure(run_cli("apply", "--repo", str(example_repo), "/dev/zero"))
    assert lines == ["/dev/zero: cannot read the plan file: not a regular file"]


@pytest.mark.parametrize("planted", [".okectl/runs", ".okectl"])
def test_okectl_never_keeps_its_state_where_a_link_points(
    example_repo: Path, tmp_path: Path, planted: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (example_repo / planted).parent.mkdir(parents=True, exist_ok=True)
    (example_repo / planted).symlink_to(elsewhere)
    lines = clean_failure(run_cli("apply", "--repo", str(example_repo), "--auto-approve"))
    assert len(lines) == 1 and lines[0] == (
        f"{example_repo / planted}: is a link; okectl keeps its state only in a real folder here"
    ), lines
    assert list(elsewhere.iterdir()) == []
