"""JSON Schema for each kind of file, generated from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from okectl.config.repository import SCHEMA_KINDS
from okectl.errors import OkectlError
from okectl.files import write_atomic

SCHEMA_DIR = "schema"


def schema_for(kind: str) -> dict[str, Any]:
    model = SCHEMA_KINDS[kind]
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://okectl.example/schema/{kind}.schema.json"
    return schema


def render(kind: str) -> str:
    return json.dumps(schema_for(kind), indent=2, sort_keys=True) + "\n"


def write_all(out_dir: Path) -> list[Path]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OkectlError(f"{out_dir}: cannot create the schema folder: {exc.strerror}") from None
    written = []
    for kind in SCHEMA_KINDS:
        path = out_dir / f"{kind}.schema.json"
        write_atomic(path, render(kind), what="the schema")
        written.append(path)
    return written
