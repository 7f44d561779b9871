"""Writing files safely: everything okectl writes goes through here.

A file is written to a temporary file created exclusively (``O_EXCL``, never following a
link) in the target's own folder, flushed, then renamed over the target in one step. So a
reader sees the old file or the new one, never half of one; a link planted at a guessable
temporary name is never followed; and a target that is not a regular file (a device, a
FIFO, a folder, a link) is refused rather than replaced.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from okectl.errors import OkectlError


class UnsafeWrite(OkectlError):
    """A file okectl was asked to write cannot be written safely."""


def read_regular(path: Path, *, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else (a FIFO, a
    device, a folder, a larger file) is one clear error, and a FIFO never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise OkectlError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OkectlError(f"{path}: cannot read {what}: not a regular file")
        data = read_fd(fd, limit)
    except OSError as exc:
        raise OkectlError(f"{path}: cannot read {what}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if data is None:
        raise OkectlError(f"{path}: cannot read {what}: larger than {limit:,} bytes")
    return data


def read_fd(fd: int, limit: int) -> bytes | None:
    """What an open file holds, or None when it holds more than ``limit`` bytes: read to
    one byte past the limit at most, whatever its size said (a file can grow meanwhile).
    OSError is the caller's to report; the descriptor stays open."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def check_target(path: Path) -> None:
    """Refuse a target that exists and is not a regular file (checked without following links)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UnsafeWrite(f"{path}: cannot write: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeWrite(f"{path}: is a symbolic link; okectl does not write through links")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeWrite(f"{path}: exists and is not a regular file; refusing to replace it")


def replace_file(path: Path, data: str | bytes, *, what: str = "the file") -> None:
    """Write ``path`` with write_atomic, keeping the permissions of the file it replaces."""
    try:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        mode = 0o644
    except OSError as exc:
        raise UnsafeWrite(f"{path}: cannot write {what}: {exc.strerror}") from None
    write_atomic(path, data, what=what, mode=mode)


def write_atomic(
    path: Path, data: str | bytes, *, what: str = "the file", mode: int = 0o644, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically (see the module's description).

    ``durable=False`` skips flushing to disk: for many files of a new folder, whose loss
    in a crash costs nothing but running the command again."""
    check_target(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent if str(path.parent) else Path(".")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, flags, mode)
    except OSError as exc:
        raise UnsafeWrite(f"{path}: cannot write {what}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        # Checked again just before the rename: the target may have been swapped meanwhile.
        check_target(path)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise UnsafeWrite(f"{path}: cannot write {what}: {exc.strerror}") from None
        raise


def state_folder(root: Path, rel: Path) -> Path:
    """``root/rel`` as a real folder inside the repository (created when missing), for
    okectl's own state (journals, the apply lock, the embedded sandbox). A component that
    is a link or not a folder is refused: state is never written somewhere a link points."""
    folder = root
    for part in rel.parts:
        folder = folder / part
        try:
            os.mkdir(folder, 0o755)
        except FileExistsError:
            pass
        except OSError as exc:
            raise UnsafeWrite(f"{folder}: cannot create okectl's state folder: {exc.strerror}") from None
        info = os.lstat(folder)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            kind = "a link" if stat.S_ISLNK(info.st_mode) else "not a folder"
            raise UnsafeWrite(f"{folder}: is {kind}; okectl keeps its state only in a real folder here")
    return folder
