"""Secrets: where a reference may read a value from, and how a value is kept out of output.

A secret is only ever a reference in the repository (``env:NAME`` or ``file:PATH``). This
is the one place that turns a reference into a value, and the one place that hides a
value again wherever it might be echoed.
"""

from __future__ import annotations

import base64
import errno
import fnmatch
import functools
import html
import html.entities
import json
import os
import re
import stat
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from okectl.errors import OkectlError
from okectl.files import read_fd
from okectl.model.resources import SENSITIVE, Kind

SENSITIVE_TEXT = "(sensitive)"
SENSITIVE_CHANGE = "(sensitive) changed"
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


# --- scrubbing: a secret never comes back out, in any form a supplier may echo it in ------
#
# Two steps, so that no form is missed however it is written:
#
# 1. Detection over decoded views. The text is decoded step by step (backslash escapes such
#    as \uXXXX and \/, HTML entities, percent-encoding), round after round until nothing
#    changes, and every view on the way is searched for each secret's forms: the value,
#    base64 (standard and URL-safe, the value at each of the three byte offsets a prefix can
#    put it at, so base64 of "Authorization: Bearer <token>" is found), hex, and those of
#    its URL-encoded, JSON- and HTML-escaped spellings (a form body, a JSON body encoded
#    whole). Whitespace is ignored inside base64 and hex (wrapped lines).
# 2. Cutting out. Each form found is matched in the original text with a pattern that
#    accepts each character in any of its escapes (%2F, &#47;, &sol;, \u002f, \/, …); a
#    base64 match is widened to its whole run, whose edge characters carry bits of the
#    value too. The result is checked again, and a text that still reveals a secret (a
#    form only nested decoding shows, such as a value URL-encoded twice) is withheld whole.
#
# A value shorter than MIN_SCRUB_CHARS is no secret worth the name, and its encoded forms
# are a handful of characters that occur in unrelated text (four base64 characters match
# one word in ~17 million): it is hidden only where it stands as a whole word, raw or
# escaped. Secrets okectl sends are expected to be far longer (an OAuth client secret or
# an access token).

MIN_SCRUB_CHARS = 6
WITHHELD_TEXT = f"{SENSITIVE_TEXT} withheld whole: it echoes a secret in a form okectl cannot cut out"

_B64_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_CHARS = frozenset(_B64_STD + "-_=")
# Characters a base64 run may be written with once escaped (JSON's \/, URL-encoding).
_B64_ESCAPES = ("\\/", "%2B", "%2b", "%2F", "%2f", "%3D", "%3d")
# Between two characters of a base64 or hex form: wrapped lines, raw or JSON-escaped.
_GAP = r"(?:\s|\\[rnt])*"
_BACKSLASH = re.compile(
    r"\\u([0-9a-fA-F]{4})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?|\\x([0-9a-fA-F]{2})|\\([\\/\"'bfnrt])"
)
_SHORT_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MAX_ROUNDS = 4


def _unbackslash_one(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        high = int(m.group(1), 16)
        if m.group(2) is not None and 0xD800 <= high < 0xDC00:
            low = int(m.group(2), 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        return chr(high) + (chr(int(m.group(2), 16)) if m.group(2) is not None else "")
    if m.group(3) is not None:
        return chr(int(m.group(3), 16))
    c = m.group(4)
    return _SHORT_ESCAPES.get(c, c)


# Backslash escapes other than \" and \\: those two alone change nothing a search needs, as
# each secret's JSON spelling is searched as it is (and a JSON body has them in every ETag).
_RARE_ESCAPE = re.compile(r"\\[uUxX/bfnrt]")


def _unbackslash(text: str) -> str:
    if "\\" not in text or not _RARE_ESCAPE.search(text):
        return text
    return _BACKSLASH.sub(_unbackslash_one, text)


def _compact(text: str) -> str:
    # str.replace, not a regular expression: this runs over whole answers.
    for c in " \r\n\t\f\v":
        if c in text:
            text = text.replace(c, "")
    return text


def _unpercent(text: str) -> str:
    return urllib.parse.unquote(text) if "%" in text else text


def _unentity(text: str) -> str:
    return html.unescape(text) if "&" in text else text


_DECODERS = (_unbackslash, _unentity, _unpercent)


def _views(text: str) -> list[str]:
    """The text and every decoding of it on the way to a fixed point."""
    views = [text]
    current = text
    for _ in range(_MAX_ROUNDS):
        before = current
        for decode in _DECODERS:
            decoded = decode(current)
            if decoded != current:
                views.append(decoded)
                current = decoded
        if current == before:
            break
    return views


@functools.cache
def _entity_names() -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {}
    for name, value in html.entities.html5.items():
        if len(value) == 1:
            names.setdefault(value, []).append(name)
    return {c: tuple(n) for c, n in names.items()}


def _char_pattern(c: str) -> str:
    """Every way one character may be written in echoed text, as a regular expression."""
    code = ord(c)
    forms = [re.escape(c)]
    utf8 = c.encode("utf-8", "surrogatepass")
    forms.append("(?i:" + "".join(f"%{b:02x}" for b in utf8) + ")")
    if c == " ":
        forms.append(r"\+")
    forms.append(f"&#0*{code};?")
    forms.append(f"(?i:&#x0*{code:x};?)")
    forms.extend(re.escape("&" + name) for name in _entity_names().get(c, ()))
    # Backslash escapes, themselves escaped any number of times (\\u0041 in a raw JSON body).
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(f"(?i:\\\\+u{high:04x}\\\\+u{low:04x})")
    else:
        forms.append(f"(?i:\\\\+u{code:04x})")
    if code < 0x100:
        forms.append(f"(?i:\\\\+x{code:02x})")
    if c in "\\/\"'":
        forms.append("\\\\+" + re.escape(c))
    short = {v: k for k, v in _SHORT_ESCAPES.items()}.get(c)
    if short is not None:
        forms.append("\\\\+" + short)
    return "(?:" + "|".join(forms) + ")"


def _spellings(secret: str) -> tuple[str, ...]:
    """What a request may carry a value as before a supplier encodes it again: the value,
    URL-encoded (a form or query), JSON- or HTML-escaped (a JSON or HTML body)."""
    quoted = urllib.parse.quote(secret, safe="")
    forms = (
        secret,
        urllib.parse.quote_plus(secret),
        quoted,
        urllib.parse.quote(secret, safe="/"),
        re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quoted),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        html.escape(secret),
    )
    return tuple(dict.fromkeys(forms))


def _base64_cores(data: bytes) -> list[str]:
    """For each of the three byte offsets ``data`` can start at in a longer string, the
    base64 characters that depend on ``data`` alone (standard and URL-safe alphabets)."""
    cores: list[str] = []
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data).decode("ascii")
        # Character i holds bits 6i..6i+5: it is the value's alone when those bits lie
        # within the value's bytes (from bit 8k to bit 8(k+len)).
        start, end = -(-8 * k // 6), 8 * (k + len(data)) // 6
        core = encoded[start:end]
        cores.append(core)
        cores.append(core.replace("+", "-").replace("/", "_"))
    return cores


@dataclass(frozen=True, slots=True)
class _Forms:
    """One secret's forms, computed once per value (see the section's comment)."""

    plain: tuple[str, ...]  # searched in every view
    compact: tuple[str, ...]  # base64, searched in views without whitespace
    hexes: tuple[str, ...]  # lower-case hex, searched in lower-cased compact views
    word: re.Pattern[str] | None  # a short value: as a whole word only

    def found_in(self, views: list[str], compact: list[str]) -> list[str]:
        if self.word is not None:
            return ["word"] if any(self.word.search(v) for v in views) else []
        found = [f for f in self.plain if any(f in v for v in views)]
        found += [f for f in self.compact if any(f in v for v in compact)]
        if self.hexes:
            lowered = [v.lower() for v in compact]
            found += [f for f in self.hexes if any(f in v for v in lowered)]
        return found


@functools.lru_cache(maxsize=4096)
def _forms(secret: str) -> _Forms:
    if len(secret) < MIN_SCRUB_CHARS:
        edge = r"[A-Za-z0-9]"
        word = re.compile(f"(?<!{edge}){re.escape(secret)}(?!{edge})")
        return _Forms((), (), (), word)
    spellings = _spellings(secret)
    plain = tuple(dict.fromkeys((*spellings, secret.replace(" ", "+"))))
    compact: list[str] = []
    hexes: list[str] = []
    for s in spellings:
        data = s.encode("utf-8", "surrogatepass")
        compact.extend(_base64_cores(data))
        hexes.append(data.hex())
    return _Forms(plain, tuple(dict.fromkeys(compact)), tuple(dict.fromkeys(hexes)), None)


@functools.lru_cache(maxsize=16384)
def _cut_pattern(form: str, kind: str) -> re.Pattern[str]:
    """``form`` with each character in any of its escapes; in base64 and hex, with line
    breaks between characters, and hex in either case."""
    if kind == "hex":
        parts = [
            f"(?:{_char_pattern(c)}|{_char_pattern(c.upper())})" if c.isalpha() else _char_pattern(c)
            for c in form
        ]
    else:
        parts = [_char_pattern(c) for c in form]
    return re.compile((_GAP if kind != "plain" else "").join(parts))


def _widen_base64(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole base64 run around text[start:end]: its edge characters carry bits of the
    value too."""
    while start > 0:
        if text[start - 1] in _B64_CHARS:
            start -= 1
        elif text[max(0, start - 2):start] == "\\/":
            start -= 2
        elif text[max(0, start - 3):start] in _B64_ESCAPES:
            start -= 3
        else:
            break
    n = len(text)
    while end < n:
        if text[end] in _B64_CHARS:
            end += 1
        elif text.startswith("\\/", end):
            end += 2
        elif text[end:end + 3] in _B64_ESCAPES:
            end += 3
        else:
            break
    return start, end


class Scrubber:
    """Hides a fixed set of secrets in any text, in every form a supplier may echo them
    in. Build one per set of secrets and call it on every text: each value's forms are
    computed once (and cached across scrubbers)."""

    __slots__ = ("_forms", "_secrets")

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = tuple(dict.fromkeys(s for s in secrets if s))
        self._forms = tuple(_forms(s) for s in self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def with_secrets(self, more: Iterable[str | None]) -> Scrubber:
        """A scrubber that hides these values as well."""
        return Scrubber((*self._secrets, *more))

    def reveals(self, text: str) -> bool:
        """Whether ``text`` shows any of the secrets, in any form this scrubber knows."""
        return bool(self._found(text))

    def _found(self, text: str) -> list[tuple[_Forms, list[str]]]:
        if not self._forms or not text:
            return []
        views = _views(text)
        compact = [_compact(v) for v in views]
        found = []
        for forms in self._forms:
            hits = forms.found_in(views, compact)
            if hits:
                found.append((forms, hits))
        return found

    def __call__(self, text: str) -> str:
        found = self._found(text)
        if not found:
            return text
        spans: list[tuple[int, int]] = []
        for forms, hits in found:
            if forms.word is not None:
                spans.extend(m.span() for m in forms.word.finditer(text))
                continue
            for form in hits:
                kind = "b64" if form in forms.compact else "hex" if form in forms.hexes else "plain"
                for m in _cut_pattern(form, kind).finditer(text):
                    spans.append(_widen_base64(text, *m.span()) if kind == "b64" else m.span())
        out = _replace(text, spans)
        # Checked again: a form only nested decoding shows is not cut out above.
        return WITHHELD_TEXT if self._found(out) else out


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (overlapping or touching ones as one) replaced by the marker."""
    parts: list[str] = []
    pos = 0
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        parts.append(text[pos:start])
        parts.append(SENSITIVE_TEXT)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by the marker, in any form it may be echoed in
    (see Scrubber; build one Scrubber for many texts)."""
    return Scrubber(secrets)(text)
