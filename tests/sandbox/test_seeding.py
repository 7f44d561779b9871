"""One seed, one record: serve and the embedded sandbox start a database the same way, and
neither ever seeds on top of what the other (or anything else) wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from okectl.sandbox.store import Store
from tests.support.cli import run_cli
from tests.support.repos import EXAMPLE_TODAY, PROJECT
from tests.support.serving import free_port


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OKECTL_SANDBOX_URL"}
    return {**env, "OKECTL_TODAY": EXAMPLE_TODAY, "PYTHONPATH": str(PROJECT)}


@contextmanager
def served(repo: Path, *args: str) -> Iterator[str]:
    """`okectl sandbox serve` as a user starts it, in its own process; yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "okectl", "sandbox", "serve", "--port", str(port), "--repo", str(repo)]
    cmd += args
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _okectl(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """okectl in a process of its own, as each command a user runs is (the embedded sandbox
    keeps its database open for the life of a process)."""
    env = _env() if url is None else {**_env(), "OKECTL_SANDBOX_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "okectl", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def _plan(repo: Path, url: str | None = None) -> dict[str, Any]:
    result = _okectl("plan", "--repo", str(repo), "-o", "json", url=url)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _changes(doc: dict[str, Any]) -> tuple[Any, ...]:
    # ETags are digests of documents that carry the time they were written: not compared.
    changes = [(c["address"], c["action"], c.get("adopt"), c["diff"]) for c in doc["changes"]]
    return doc["summary"], json.dumps(changes, sort_keys=True)


def test_serve_on_a_new_database_serves_what_the_embedded_sandbox_starts_with(
    example_repo: Path, tmp_path: Path
) -> None:
    embedded = _plan(example_repo)

    with served(example_repo, "--db", str(tmp_path / "served.db")) as url:
        over_http = _plan(example_repo, url)

    assert _changes(over_http) == _changes(embedded)
    assert over_http["summary"]["in_sync"] > 0  # the seeded situation, not everything created


def test_an_embedded_run_uses_what_serve_wrote_and_never_seeds_on_top(
    example_repo: Path
) -> None:
    fresh = _plan(example_repo)
    (example_repo / ".okectl" / "sandbox.db").unlink()
    for suffix in ("-wal", "-shm"):
        (example_repo / ".okectl" / f"sandbox.db{suffix}").unlink(missing_ok=True)

    # serve on the repository's own (new) database, and apply through it.
    with served(example_repo) as url:
        applied = _okectl("apply", "--repo", str(example_repo), "--auto-approve", url=url)
        after_apply = _plan(example_repo, url)

    embedded = _plan(example_repo)

    assert "created" in applied.stdout, applied.stdout + applied.stderr
    assert _changes(embedded) == _changes(after_apply)
    assert embedded["summary"]["create"] < fresh["summary"]["create"]


def test_data_with_no_record_of_its_seeding_is_refused_until_reset(
    example_repo: Path
) -> None:
    fresh = _plan(example_repo)
    db = example_repo / ".okectl" / "sandbox.db"
    # What an older `okectl sandbox serve` left: an unseeded database something then wrote to.
    db.unlink()
    store = Store(db)
    store.set_supplier("delta-toets", contact_email=None)
    store.add_tenant("delta-toets", "21RC")
    store.close()
    before = db.read_bytes()

    refused = _okectl("plan", "--repo", str(example_repo))

    assert refused.returncode == 1
    assert refused.stderr == (
        f"{db} holds data but no record of being seeded (an older okectl sandbox serve or another tool "
        f"wrote it); okectl will not seed {example_repo.resolve() / 'sandbox' / 'seed.yaml'} on top of it: "
        "reset it with okectl sandbox seed\n"
    )
    assert db.read_bytes() == before

    reset = _okectl("sandbox", "seed", "--repo", str(example_repo))
    assert reset.returncode == 0, reset.stderr
    assert _changes(_plan(example_repo)) == _changes(fresh)


def test_serve_refuses_a_seed_the_database_was_not_seeded_from(example_repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    with served(example_repo, "--db", str(db)):
        pass
    other = tmp_path / "other.yaml"
    other.write_text("suppliers: {}\n")

    result = subprocess.run(
        [sys.executable, "-m", "okectl", "sandbox", "serve", "--port", str(free_port()), "--db", str(db),
         "--seed", str(other), "--repo", str(example_repo)],
        capture_output=True, text=True, env=_env(), timeout=60, check=False,
    )

    seed = example_repo.resolve() / "sandbox" / "seed.yaml"
    assert result.returncode == 1
    assert result.stderr.startswith(f"{db} was seeded from {seed} on 20")
    assert result.stderr.endswith(
        f", not from {other}; okectl will not mix them: reset it with okectl sandbox seed --db {db} {other}\n"
    )
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_seed_resets_what_the_database_held(example_repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    in_sync = run_cli("sandbox", "seed", "--db", str(db), "--in-sync", "--repo", str(example_repo))
    assert in_sync.exit_code == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("suppliers: {}\n")

    assert run_cli("sandbox", "seed", "--db", str(db), str(empty)).exit_code == 0

    store = Store(db)
    try:
        assert store.counts() == {}
        assert store.get_meta("seeded_from") == str(empty.resolve())
    finally:
        store.close()
