"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from okectl.engine.validate import validate_repository


@pytest.fixture
def example_secrets(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A value for every secret reference of the example, so every write can be made."""
    values: dict[str, str] = {}
    for res in validate_repository(example_repo).resources:
        ref = res.spec.get("secret") if res.kind == "client" else None
        if ref and ref.startswith("env:"):
            values[ref[4:]] = f"value-of-{ref[4:]}"
            monkeypatch.setenv(ref[4:], values[ref[4:]])
    return values
