"""Secret references cannot be turned against the machine running okectl, and a secret
never comes back out in any form a supplier may echo it in."""

from __future__ import annotations

import base64
import json
import os
import stat
import urllib.parse
from pathlib import Path

import pytest

from okectl.model.redaction import SENSITIVE_TEXT, scrub
from okectl.model.secrets import SecretRefused, SecretRoots, read_secret
from tests.support.cli import Validate, clean_failure, run_cli

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def roots(tmp_path: Path) -> SecretRoots:
    repo = tmp_path / "repo"
    (repo / "secrets").mkdir(parents=True)
    (repo / "secrets" / "delta").write_text("s3cr3t-value\n", encoding="utf-8")
    return SecretRoots.default(repo)


def _link(roots: SecretRoots, name: str, target: str) -> str:
    (roots.repo_root / "secrets" / name).symlink_to(target)
    return f"file:secrets/{name}"


def test_a_file_under_an_allowed_folder_is_read_and_trimmed(roots: SecretRoots) -> None:
    assert read_secret("file:secrets/delta", roots) == "s3cr3t-value"
    assert read_secret(f"file:{roots.repo_root}/secrets/delta", roots) == "s3cr3t-value"
    # A link that stays inside the folder is followed.
    assert read_secret(_link(roots, "alias", "delta"), roots) == "s3cr3t-value"
    assert read_secret("file:secrets/not-there", roots) is None


@pytest.mark.parametrize(
    "ref",
    [
        "file:../../../etc/passwd",
        "file:secrets/../../../../../etc/passwd",
        "file:/etc/passwd",
        "file:/proc/self/environ",
        "file:/dev/zero",
        "file:okectl.yaml",
        "file:",
    ],
)
def test_a_file_outside_the_allowed_folders_is_refused(roots: SecretRoots, ref: str) -> None:
    with pytest.raises(SecretRefused, match=r"is outside the folders okectl.yaml allows secrets from"):
        read_secret(ref, roots)


@pytest.mark.parametrize("target", ["/etc/passwd", "/proc/self/environ", "/dev/zero", "../okectl.yaml"])
def test_a_link_out_of_the_allowed_folder_is_resolved_before_the_check(
    roots: SecretRoots, target: str
) -> None:
    with pytest.raises(SecretRefused, match=r"is outside the folders"):
        read_secret(_link(roots, "innocent", target), roots)


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_waiting_for_a_writer(roots: SecretRoots) -> None:
    os.mkfifo(roots.repo_root / "secrets" / "pipe")
    with pytest.raises(SecretRefused, match=r"is not a regular file"):
        read_secret("file:secrets/pipe", roots)


@pytest.mark.timeout(10)
def test_a_device_inside_the_folder_is_refused(roots: SecretRoots) -> None:
    if not AS_ROOT:
        pytest.skip("making a device node needs root")
    os.mknod(roots.repo_root / "secrets" / "zero", stat.S_IFCHR | 0o644, os.makedev(1, 5))
    with pytest.raises(SecretRefused, match=r"is not a regular file"):
        read_secret("file:secrets/zero", roots)


def test_a_large_or_binary_file_is_refused(roots: SecretRoots) -> None:
    (roots.repo_root / "secrets" / "big").write_bytes(b"x" * 5000)
    (roots.repo_root / "secrets" / "binary").write_bytes(b"\xff\xfe\x00secret")
    (roots.repo_root / "secrets" / "folder").mkdir()
    with pytest.raises(SecretRefused, match=r"is larger than 4096 bytes"):
        read_secret("file:secrets/big", roots)
    with pytest.raises(SecretRefused, match=r"is not UTF-8 text"):
        read_secret("file:secrets/binary", roots)
    with pytest.raises(SecretRefused, match=r"is not a regular file"):
        read_secret("file:secrets/folder", roots)


@pytest.mark.parametrize("name", ["HOME", "PATH", "DELTA_TOKEN"])
def test_a_variable_okectl_yaml_does_not_allow_is_refused(
    roots: SecretRoots, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "not-for-a-supplier")
    with pytest.raises(SecretRefused, match=rf"the variable {name} is not one okectl.yaml allows"):
        read_secret(f"env:{name}", roots)


@pytest.mark.parametrize(
    "name", ["GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "CI_JOB_TOKEN", "AWS_SECRET", "RUNNER_SECRET"]
)
def test_a_ci_systems_variable_is_refused_whatever_okectl_yaml_allows(
    roots: SecretRoots, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull request can change okectl.yaml too: allowing the CI's own tokens there must
    not make them readable."""
    monkeypatch.setenv(name, "ghs_the-ci-token")
    permissive = SecretRoots.of(roots.repo_root, [], [name, "*_SECRET", "*_TOKEN"])
    with pytest.raises(SecretRefused, match=rf"{name} belongs to [^;]+; okectl never sends it"):
        read_secret(f"env:{name}", permissive)


def test_an_empty_value_resolves_to_nothing(roots: SecretRoots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMPTY_SECRET", "")
    (roots.repo_root / "secrets" / "blank").write_text("\n", encoding="utf-8")
    assert read_secret("env:EMPTY_SECRET", roots) is None
    assert read_secret("file:secrets/blank", roots) is None


# --- through the command line ----------------------------------------------------------

def _point_secret(root: Path, ref: str) -> None:
    school = root / "schools" / "99ZZ.yaml"
    text = school.read_text(encoding="utf-8")
    assert "secret: {env: DELTA_SECRET}" in text
    school.write_text(text.replace("secret: {env: DELTA_SECRET}", f"secret: {ref}"), encoding="utf-8")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("{file: ../../../etc/passwd}", "is outside the folders okectl.yaml allows secrets from"),
        ("{file: /proc/self/environ}", "environ is outside the folders"),
        ("{file: /dev/zero}", "/dev/zero is outside the folders"),
        ("{env: GITHUB_TOKEN}", "GITHUB_TOKEN belongs to GitHub Actions; okectl never sends it"),
        ("{env: HOME}", "the variable HOME is not one okectl.yaml allows secrets from"),
    ],
)
def test_validate_refuses_a_reference_at_its_line(
    base_repo: Path, validate: Validate, ref: str, message: str
) -> None:
    _point_secret(base_repo, ref)
    lines = validate(base_repo)
    assert len(lines) == 1 and lines[0].startswith("schools/99ZZ.yaml:14:17: secret "), lines
    assert message in lines[0]
    # Plan refuses before it reads anything, let alone sends it to a supplier.
    assert clean_failure(run_cli("plan", "--repo", str(base_repo))) == lines


def test_a_supplier_api_secret_is_checked_too(base_repo: Path, validate: Validate) -> None:
    path = base_repo / "suppliers" / "delta.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("api: {provider: sandbox}\n", ""), "utf-8")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            "api:\n  provider: http\n  url: https://admin.delta.example\n  auth:\n"
            "    token_url: https://admin.delta.example/token\n    client_id: okectl\n"
            "    client_secret: {file: /proc/self/environ}\n"
        )
    lines = validate(base_repo)
    assert lines == [
        f"suppliers/delta.yaml:12:20: secret file:/proc/self/environ: /proc/{os.getpid()}/environ is "
        "outside the folders okectl.yaml allows secrets from (secrets.files: secrets)"
    ]


def test_okectl_yaml_chooses_the_folders_and_variables(
    base_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder of the repository that git ignores, named in okectl.yaml.
    vault = base_repo / "vault"
    vault.mkdir()
    (vault / "delta").write_text("from-the-vault", encoding="utf-8")
    (base_repo / "okectl.yaml").write_text(
        f"repository: test\nsecrets:\n  files: [{vault}]\n  env: [DELTA_*]\n", encoding="utf-8"
    )
    _point_secret(base_repo, f"{{file: {vault}/delta}}")
    assert run_cli("validate", "--repo", str(base_repo)).exit_code == 0
    _point_secret_back = (base_repo / "schools" / "99ZZ.yaml").read_text(encoding="utf-8")
    (base_repo / "schools" / "99ZZ.yaml").write_text(
        _point_secret_back.replace(f"{{file: {vault}/delta}}", "{file: secrets/delta}"), encoding="utf-8"
    )
    # secrets/ is the default only: a repository that names its folders gets those alone.
    assert "is outside the folders okectl.yaml allows secrets from (secrets.files: " in "\n".join(
        clean_failure(run_cli("validate", "--repo", str(base_repo)))
    )


@pytest.mark.timeout(60)
def test_a_fifo_secret_stops_the_plan_with_one_line(base_repo: Path) -> None:
    (base_repo / "secrets").mkdir()
    os.mkfifo(base_repo / "secrets" / "delta")
    _point_secret(base_repo, "{file: secrets/delta}")
    assert run_cli("validate", "--repo", str(base_repo)).exit_code == 0
    lines = clean_failure(run_cli("plan", "--repo", str(base_repo)))
    assert lines == [f"secret file:secrets/delta: {base_repo / 'secrets' / 'delta'} is not a regular file"]


@pytest.mark.timeout(120)
def test_an_unset_reference_warns_for_existing_clients_and_fails_the_write_that_needs_it(
    base_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DELTA_SECRET", raising=False)
    planned = run_cli("plan", "--repo", str(base_repo))
    assert planned.exit_code in (0, 2), planned.err
    assert (
        "secret reference env:DELTA_SECRET is not set; apply cannot create the 1 client(s) that need it"
        in planned.out + planned.err
    )
    applied = run_cli("apply", "--repo", str(base_repo), "--auto-approve")
    assert applied.exit_code == 1
    assert "client/eduplan (create): secret reference env:DELTA_SECRET is not set" in applied.err
    # The environment and roles exist now; the client still cannot be made, and says so.
    again = run_cli("plan", "--repo", str(base_repo))
    assert "secret reference env:DELTA_SECRET is not set; apply cannot create the 1" in again.out + again.err
    monkeypatch.setenv("DELTA_SECRET", "now-set")
    assert run_cli("apply", "--repo", str(base_repo), "--auto-approve").exit_code == 0
    monkeypatch.delenv("DELTA_SECRET")
    existing = run_cli("plan", "--repo", str(base_repo))
    assert (
        "secret reference env:DELTA_SECRET is not set; the secret of 1 existing client(s) can be "
        "neither compared nor updated" in existing.out + existing.err
    )


# --- redaction --------------------------------------------------------------------------

SECRET = 'Pa ss+wo/rd"é?~>&=x'


def _forms(secret: str) -> dict[str, str]:
    raw = secret.encode("utf-8")
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "url-plus": urllib.parse.quote_plus(secret),
        "url-%20": urllib.parse.quote(secret, safe=""),
        "base64": base64.b64encode(raw).decode(),
        "base64-unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64-url": base64.urlsafe_b64encode(raw).decode(),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
    }


@pytest.mark.parametrize("form", sorted(_forms(SECRET)))
def test_every_echoed_form_of_a_secret_is_redacted(form: str) -> None:
    echoed = _forms(SECRET)[form]
    text = f"refused: {{'client_secret': '{echoed}'}} at line 3"
    scrubbed = scrub(text, [SECRET])
    assert echoed not in scrubbed
    assert scrubbed == f"refused: {{'client_secret': '{SENSITIVE_TEXT}'}} at line 3"


@pytest.mark.parametrize("target", ["/etc", "/proc/self", "outside"])
def test_a_secrets_folder_linked_out_of_the_repository_is_refused(
    base_repo: Path, tmp_path: Path, validate: Validate, target: str
) -> None:
    # Committed as a link, the default folder would otherwise read the machine's own files.
    if target == "outside":
        (tmp_path / "outside").mkdir()
        target = str(tmp_path / "outside")
    (base_repo / "secrets").symlink_to(target)
    lines = validate(base_repo)
    assert len(lines) == 1 and lines[0].startswith("okectl.yaml:1:1: secrets.files[0]: secrets "), lines
    assert "is outside the repository and /run/secrets" in lines[0]
