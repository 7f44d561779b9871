"""okectl against a hostile supplier (tests/support/hostile.py: the sandbox behind a real
server that answers chosen requests with echoes, bombs and trickles), through the real
command line: whatever it sends, okectl ends with one clear line, in bounded time, and no
secret it sent comes back out in any output, log or journal."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from okectl.model.secrets import SecretRefused, SecretRoots, read_secret
from tests.support.cli import CliResult, clean_failure, run_cli
from tests.support.encodings import ENCODINGS, readable
from tests.support.hostile import API_SECRET, Hostility, Served, hostile_supplier
from tests.support.repos import BASE, delta_with, write_tree

# the API client secret (env DELTA_API_SECRET).
CLIENT_SECRET = "cl!ent/s3cret+value=ö&x 123"


@dataclass
class Run:
    served: Served
    root: Path

    def cli(self, *args: str, verbose: tuple[str, ...] = ()) -> CliResult:
        command, *rest = args
        return run_cli(*verbose, command, "--repo", str(self.root), *rest)

    def journal(self) -> str:
        runs = self.root / ".okectl" / "runs"
        return "".join(p.read_text(encoding="utf-8") for p in sorted(runs.glob("*.jsonl")))

    def secrets(self) -> list[str]:
        """Every secret okectl sent this supplier in the run."""
        return [API_SECRET, CLIENT_SECRET, *self.served.issued_tokens]

    def assert_nothing_revealed(self, *texts: str) -> None:
        for secret in self.secrets():
            for text in texts:
                assert not readable(secret, text), (secret, text[:2000])


Start = Callable[..., Run]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """``hostile(Hostility(...), **limits)``: a hostile supplier for delta, and the base
    repository with delta pointed at it (``limits``: its ``api.limits``)."""
    monkeypatch.setenv("DELTA_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DELTA_API_SECRET", API_SECRET)
    with contextlib.ExitStack() as stack:

        def start(hostility: Hostility, **limits: float) -> Run:
            served = stack.enter_context(hostile_supplier(tmp_path / "supplier", hostility))
            files = dict(BASE)
            files["suppliers/delta.yaml"] = delta_with(
                served.supplier_api_yaml("delta", "DELTA_API_SECRET", **limits)
            )
            return Run(served, write_tree(tmp_path / "repo", files))

        yield start


def one_clear_line(result: CliResult) -> str:
    assert result.exit_code == 1, (result.exit_code, result.out, result.err)
    assert "Traceback" not in result.err and "MemoryError" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("supplier delta:")]
    assert len(lines) == 1, result.err
    return lines[0]


# Each form alone (so it leads the one line okectl shows), then all at once.
FORM_GROUPS = [(name,) for name in sorted(ENCODINGS)] + [tuple(ENCODINGS)]


class TestEchoedSecrets:
    """A supplier that echoes the request (its token, the API client secret, a written
    client secret) back in every encoding: nothing of it reaches output, logs or journal."""

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("forms", FORM_GROUPS, ids=lambda f: f[0] if len(f) == 1 else "all-at-once")
    def test_a_read_that_echoes_the_bearer_token(self, hostile: Start, forms: tuple[str, ...]) -> None:
        run = hostile(Hostility("echo", at=r"GET .*/tenants$", forms=forms))
        result = run.cli("plan", verbose=("-vv",))
        line = one_clear_line(result)
        assert "listing tenants failed: 400 Bad Request: Rejected: " in line
        assert len(run.served.issued_tokens) == 1
        run.assert_nothing_revealed(result.out, result.err)

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("status", [401, 400])
    def test_a_token_endpoint_that_echoes_the_client_secret(self, hostile: Start, status: int) -> None:
        run = hostile(Hostility("echo", at=r"POST .*/oauth/token$", status=status))
        result = run.cli("plan", verbose=("-vv", "--log-format", "json"))
        assert f"token request was refused ({status}: Rejected: POST" in one_clear_line(result)
        run.assert_nothing_revealed(result.out, result.err)

    @pytest.mark.timeout(90)
    @pytest.mark.parametrize("status", [400, 412, 500])
    def test_a_write_that_echoes_the_client_secret_it_carries(self, hostile: Start, status: int) -> None:
        run = hostile(Hostility("echo", at=r"PUT .*/clients/", status=status))
        result = run.cli("apply", "--auto-approve", verbose=("-vv", "--log-format", "json"))
        assert result.exit_code == 1 and "Traceback" not in result.err, result.err
        assert "delta/99ZZ/production/client/eduplan" in result.err
        assert "delta/99ZZ/production: created" in result.out
        journal = run.journal()
        assert '"address": "delta/99ZZ/production/client/eduplan"' in journal
        run.assert_nothing_revealed(result.out, result.err, journal)

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("form", ["raw", "json", "base64", "url-%20", "html-decimal", "hex"])
    def test_a_successful_listing_that_carries_the_token(self, hostile: Start, form: str) -> None:
        """Names and labels of a listing go into plans, shown and saved: a document that
        holds a secret okectl sent is not kept."""
        run = hostile(Hostility("echo", at=r"GET .*/resources$", status=200, forms=(form,)))
        result = run.cli("plan", "--output", "json")
        line = one_clear_line(result)
        assert "answered with a document that holds a secret okectl sent it" in line, line
        run.assert_nothing_revealed(result.out, result.err)


BOUNDED_MODES = ["gzip-bomb", "endless", "huge-length", "slow-loris"]


class TestUnboundedAnswers:
    """A supplier whose answer never ends, or ends in 10 GiB: one line, in bounded time."""

    EXPECT: ClassVar[dict[str, str]] = {
        "gzip-bomb": "answered more than the 16 MiB okectl reads once decompressed",
        "endless": "sent more than the 16 MiB okectl reads of an answer",
        "huge-length": "announced an answer of 1.5 GiB, more than the 16 MiB okectl reads",
        "slow-loris": "timed out after 3 s with",
    }

    @pytest.mark.timeout(90)
    @pytest.mark.parametrize("mode", BOUNDED_MODES)
    def test_a_listing(self, hostile: Start, mode: str) -> None:
        run = hostile(Hostility(mode, at=r"GET .*/tenants$"))
        started = time.monotonic()
        line = one_clear_line(run.cli("plan"))
        took = time.monotonic() - started
        assert line.startswith("supplier delta: listing tenants "), line
        assert self.EXPECT[mode] in line, line
        if mode == "slow-loris":
            # A byte every 2 s never resets the 3 s deadline; retries stop within 6 s.
            assert "(api.limits.max_retry_seconds: 6)" in line
            assert took < 20, took
        else:
            assert "(api.limits.max_answer_bytes)" in line
            # Not retried: the same request would get the same answer.
            assert run.served.hit == ["GET /s/delta/tenants"]

    @pytest.mark.timeout(90)
    @pytest.mark.parametrize("mode", BOUNDED_MODES)
    def test_the_token_endpoint(self, hostile: Start, mode: str) -> None:
        run = hostile(Hostility(mode, at=r"POST .*/oauth/token$"))
        line = one_clear_line(run.cli("plan"))
        assert line.startswith("supplier delta: token request "), line
        assert self.EXPECT[mode] in line, line

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("mode", BOUNDED_MODES)
    def test_a_write_is_outcome_unknown(self, hostile: Start, mode: str) -> None:
        run = hostile(Hostility(mode, at=r"PUT .*/roles/"))
        result = run.cli("apply", "--auto-approve")
        assert result.exit_code == 1 and "Traceback" not in result.err, result.err
        [line] = [x for x in result.err.splitlines() if "role/assessor" in x]
        assert self.EXPECT[mode] in line, line
        # The supplier had the write before its answer went wrong: it may have been made.
        assert "An attempt may have been carried out all the same" in line
        assert "delta/99ZZ/production: created" in result.out

    @pytest.mark.timeout(60)
    def test_the_limit_is_a_setting(self, hostile: Start) -> None:
        run = hostile(Hostility("endless", at=r"GET .*/tenants$"), max_answer_bytes=65536)
        line = one_clear_line(run.cli("plan"))
        assert "sent more than the 64 KiB okectl reads of an answer" in line


def test_the_double_echoes_every_form_it_names(tmp_path: Path) -> None:
    """The double itself: every chosen form is in the body, and header-safe ones in headers."""
    import httpx

    with hostile_supplier(tmp_path, Hostility("echo", at="GET /s/delta/tenants")) as served:
        resp = httpx.get(served.api("delta") + "/tenants", headers={"Authorization": "Bearer tok-123456"})
    assert resp.status_code == 400
    echo = resp.json()["echo"]
    assert set(ENCODINGS) <= set(echo)
    assert all(readable("tok-123456", echo[name]) for name in ENCODINGS)
    assert readable("tok-123456", resp.headers["x-echo-base64"])


class TestSecretReferences:
    """A repository (a pull request can change any of it) that points a secret reference
    at CI's or a cloud's credentials, or at a file outside the secrets folder: refused at
    its line, before anything at all is sent to the supplier."""

    DENIED: ClassVar[list[str]] = [
        "ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET", "GH_TOKEN", "NODE_AUTH_TOKEN", "VAULT_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS", "github_token",
    ]

    @staticmethod
    def point_api_secret(run: Run, ref: str) -> None:
        path = run.root / "suppliers" / "delta.yaml"
        text = path.read_text(encoding="utf-8")
        text = text.replace("client_secret: {env: DELTA_API_SECRET}", f"client_secret: {ref}")
        path.write_text(text, encoding="utf-8")

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("name", DENIED)
    def test_a_credential_of_ci_a_cloud_or_a_tool_is_never_read(
        self, hostile: Start, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        run = hostile(Hostility("echo", at="^never$"))
        # Even holding the right value, it is not read: it is not okectl's to send.
        monkeypatch.setenv(name, API_SECRET)
        self.point_api_secret(run, f"{{env: {name}}}")
        line = clean_failure(run.cli("plan"))[0]
        assert line.startswith("suppliers/delta.yaml:"), line
        assert f"secret env:{name}: {name} belongs to " in line and "okectl never sends it" in line
        # okectl.yaml naming it outright is refused at its own line.
        (run.root / "okectl.yaml").write_text(
            f'repository: test\nsecrets:\n  env: ["*_SECRET", "{name}"]\n', encoding="utf-8"
        )
        line = clean_failure(run.cli("plan"))[0]
        assert line.startswith("okectl.yaml:3:") and "which okectl never reads" in line, line
        assert run.served.requests == []

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize(
        "pattern", ["*_TOKEN", "*TOKEN*", "*_KEY", "*PASSWORD*", "KUBE*", "*_SECRET*", "?H_TOKEN"]
    )
    def test_a_pattern_broad_enough_to_reach_other_tools_credentials_is_refused(
        self, hostile: Start, pattern: str
    ) -> None:
        run = hostile(Hostility("echo", at="^never$"))
        (run.root / "okectl.yaml").write_text(
            f'repository: test\nsecrets:\n  env:\n    - "*_SECRET"\n    - "{pattern}"\n', encoding="utf-8"
        )
        [line] = clean_failure(run.cli("validate"))
        assert line.startswith(f"okectl.yaml:5:7: secrets.env[1]: {pattern!r} is too broad: it matches"), line
        assert clean_failure(run.cli("plan")) == [line]
        assert run.served.requests == []

    @pytest.mark.timeout(60)
    def test_a_link_that_stays_in_the_folder_is_read(self, hostile: Start) -> None:
        """The layout of a Kubernetes secret volume: links inside the folder only."""
        run = hostile(Hostility("echo", at="^never$"))
        folder = run.root / "secrets"
        (folder / "..2026_11_28").mkdir(parents=True)
        (folder / "..2026_11_28" / "delta").write_text(API_SECRET + "\n", encoding="utf-8")
        (folder / "..data").symlink_to("..2026_11_28")
        (folder / "delta").symlink_to("..data/delta")
        self.point_api_secret(run, "{file: secrets/delta}")
        result = run.cli("plan")
        assert result.exit_code in (0, 2), result.err
        assert len(run.served.issued_tokens) == 1

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("target", ["outside", "/proc/self/environ", "../okectl.yaml", "loop"])
    def test_a_link_out_of_the_folder_is_refused_before_anything_is_sent(
        self, hostile: Start, tmp_path: Path, target: str
    ) -> None:
        run = hostile(Hostility("echo", at="^never$"))
        folder = run.root / "secrets"
        folder.mkdir()
        if target == "outside":
            # The right secret, in a file outside: still not read.
            (tmp_path / "outside").write_text(API_SECRET, encoding="utf-8")
            target = str(tmp_path / "outside")
        if target == "loop":
            (folder / "other").symlink_to("delta")
            target = "other"
        (folder / "delta").symlink_to(target)
        self.point_api_secret(run, "{file: secrets/delta}")
        [line] = clean_failure(run.cli("plan"))
        assert line.startswith("suppliers/delta.yaml:"), line
        assert "is outside the folders okectl.yaml allows" in line
        assert run.served.requests == []

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize(
        ("make", "message"),
        [
            ("fifo", "is not a regular file"),
            ("folder", "is not a regular file"),
            ("large", "is larger than 4096 bytes"),
            ("binary", "is not UTF-8 text"),
            ("under-a-file", "Not a directory"),
            ("long-name", "File name too long"),
        ],
    )
    def test_every_file_system_refusal_is_one_line(self, hostile: Start, make: str, message: str) -> None:
        run = hostile(Hostility("echo", at="^never$"))
        folder = run.root / "secrets"
        folder.mkdir()
        name = "delta"
        if make == "fifo":
            os.mkfifo(folder / name)
        elif make == "folder":
            (folder / name).mkdir()
        elif make == "large":
            (folder / name).write_bytes(b"x" * 5000)
        elif make == "binary":
            (folder / name).write_bytes(b"\xff\xfe\x00")
        elif make == "under-a-file":
            (folder / name).write_text("a file", encoding="utf-8")
            name = "delta/key"
        else:
            name = "d" * 300
        self.point_api_secret(run, f"{{file: secrets/{name}}}")
        assert run.cli("validate").exit_code == 0
        [line] = clean_failure(run.cli("plan"))
        assert line.startswith(f"secret file:secrets/{name}: ") and message in line, line
        assert run.served.requests == []


@pytest.mark.timeout(60)
def test_a_folder_swapped_for_a_link_while_okectl_reads_is_never_followed(tmp_path: Path) -> None:
    """The check and the read race a process that keeps swapping the folder a secret is in
    for a link to a folder outside: every read gives the secret, nothing, or one refusal,
    never the file outside."""
    repo = tmp_path / "repo"
    inside = repo / "secrets" / "team"
    inside.mkdir(parents=True)
    (inside / "delta").write_text("the-right-secret", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "delta").write_text("a file of the machine", encoding="utf-8")
    roots = SecretRoots.default(repo)
    stop = threading.Event()
    parked = repo / "secrets" / "parked"

    def swap() -> None:
        while not stop.is_set():
            os.rename(inside, parked)
            os.symlink(outside, inside)
            os.unlink(inside)
            os.rename(parked, inside)

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                seen.add(str(read_secret("file:secrets/team/delta", roots)))
            except SecretRefused as exc:
                seen.add(str(exc).split(": ", 1)[1].split(" /")[0])
    finally:
        stop.set()
        swapper.join(timeout=10)
    assert "a file of the machine" not in seen
    assert "the-right-secret" in seen


def _record(**change: object) -> dict[str, object]:
    run: dict[str, object] = {
        "date": "2026-11-20", "level": 3, "passed_level": 3, "status": "pass",
        "okectl_version": "1.0", "environments": ["delta/99ZZ/production"], "drift": {},
    }
    run.update(change)
    return {"supplier": "delta", "oke_versions": {"1.0": run}}


class TestVerificationRecords:
    """okectl's own record of verifications (verification/<supplier>.json) is read as
    hostile input: a record that contradicts itself or the calendar is refused with one
    line naming it, never believed; so is one that is not a record or not a small file."""

    CASES: ClassVar[dict[str, tuple[object, str]]] = {
        "passed-above-level": (_record(level=2, passed_level=4), "OKE 1.0: passed_level 4 is above level 2"),
        "level-out-of-range": (_record(level=5, passed_level=5), "oke_versions.1.0.level: Input should be"),
        "passed-below-range": (_record(passed_level=-2), "oke_versions.1.0.passed_level: Input should"),
        "unknown-status": (_record(status="passed"), "oke_versions.1.0.status: Input should be 'pass'"),
        "failed-yet-passed-all": (_record(status="fail"), "status is fail, yet passed_level 3 is every"),
        "dated-in-the-future": (_record(date="2030-01-01"), "dated 2030-01-01, after today (2026-11-28)"),
        "another-suppliers-environment": (
            _record(environments=["other/99ZZ/production"]), "names an environment of another supplier"
        ),
        "drift-of-an-unverified-environment": (
            _record(drift={"delta/99ZZ/acceptance": "1.0.1"}), "drift names an environment the run did not"
        ),
        "another-suppliers-record": (
            {**_record(), "supplier": "other"}, "the record of 'other', not of delta"
        ),
        "not-a-version": (
            {"oke_versions": {"../1": _record()["oke_versions"]["1.0"]}}, "String should match"
        ),
        "key-twice": ('{"oke_versions": {"1.0": {"level": 4, "level": 1}}}', "the key 'level' appears twice"),
        "nested-too-deep": ("[" * 100_000 + "]" * 100_000, "not a verification record"),
        "too-large": ('{"pad": "' + "x" * (1 << 20) + '"}', "larger than 1,048,576 bytes"),
        "fifo": (None, "not a regular file"),
    }

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("case", sorted(CASES))
    def test_a_record_not_to_be_believed_is_refused_naming_it(self, hostile: Start, case: str) -> None:
        run = hostile(Hostility("echo", at="^never$"))
        content, message = self.CASES[case]
        folder = run.root / "verification"
        folder.mkdir()
        if content is None:
            os.mkfifo(folder / "delta.json")
        else:
            text = content if isinstance(content, str) else json.dumps(content)
            (folder / "delta.json").write_text(text, encoding="utf-8")
        result = run.cli("plan")
        assert result.exit_code == 1 and "Traceback" not in result.err, result.err
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, lines
        assert "verification/delta.json" in lines[0] and message in lines[0], lines[0]
        # The rule that reads it refuses it the same way.
        (run.root / "policies" / "rules.yaml").write_text(
            "rules:\n  - {id: verified, kind: verified}\n", encoding="utf-8"
        )
        checked = run_cli("policy", "check", "--repo", str(run.root))
        assert checked.exit_code == 1 and message in checked.err, checked.err

    @pytest.mark.timeout(60)
    def test_a_record_that_holds_together_is_read(self, hostile: Start) -> None:
        run = hostile(Hostility("echo", at="^never$"))
        (run.root / "verification").mkdir()
        record = _record(drift={"delta/99ZZ/production": "1.0.1"})
        (run.root / "verification" / "delta.json").write_text(json.dumps(record), encoding="utf-8")
        result = run.cli("plan")
        assert result.exit_code in (0, 2), result.err
        assert "1.0.1" in result.out + result.err
