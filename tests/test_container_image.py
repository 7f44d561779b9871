"""The container image definition, checked statically (building it needs a Docker engine).

What is checked: every base image is pinned by a full version tag and runs a Python that
pyproject.toml allows; the image runs as a non-root user that it creates; `okectl` is the
entrypoint and /repo the working folder; the Python packages come from the pinned constraints,
which pin every runtime dependency within pyproject.toml's ranges; the build context holds what
the Dockerfile copies and nothing of the repository's history or local state.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.support.repos import PROJECT

PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
CONSTRAINTS = PROJECT / "docker" / "constraints.txt"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


INSTRUCTIONS = parse_dockerfile((PROJECT / "Dockerfile").read_text(encoding="utf-8"))


def _final_stage() -> list[Instruction]:
    last_from = max(i for i, ins in enumerate(INSTRUCTIONS) if ins.keyword == "FROM")
    return INSTRUCTIONS[last_from:]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([\w.]+)", line.strip())
            assert match, f"not an exact pin: {line!r}"
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"pinned twice: {name}"
            pins[name] = match.group(2)
    return pins


def test_the_parser_joins_continued_lines_and_skips_comments() -> None:
    parsed = parse_dockerfile("FROM a:1 AS b\n# note\nRUN x \\\n    && y\nUSER 5\n")

    assert parsed == [Instruction("FROM", "a:1 AS b"), Instruction("RUN", "x && y"), Instruction("USER", "5")]


def test_every_base_image_is_pinned_by_a_full_version_tag() -> None:
    bases = [ins.args.split()[0] for ins in INSTRUCTIONS if ins.keyword == "FROM"]

    assert bases
    for base in bases:
        image, _, tag = base.partition(":")
        assert image == "python", base
        # A moving tag (latest, 3, 3.11, 3.11-slim) would change the image under a rebuild.
        assert re.fullmatch(r"\d+\.\d+\.\d+-slim-[a-z]+", tag), base
    assert len(set(bases)) == 1, "the build and the final stage use the same Python"


def test_the_base_images_python_is_one_okectl_supports() -> None:
    (base,) = {ins.args.split()[0] for ins in INSTRUCTIONS if ins.keyword == "FROM"}
    version = re.match(r"python:(\d+\.\d+\.\d+)", base)

    assert version is not None
    assert version.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_the_image_runs_as_a_non_root_user_it_creates() -> None:
    stage = _final_stage()
    users = [ins.args for ins in stage if ins.keyword == "USER"]

    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, users[-1]  # numeric, so runAsNonRoot can check it
    assert gid == "" or (gid.isdigit() and int(gid) != 0)
    created = " ".join(ins.args for ins in stage if ins.keyword == "RUN")
    assert re.search(rf"useradd --uid {uid}\b", created)
    # Nothing runs after the switch that could need root (or switch back).
    after = stage[max(i for i, ins in enumerate(stage) if ins.keyword == "USER") :]
    assert not any(ins.keyword == "RUN" for ins in after)


def test_okectl_is_the_entrypoint_and_the_repository_is_mounted_at_repo() -> None:
    stage = _final_stage()
    (entrypoint,) = [ins.args for ins in stage if ins.keyword == "ENTRYPOINT"]
    workdir = [ins.args for ins in stage if ins.keyword == "WORKDIR"]

    assert json.loads(entrypoint) == ["okectl"]  # exec form: signals reach okectl
    assert workdir[-1] == "/repo"
    assert PYPROJECT["project"]["scripts"]["okectl"]


def test_okectl_is_built_from_this_source_with_the_pinned_dependencies() -> None:
    runs = [ins.args for ins in INSTRUCTIONS if ins.keyword == "RUN"]
    copies = [ins.args for ins in INSTRUCTIONS if ins.keyword == "COPY"]

    assert any("pip wheel" in r and "--constraint docker/constraints.txt ." in r for r in runs)
    # The final install takes only the wheels built from the pinned set: no index, no other version.
    assert any("pip install" in r and "--no-index --find-links /wheels okectl" in r for r in runs)
    assert "docker/constraints.txt ./docker/constraints.txt" in copies
    assert "okectl ./okectl" in copies


def test_the_constraints_pin_every_runtime_dependency_within_its_range() -> None:
    pins = _pins()

    for spec in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in {CONSTRAINTS.name}"
        assert requirement.specifier.contains(pins[name]), (spec, pins[name])


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, as far as these patterns need it: the last matching pattern wins."""
    parts = path.split("/")
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        # A pattern matches the path or a folder that holds it; `**/` at any depth.
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        if pattern.startswith("**/"):
            pattern = pattern.removeprefix("**/")
            n = len(parts)
            candidates += ["/".join(parts[i:j]) for i in range(n) for j in range(i + 1, n + 1)]
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            ignored = not negated
    return ignored


DOCKERIGNORE = [
    line.strip()
    for line in (PROJECT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.mark.parametrize(
    "source",
    [ins.args.split()[0] for ins in INSTRUCTIONS if ins.keyword == "COPY" and "--from" not in ins.args]
    + ["okectl/cli/__init__.py"],
)
def test_what_the_dockerfile_copies_is_in_the_build_context(source: str) -> None:
    assert (PROJECT / source).exists()
    assert not _ignored(source, DOCKERIGNORE)


@pytest.mark.parametrize(
    "path",
    [".git/config", ".okectl/state.db", "tests/conftest.py", "schools/21RC.yaml", "okectl/__pycache__/a"],
)
def test_history_local_state_and_example_data_stay_out_of_the_build_context(path: str) -> None:
    assert _ignored(path, DOCKERIGNORE)
