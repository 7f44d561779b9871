"""Repository settings from the top-level `okectl.yaml`, which every repository has.

It names the repository (the id in the ownership labels of everything okectl creates) and
says where secret references may read from. A missing, empty or invalid file is an error:
without it every owned resource would look foreign, and secrets would be read from places
nobody chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, ValidationError

from okectl.config.models import Model
from okectl.config.repository import check_file, problems_from_validation
from okectl.config.yamlsource import YamlError, load_file, locate
from okectl.errors import Problem, ValidationFailed
from okectl.model.secrets import DEFAULT_ENV_PATTERNS, DEFAULT_FILE_ROOTS, SecretRoots

SETTINGS_FILE = "okectl.yaml"

# Folders no secret may come from, whatever okectl.yaml says: they hold the machine's own
# state (process environments, devices, its configuration), never a secret for a supplier.
FORBIDDEN_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))
FORBIDDEN_FOLDERS = (Path("/"), Path("/etc"), Path("/root"), Path("/home"), Path("/var"), Path("/usr"))


def _secret_folder(value: str) -> str:
    path = PurePosixPath(value)
    if "\x00" in value or not value.strip():
        raise ValueError("a folder must be a path")
    if not path.is_absolute():
        if ".." in path.parts:
            raise ValueError(
                f"{value} leads out of the repository; write a folder outside it as an absolute path"
            )
        return value
    if _forbidden(Path(value).resolve()):
        raise ValueError(f"{value} holds the machine's own files, not secrets; name a folder of secrets")
    return value


def _env_pattern(value: str) -> str:
    if not value.strip("*?"):
        raise ValueError(
            f"{value!r} would allow every variable (a CI system's own tokens too); "
            "name the variables, e.g. *_SECRET"
        )
    return value


EnvPattern = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_*?]{1,128}$"),
    AfterValidator(_env_pattern),
]
SecretFolder = Annotated[
    str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_secret_folder)
]


class SecretSettings(Model):
    files: list[SecretFolder] = Field(
        default_factory=lambda: list(DEFAULT_FILE_ROOTS),
        description="folders {file: PATH} may read from: relative to the repository, or absolute "
        "(such as /run/secrets); never /, /proc, /sys, /dev or /etc",
    )
    env: list[EnvPattern] = Field(
        default_factory=lambda: list(DEFAULT_ENV_PATTERNS),
        description="names {env: NAME} may read, as patterns of letters, digits, '_' and the "
        "wildcards * and ?, such as *_SECRET",
    )


class SettingsModel(Model):
    repository: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")] = Field(
        description="an id of letters, digits, '.', '_', '/' or '-' "
        "(it goes into ownership labels: keep it stable)",
    )
    secrets: SecretSettings = Field(default_factory=SecretSettings)


@dataclass(frozen=True)
class Settings:
    repository: str
    secret_roots: SecretRoots


def load_settings(root: Path) -> Settings:
    """The settings of the repository at ``root``; ValidationFailed when okectl.yaml is
    missing, cannot be read, or is not valid."""
    root = root.resolve()
    path = root / SETTINGS_FILE
    problem = check_file(path, root, SETTINGS_FILE)
    if problem is None and not path.exists():
        problem = Problem(
            SETTINGS_FILE,
            1,
            1,
            "missing; every repository needs one, with at least `repository: ID` "
            "(the id okectl writes into the ownership labels of what it creates)",
        )
    if problem is not None:
        raise ValidationFailed([problem])
    try:
        data = load_file(path, SETTINGS_FILE)
    except YamlError as exc:
        raise ValidationFailed([exc.problem]) from None
    if not isinstance(data, dict):
        raise ValidationFailed(
            [Problem(SETTINGS_FILE, 1, 1, "expected a mapping of settings, such as `repository: ID`")]
        )
    try:
        model = SettingsModel.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(problems_from_validation(exc, SETTINGS_FILE, data, SettingsModel)) from None
    roots = SecretRoots.of(root, model.secrets.files, model.secrets.env)
    problems = [
        Problem(SETTINGS_FILE, *locate(data, ("secrets", "files", i)), f"secrets.files[{i}]: {why}")
        for i, (given, resolved) in enumerate(zip(model.secrets.files, roots.file_roots, strict=True))
        if (why := _resolved_root_problem(root, given, resolved)) is not None
    ]
    if problems:
        raise ValidationFailed(problems)
    return Settings(repository=model.repository, secret_roots=roots)


def _resolved_root_problem(root: Path, given: str, resolved: Path) -> str | None:
    # Checked after links are resolved: a link committed as secrets/ -> /etc must not
    # turn the default folder into the machine's own files.
    if not PurePosixPath(given).is_absolute() and resolved != root and root not in resolved.parents:
        return f"{given} leads outside the repository (to {resolved}); write such a folder as absolute"
    if _forbidden(resolved):
        return f"{given} is {resolved}, which holds the machine's own files, not secrets"
    return None


def _forbidden(resolved: Path) -> bool:
    return resolved in FORBIDDEN_FOLDERS or any(
        t == resolved or t in resolved.parents for t in FORBIDDEN_TREES
    )
