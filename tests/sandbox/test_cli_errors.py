"""`okectl sandbox` failures that are the user's to fix are one clear line, exit 1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from okectl.errors import OkectlError
from okectl.sandbox.server import serve
from okectl.sandbox.store import Store
from tests.support.cli import run_cli

NOT_SQLITE = "these bytes are not an SQLite database, whatever the name says\n" * 20


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err.lower()
    return lines[0]


def test_serve_on_a_port_in_use_is_one_line_exit_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("sandbox", "serve", "--port", str(port), "--db", str(tmp_path / "s.db"))
    assert result.exit_code == 1
    assert _one_line(result.err) == f"cannot listen on 127.0.0.1:{port}: address already in use"
    assert "uvicorn" not in result.err.lower() and "ERROR" not in result.err


def test_serve_on_a_host_that_does_not_resolve_is_one_line_exit_1(tmp_path: Path) -> None:
    result = run_cli("sandbox", "serve", "--host", "no-such-host.invalid", "--db", str(tmp_path / "s.db"))
    assert result.exit_code == 1
    assert _one_line(result.err).startswith("cannot listen on no-such-host.invalid:8765: ")


def test_serving_does_not_touch_the_database_when_it_cannot_listen(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OkectlError, match="address already in use"):
            serve(host="127.0.0.1", port=taken.getsockname()[1], db_path=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize("content", [NOT_SQLITE, "", "SQLite format 3\x00" + "\x07" * 200])
def test_a_file_that_is_not_a_sandbox_database_is_one_line(tmp_path: Path, content: str) -> None:
    db = tmp_path / "sandbox.db"
    db.write_bytes(content.encode("latin-1"))
    if not content:
        # An empty file is a new database: it is simply used.
        Store(db).close()
        return
    expected = f"{db} is not a sandbox database ("
    with pytest.raises(OkectlError) as caught:
        Store(db)
    assert str(caught.value).startswith(expected) and str(caught.value).endswith("; delete it to start over")

    seed = tmp_path / "seed.yaml"
    seed.write_text("suppliers: {}\n")
    result = run_cli("sandbox", "seed", "--db", str(db), str(seed))
    assert result.exit_code == 1
    assert _one_line(result.err).startswith(expected)

    result = run_cli("sandbox", "serve", "--port", "0", "--db", str(db))
    assert result.exit_code == 1
    assert _one_line(result.err).startswith(expected)


def test_a_corrupt_embedded_sandbox_database_is_one_line(example_repo: Path) -> None:
    db = example_repo / ".okectl" / "sandbox.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_text(NOT_SQLITE)
    result = run_cli("plan", "--repo", str(example_repo))
    assert result.exit_code == 1, result.out
    assert "Traceback" not in result.err and "internal error" not in result.err.lower()
    # Every supplier of the repository is served by that database: said once.
    assert result.err.strip().splitlines() == [
        f"{db} is not a sandbox database (file is not a database); delete it to start over"
    ]
