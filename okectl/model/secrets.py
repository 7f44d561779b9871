"""Secrets: where a reference may read a value from.

A secret is only ever a reference in the repository (``env:NAME`` or ``file:PATH``). This
is the one place that turns a reference into a value; ``okectl.model.redaction`` is the one
place that hides a value again wherever it might be echoed.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from okectl.errors import OkectlError
from okectl.files import read_fd

# A client secret is a short random string; anything larger is not one, and reading it
# whole (a device, /dev/zero) must not be possible.
MAX_SECRET_FILE_BYTES = 4096
# Where {file: PATH} may read, relative to the repository, when okectl.yaml says nothing.
DEFAULT_FILE_ROOTS = ("secrets",)
# Which {env: NAME} may be read when okectl.yaml says nothing: names made for the purpose.
# "_SECRET" is the suffix okectl's convention gives them (<SUPPLIER>_<SCHOOL>_SECRET); other
# tools' variables that end in it (ARM_CLIENT_SECRET, AZURE_CLIENT_SECRET, …) are refused by
# name below, whatever a pattern says.
DEFAULT_ENV_PATTERNS = ("*_SECRET", "OKECTL_SECRET_*")


# Variables that hold the credentials of CI systems, clouds and tools, with whose they are.
# Never read, whatever okectl.yaml allows: a pull request can change okectl.yaml too, and
# would otherwise have CI send its own tokens to a supplier. Matched in any case.
DENIED_VARIABLES: tuple[tuple[str, str], ...] = (
    ("CI", "the CI system"),
    ("CI_*", "GitLab CI"),
    ("GITLAB_*", "GitLab"),
    ("GITHUB_*", "GitHub Actions"),
    ("GH_*", "the GitHub CLI"),
    ("ACTIONS_*", "GitHub Actions"),
    ("RUNNER_*", "the CI runner"),
    ("BUILDKITE_*", "Buildkite"),
    ("CIRCLE_*", "CircleCI"),
    ("TRAVIS_*", "Travis CI"),
    ("JENKINS_*", "Jenkins"),
    ("BITBUCKET_*", "Bitbucket"),
    ("SYSTEM_*", "Azure Pipelines"),
    ("TF_BUILD", "Azure Pipelines"),
    ("DRONE_*", "Drone"),
    ("WOODPECKER_*", "Woodpecker CI"),
    ("TEAMCITY_*", "TeamCity"),
    ("CODEBUILD_*", "AWS CodeBuild"),
    ("AWS_*", "AWS"),
    ("AZURE_*", "Azure"),
    ("ARM_*", "Terraform's Azure provider"),
    ("MSI_*", "Azure managed identities"),
    ("IDENTITY_*", "Azure managed identities"),
    ("GOOGLE_*", "Google Cloud"),
    ("GCP_*", "Google Cloud"),
    ("GCLOUD_*", "Google Cloud"),
    ("CLOUDSDK_*", "Google Cloud"),
    ("OCI_*", "Oracle Cloud"),
    ("ALIBABA_CLOUD_*", "Alibaba Cloud"),
    ("DIGITALOCEAN_*", "DigitalOcean"),
    ("HCLOUD_*", "Hetzner Cloud"),
    ("CLOUDFLARE_*", "Cloudflare"),
    ("HEROKU_*", "Heroku"),
    ("NETLIFY_*", "Netlify"),
    ("VERCEL_*", "Vercel"),
    ("KUBECONFIG", "Kubernetes"),
    ("KUBERNETES_*", "Kubernetes"),
    ("VAULT_*", "HashiCorp Vault"),
    ("CONSUL_*", "HashiCorp Consul"),
    ("NOMAD_*", "HashiCorp Nomad"),
    ("TF_TOKEN_*", "Terraform"),
    ("TF_VAR_*", "Terraform"),
    ("TFE_*", "Terraform Enterprise"),
    ("OP_*", "1Password"),
    ("DOPPLER_*", "Doppler"),
    ("BWS_*", "Bitwarden Secrets Manager"),
    ("SSH_*", "SSH"),
    ("GPG_*", "GnuPG"),
    ("GNUPGHOME", "GnuPG"),
    ("NPM_*", "npm"),
    ("NODE_AUTH_TOKEN", "npm (setup-node)"),
    ("YARN_*", "Yarn"),
    ("PYPI_*", "PyPI"),
    ("TWINE_*", "twine"),
    ("POETRY_*", "Poetry"),
    ("UV_*", "uv"),
    ("PIP_*", "pip"),
    ("CARGO_*", "Cargo"),
    ("GEM_*", "RubyGems"),
    ("NUGET_*", "NuGet"),
    ("DOCKER_*", "Docker"),
    ("HOMEBREW_*", "Homebrew"),
    ("CODECOV_*", "Codecov"),
    ("SONAR_*", "SonarQube"),
    ("SNYK_*", "Snyk"),
    ("SENTRY_*", "Sentry"),
    ("SLACK_*", "Slack"),
)

# Well-known credential variables, as a pattern in okectl.yaml must never reach them: a
# pattern that matches any of these (*_TOKEN, *PASSWORD*, *) would match the tokens of
# tools nobody listed too. Names ending in _SECRET are not among them: that suffix is
# okectl's convention (the default *_SECRET); the ones other tools use are refused by name.
# Every name here is also refused by DENIED_VARIABLES.
CREDENTIAL_NAMES = (
    "GH_TOKEN", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "CI_JOB_TOKEN", "GITLAB_TOKEN", "BUILDKITE_AGENT_TOKEN", "CIRCLE_TOKEN", "RUNNER_TOKEN",
    "NODE_AUTH_TOKEN", "NPM_TOKEN", "YARN_NPM_AUTH_TOKEN", "PYPI_TOKEN", "PYPI_API_TOKEN",
    "TWINE_PASSWORD", "POETRY_PYPI_TOKEN_PYPI", "UV_PUBLISH_TOKEN", "CARGO_REGISTRY_TOKEN",
    "GEM_HOST_API_KEY", "NUGET_API_KEY", "DOCKER_PASSWORD", "DOCKER_AUTH_CONFIG",
    "HOMEBREW_GITHUB_API_TOKEN", "VAULT_TOKEN", "CONSUL_HTTP_TOKEN", "NOMAD_TOKEN",
    "TF_TOKEN_app_terraform_io", "TFE_TOKEN", "OP_SERVICE_ACCOUNT_TOKEN", "DOPPLER_TOKEN",
    "BWS_ACCESS_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "ARM_ACCESS_KEY", "ARM_CLIENT_CERTIFICATE_PASSWORD", "AZURE_STORAGE_KEY",
    "AZURE_DEVOPS_EXT_PAT", "IDENTITY_HEADER", "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CREDENTIALS", "GCP_SERVICE_ACCOUNT_KEY", "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "DIGITALOCEAN_ACCESS_TOKEN", "HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN", "HEROKU_API_KEY",
    "NETLIFY_AUTH_TOKEN", "VERCEL_TOKEN", "KUBECONFIG", "SSH_AUTH_SOCK", "SSH_PRIVATE_KEY",
    "GPG_PRIVATE_KEY", "CODECOV_TOKEN", "SONAR_TOKEN", "SNYK_TOKEN", "SENTRY_AUTH_TOKEN",
    "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL",
)


def denied_owner(name: str) -> str | None:
    """Whose credentials the variable ``name`` holds, when it is one okectl never reads."""
    upper = name.upper()
    return next((owner for pattern, owner in DENIED_VARIABLES if fnmatch.fnmatchcase(upper, pattern)), None)


def env_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` may not stand in ``secrets.env`` of okectl.yaml, or None."""
    # A pattern all of whose names are refused anyway says something false about what
    # okectl reads: name the owner instead.
    owner = denied_owner(pattern.replace("*", "X").replace("?", "X"))
    if owner is not None:
        return f"{pattern!r} names variables of {owner}, which okectl never reads"
    reached = [n for n in CREDENTIAL_NAMES if fnmatch.fnmatchcase(n.upper(), pattern.upper())]
    if reached:
        shown = ", ".join(f"{n} ({denied_owner(n)})" for n in reached[:3])
        more = f" and {len(reached) - 3} more" if len(reached) > 3 else ""
        return (
            f"{pattern!r} is too broad: it matches credentials of other tools, such as {shown}{more}; "
            "name the variables okectl reads, e.g. *_SECRET or DELTA_*_SECRET"
        )
    return None


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
        """Default-deny: only names a pattern of okectl.yaml matches, and never one of
        DENIED_VARIABLES, whatever the patterns say."""
        if denied_owner(name) is not None:
            return False
        return any(fnmatch.fnmatchcase(name, p) for p in self.env_patterns)


def refusal(ref: str, roots: SecretRoots) -> str | None:
    """Why ``ref`` may not be read under these roots, or None when it may be. Checks only
    where the reference points (links resolved), without reading anything."""
    return _checked(ref, roots)[0]


def _checked(ref: str, roots: SecretRoots) -> tuple[str | None, Path | None]:
    """Why ``ref`` may not be read, or None; and for a file, the path that was checked,
    which is the one to open: resolving it again could lead elsewhere by then."""
    kind, _, name = ref.partition(":")
    if kind == "env":
        if not roots.env_allowed(name):
            owner = denied_owner(name)
            if owner is not None:
                return f"secret {ref}: {name} belongs to {owner}; okectl never sends it", None
            return (
                f"secret {ref}: the variable {name} is not one okectl.yaml allows secrets from "
                f"(secrets.env: {', '.join(roots.env_patterns) or 'none'})"
            ), None
        return None, None
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
            ), None
        return None, path
    return f"secret {ref}: not a secret reference (env:NAME or file:PATH)", None


def read_secret(ref: str, roots: SecretRoots) -> str | None:
    """The value behind ``env:NAME`` or ``file:PATH``; None when it is not set.

    Raises SecretRefused for a reference outside what the repository allows, or a file
    that is not a small regular file."""
    why, path = _checked(ref, roots)
    if why is not None:
        raise SecretRefused(why)
    kind, _, name = ref.partition(":")
    if kind == "env":
        return os.environ.get(name) or None
    assert path is not None
    return _read_file(ref, path)


def _file_path(name: str, roots: SecretRoots) -> Path | None:
    """The file a reference names, links resolved (so a link cannot lead out of a root;
    one that stays inside, as in a Kubernetes secret volume, is allowed). The read then
    follows no link at all (see _open_beneath)."""
    if not name or "\x00" in name:
        return None
    raw = Path(name)
    try:
        return (raw if raw.is_absolute() else roots.repo_root / raw).resolve()
    except (OSError, RuntimeError):
        return None


_OPEN = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_OPEN_DIR = _OPEN | getattr(os, "O_DIRECTORY", 0)


def _open_beneath(path: Path) -> int:
    """``path`` opened one component at a time, each relative to the folder opened before
    it and none followed if it is a link. ``path`` was resolved and checked against the
    roots: a link (or anything else) swapped in anywhere along it since is refused, never
    followed, so what is read is what was checked (no check-then-open race).
    O_NONBLOCK: opening a FIFO must not wait for a writer."""
    fd = os.open(path.anchor or "/", _OPEN_DIR)
    try:
        parts = path.parts[1:]
        for i, part in enumerate(parts):
            next_fd = os.open(part, _OPEN if i == len(parts) - 1 else _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_file(ref: str, path: Path) -> str | None:
    try:
        fd = _open_beneath(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SecretRefused(
                f"secret {ref}: {path} changed into a link since it was checked; okectl does not follow it"
            ) from None
        raise SecretRefused(f"secret {ref}: cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretRefused(f"secret {ref}: {path} is not a regular file")
        data = read_fd(fd, MAX_SECRET_FILE_BYTES) if info.st_size <= MAX_SECRET_FILE_BYTES else None
    except OSError as exc:
        raise SecretRefused(f"secret {ref}: cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if data is None:
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
