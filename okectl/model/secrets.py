"""Secrets: where a reference may read a value from, and how a value is kept out of output.

A secret is only ever a reference in the repository (``env:NAME`` or ``file:PATH``). This
is the one place that turns a reference into a value, and the one place that hides a
value again wherever it might be echoed.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import stat
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from okectl.errors import OkectlError
from okectl.model.resources import SENSITIVE, Kind

SENSITIVE_TEXT = "(sensitive)"
SENSITIVE_CHANGE = "(sensitive) changed"
# A client secret is a short random string; anything larger is not one, and reading it
# whole (a device, /dev/zero) must not be possible.
MAX_SECRET_FILE_BYTES = 4096
# Where {file: PATH} may read, relative to the repository, when okectl.yaml says nothing.
DEFAULT_FILE_ROOTS = ("secrets",)
# Which {env: NAME} may be read when okectl.yaml says nothing: names made for the purpose,
# never a CI system's own tokens (GITHUB_TOKEN, ACTIONS_*, …).
DEFAULT_ENV_PATTERNS = ("*_SECRET", "OKECTL_SECRET_*")


# Variables of CI systems and clouds: their own credentials, never a secret for a supplier.
# Refused whatever okectl.yaml allows, since a pull request can change okectl.yaml too.
CI_VARIABLES = (
    "CI", "CI_*", "GITHUB_*", "ACTIONS_*", "RUNNER_*", "GITLAB_*", "BUILDKITE_*", "CIRCLE_*",
    "TRAVIS_*", "JENKINS_*", "BITBUCKET_*", "SYSTEM_*", "AZURE_*", "AWS_*", "GOOGLE_*", "GCP_*",
    "CLOUDSDK_*", "KUBERNETES_*", "SSH_*", "GPG_*", "NPM_*", "PYPI_*", "TWINE_*", "DOCKER_*",
)


class SecretRefused(OkectlError):
    """A reference that points somewhere okectl will not read a secret from."""


class _Ref(Protocol):
    @property
    def env(self) -> str | None: ...

    @property
    def file(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SecretRoots:
    """What secret references of one repository may read."""

    repo_root: Path
    file_roots: tuple[Path, ...]
    env_patterns: tuple[str, ...]

    @classmethod
    def default(cls, repo_root: Path) -> SecretRoots:
        return cls.of(repo_root, DEFAULT_FILE_ROOTS, DEFAULT_ENV_PATTERNS)

    @classmethod
    def of(cls, repo_root: Path, files: Iterable[str], env: Iterable[str]) -> SecretRoots:
        root = repo_root.resolve()
        return cls(root, tuple((root / f).resolve() for f in files), tuple(env))

    def env_allowed(self, name: str) -> bool:
        if any(fnmatch.fnmatchcase(name, p) for p in CI_VARIABLES):
            return False
        return any(fnmatch.fnmatchcase(name, p) for p in self.env_patterns)


def refusal(ref: str, roots: SecretRoots) -> str | None:
    """Why ``ref`` may not be read under these roots, or None when it may be. Checks only
    where the reference points (links resolved), without reading anything."""
    kind, _, name = ref.partition(":")
    if kind == "env":
        if not roots.env_allowed(name):
            if any(fnmatch.fnmatchcase(name, p) for p in CI_VARIABLES):
                return f"secret {ref}: {name} belongs to the CI system or cloud; okectl never sends it"
            return (
                f"secret {ref}: the variable {name} is not one okectl.yaml allows secrets from "
                f"(secrets.env: {', '.join(roots.env_patterns) or 'none'})"
            )
        return None
    if kind == "file":
        path = _file_path(name, roots)
        if path is None or not any(path == r or r in path.parents for r in roots.file_roots):
            allowed = ", ".join(
                str(r.relative_to(roots.repo_root)) if r.is_relative_to(roots.repo_root) else str(r)
                for r in roots.file_roots
            )
            return (
                f"secret {ref}: {path or name} is outside the folders okectl.yaml allows secrets from "
                f"(secrets.files: {allowed or 'none'})"
            )
        return None
    return f"secret {ref}: not a secret reference (env:NAME or file:PATH)"


def read_secret(ref: str, roots: SecretRoots) -> str | None:
    """The value behind ``env:NAME`` or ``file:PATH``; None when it is not set.

    Raises SecretRefused for a reference outside what the repository allows, or a file
    that is not a small regular file."""
    why = refusal(ref, roots)
    if why is not None:
        raise SecretRefused(why)
    kind, _, name = ref.partition(":")
    if kind == "env":
        return os.environ.get(name) or None
    path = _file_path(name, roots)
    assert path is not None
    return _read_file(ref, path)


def _file_path(name: str, roots: SecretRoots) -> Path | None:
    """The file a reference names, links resolved (so a link cannot lead out of a root)."""
    if not name or "\x00" in name:
        return None
    raw = Path(name)
    try:
        return (raw if raw.is_absolute() else roots.repo_root / raw).resolve()
    except (OSError, RuntimeError):
        return None


def _read_file(ref: str, path: Path) -> str | None:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOFOLLOW: the path was
        # resolved and checked; a link swapped in since then is refused, not followed.
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretRefused(f"secret {ref}: cannot read {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise SecretRefused(f"secret {ref}: {path} is not a regular file")
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise SecretRefused(f"secret {ref}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
        data = fh.read(MAX_SECRET_FILE_BYTES + 1)
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise SecretRefused(f"secret {ref}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretRefused(f"secret {ref}: {path} is not UTF-8 text") from None
    # An empty file holds no secret: it resolves to nothing, like an unset variable.
    return text or None


def resolve_secret_ref(ref: _Ref, roots: SecretRoots) -> str | None:
    """The value behind a configuration SecretRef (``{env: …}`` or ``{file: …}``)."""
    if ref.env is not None:
        return read_secret(f"env:{ref.env}", roots)
    assert ref.file is not None
    return read_secret(f"file:{ref.file}", roots)


def redact_spec(kind: Kind, spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy fit for output: secret fields replaced by the marker, never their value."""
    if spec is None:
        return None
    hidden = SENSITIVE[kind]
    if not hidden and "secret_fingerprint" not in spec:
        return spec
    return {
        k: (SENSITIVE_TEXT if v is not None else None) if (k in hidden or k == "secret_fingerprint") else v
        for k, v in spec.items()
    }


def echoed_forms(secret: str) -> set[str]:
    """Every form a supplier may echo a value back in: raw, JSON-escaped, URL-encoded
    (``+`` and ``%20``), base64 (standard and URL-safe, with and without padding), hex."""
    raw = secret.encode("utf-8")
    b64 = base64.b64encode(raw).decode("ascii")
    b64url = base64.urlsafe_b64encode(raw).decode("ascii")
    forms = {
        secret,
        urllib.parse.quote_plus(secret),
        urllib.parse.quote(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        b64,
        b64.rstrip("="),
        b64url,
        b64url.rstrip("="),
        raw.hex(),
        raw.hex().upper(),
    }
    # Forms shorter than a few characters would blank out unrelated text.
    return {f for f in forms if len(f) >= 4 or f == secret}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by the marker, in any form it may be echoed in."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= echoed_forms(secret)
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, SENSITIVE_TEXT)
    return text
