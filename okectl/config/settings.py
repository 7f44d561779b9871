"""Repository settings from the optional top-level `okectl.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationError

from okectl.config.models import Model
from okectl.config.repository import problems_from_validation
from okectl.config.yamlsource import YamlError, load_file
from okectl.errors import ValidationFailed

SETTINGS_FILE = "okectl.yaml"
DEFAULT_REPOSITORY_ID = "default"


class SettingsModel(Model):
    repository: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")] = Field(
        default=DEFAULT_REPOSITORY_ID,
        description="an id of letters, digits, '.', '_', '/' or '-' "
        "(it goes into ownership labels: keep it stable)",
    )


@dataclass(frozen=True)
class Settings:
    repository: str


def load_settings(root: Path) -> Settings:
    path = root / SETTINGS_FILE
    if not path.is_file():
        return Settings(repository=DEFAULT_REPOSITORY_ID)
    try:
        data = load_file(path, SETTINGS_FILE)
    except YamlError as exc:
        raise ValidationFailed([exc.problem]) from None
    try:
        model = SettingsModel.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(problems_from_validation(exc, SETTINGS_FILE, data, SettingsModel)) from None
    return Settings(repository=model.repository)
