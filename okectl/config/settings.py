"""Repository settings from the top-level `okectl.yaml`, which every repository has.

It names the repository (the id in the ownership labels of everything okectl creates) and
says where secret references may read from. A missing, empty or invalid file is an error:
without it every owned resource would look foreign, and secrets would be read from places
nobody chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from okectl.config.models import Email, Model, SecretRef
from okectl.config.repository import check_file, problems_from_validation
from okectl.config.yamlsource import YamlError, load_file, locate
from okectl.errors import Problem, ValidationFailed
from okectl.model.secrets import (
    DEFAULT_ENV_PATTERNS,
    DEFAULT_FILE_ROOTS,
    SecretRoots,
    env_pattern_problem,
    refusal,
)

SETTINGS_FILE = "okectl.yaml"

# The only place outside the repository secrets may come from: where container runtimes
# mount them (Docker, Compose, Kubernetes volumes). Anywhere else outside holds the
# machine's own state, and a pull request can change okectl.yaml too.
OUTSIDE_ALLOWED = Path("/run/secrets")
# Folders of the repository that are never secret folders: git's own (its config holds the
# CI checkout's token), okectl's state, and the configuration, which is committed.
INSIDE_FORBIDDEN = (".git", ".okectl", "schools", "suppliers", "environments", "policies")


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
    # Where an absolute folder may be is decided once links are resolved, against the
    # repository's own place (see _resolved_root_problem).
    return value


def _env_pattern(value: str) -> str:
    if not value.strip("*?"):
        why: str | None = (
            f"{value!r} would allow every variable (a CI system's own tokens too); "
            "name the variables, e.g. *_SECRET"
        )
    else:
        why = env_pattern_problem(value)
    if why is not None:
        # Braces would be read as placeholders of the message template.
        raise PydanticCustomError("env_pattern", why.replace("{", "(").replace("}", ")"))
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
        description="folders {file: PATH} may read from: inside the repository (never the "
        "repository itself, .git, .okectl or the configuration folders), or under /run/secrets",
    )
    env: list[EnvPattern] = Field(
        default_factory=lambda: list(DEFAULT_ENV_PATTERNS),
        description="names {env: NAME} may read, as patterns of letters, digits, '_' and the "
        "wildcards * and ?, such as *_SECRET; never one that matches other tools' credentials "
        "(*_TOKEN matches GH_TOKEN), and CI systems', clouds' and tools' own variables are never "
        "read whatever the patterns say",
    )


# --- smtp: where okectl apply --send delivers change requests -------------------------

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class SmtpSettings(Model):
    """The mail server change requests are sent through (``okectl apply --send``)."""

    host: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,252}$|^\[?::1\]?$")
    ] = Field(description="The SMTP server's host name")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(
        default=587, description="587 for starttls, 465 for ssl, 25 for none"
    )
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (upgrade the connection), ssl (TLS from the start) or none (loopback only)",
    )
    username: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    password: SecretRef | None = Field(
        default=None, description="A secret reference ({env: NAME} or {file: PATH}), never the password"
    )
    from_address: Email = Field(description="The sender of change requests, e.g. oke-beheer@school.nl")
    ca_file: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = Field(
        default=None,
        description="A PEM file of certificate authorities to trust instead of the system's (a private CA)",
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0

    @model_validator(mode="after")
    def _credentials_protected(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise PydanticCustomError("smtp_login", "give both username and password, or neither")
        if self.security == "none" and self.host not in LOOPBACK_HOSTS:
            raise PydanticCustomError(
                "smtp_plaintext",
                "security none sends mail unencrypted; it is allowed only to a server on this machine "
                "(localhost); use starttls or ssl",
            )
        return self


class SettingsModel(Model):
    repository: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")] = Field(
        description="an id of letters, digits, '.', '_', '/' or '-' "
        "(it goes into ownership labels: keep it stable)",
    )
    secrets: SecretSettings = Field(default_factory=SecretSettings)
    smtp: SmtpSettings | None = Field(
        default=None, description="Where okectl apply --send sends change requests"
    )


@dataclass(frozen=True)
class Settings:
    repository: str
    secret_roots: SecretRoots
    smtp: SmtpSettings | None = None


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
        problem = exc.problem
        if "file is empty" in problem.message:
            # Removing it is no way out here: every repository needs one.
            problem = Problem(SETTINGS_FILE, 1, 1, "is empty; write at least `repository: ID` in it")
        raise ValidationFailed([problem]) from None
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
    problems += _smtp_problems(model.smtp, data, roots)
    if problems:
        raise ValidationFailed(problems)
    return Settings(repository=model.repository, secret_roots=roots, smtp=model.smtp)


def _smtp_problems(smtp: SmtpSettings | None, data: Any, roots: SecretRoots) -> list[Problem]:
    # The password is read only when mail is sent; where its reference points is checked
    # now, as every other secret reference is.
    if smtp is None or smtp.password is None:
        return []
    why = refusal(smtp.password.describe(), roots)
    if why is None:
        return []
    return [Problem(SETTINGS_FILE, *locate(data, ("smtp", "password")), f"smtp.password: {why}")]


def _resolved_root_problem(root: Path, given: str, resolved: Path) -> str | None:
    # Checked after links are resolved: a link committed as secrets/ -> /etc must not
    # turn the default folder into the machine's own files.
    if _under(resolved, OUTSIDE_ALLOWED):
        return None
    if not _under(resolved, root):
        shown = given if str(resolved) == given else f"{given} (that is {resolved})"
        return (
            f"{shown} is outside the repository and {OUTSIDE_ALLOWED}, where the machine's own files "
            f"are; keep secrets in a folder of the repository that git ignores, or under {OUTSIDE_ALLOWED}"
        )
    if resolved == root:
        return f"{given} is the repository itself (its .git holds CI's token); name a folder of secrets"
    first = resolved.relative_to(root).parts[0]
    if first in INSIDE_FORBIDDEN:
        return f"{given} is in {first}/, which holds no secrets (git's, okectl's or committed files)"
    return None


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
