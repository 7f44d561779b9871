"""`okectl schema`: valid JSON Schema, the example files conform, the committed copies are current."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from okectl.config.repository import SCHEMA_KINDS

PROJECT = Path(__file__).resolve().parents[2]
FOLDER_KINDS = {"schools": "school", "suppliers": "supplier", "environments": "profile"}


def _example_files() -> list[tuple[Path, str]]:
    out = []
    for folder, kind in FOLDER_KINDS.items():
        out += [(path, kind) for path in sorted((PROJECT / folder).glob("*.yaml"))]
    out += [(path, path.stem) for path in sorted((PROJECT / "policies").glob("*.yaml"))]
    return out


EXAMPLES = _example_files()
IDS = [path.relative_to(PROJECT).as_posix() for path, _ in EXAMPLES]


def _as_json(path: Path) -> Any:
    # Editors see YAML dates as text; JSON has no date type, so compare the way they do.
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.fixture
def schemas(cli: Callable[..., Any]) -> dict[str, Any]:
    result = cli("schema")
    assert (result.exit_code, result.err) == (0, "")
    generated: dict[str, Any] = json.loads(result.out)
    return generated


def test_schema_covers_every_kind(schemas: dict[str, Any]) -> None:
    assert sorted(schemas) == sorted(SCHEMA_KINDS)


@pytest.mark.parametrize("kind", sorted(SCHEMA_KINDS))
def test_schema_is_valid_draft_2020_12(schemas: dict[str, Any], kind: str) -> None:
    Draft202012Validator.check_schema(schemas[kind])
    assert schemas[kind]["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(("path", "kind"), EXAMPLES, ids=IDS)
def test_example_file_validates_against_its_schema(schemas: dict[str, Any], path: Path, kind: str) -> None:
    validator = Draft202012Validator(schemas[kind])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_as_json(path))]
    assert errors == []


def test_schema_rejects_what_validate_rejects(schemas: dict[str, Any]) -> None:
    # Editors flag the same mistakes: an unquoted version and an unknown field.
    school = yaml.safe_load((PROJECT / "schools/21RC.yaml").read_text(encoding="utf-8"))
    first = next(iter(school["connections"].values()))
    first["oke_version"] = 1.1
    school["colour"] = "blue"
    validator = Draft202012Validator(schemas["school"])
    assert len(list(validator.iter_errors(json.loads(json.dumps(school))))) == 2


@pytest.mark.parametrize("kind", sorted(SCHEMA_KINDS))
def test_committed_schema_is_current(cli: Callable[..., Any], kind: str) -> None:
    result = cli("schema", "--kind", kind)
    assert result.exit_code == 0
    committed = (PROJECT / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert committed == result.out, f"schema/{kind}.schema.json is stale: run okectl schema --out schema"


@pytest.mark.parametrize(("path", "kind"), EXAMPLES, ids=IDS)
def test_example_file_carries_the_editor_modeline(path: Path, kind: str) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../schema/{kind}.schema.json"
    assert (path.parent / f"../schema/{kind}.schema.json").resolve().is_file()


def test_schema_out_writes_one_file_per_kind(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("schema", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.schema.json" for k in SCHEMA_KINDS)
