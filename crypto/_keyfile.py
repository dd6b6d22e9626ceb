"""Reading and writing a small secret file: owner-only, atomic and durable.

Writing goes to a temporary file in the same directory, created with
O_CREAT|O_EXCL and mode 0600, fsynced, then moved into place (os.replace, or
os.link when the target must not exist yet), and the directory is fsynced so
the rename survives a power cut. A crash leaves either the old file or the new
one, never a mix; at worst a stray ".<name>.<random>.tmp" (also 0600) remains.

Reading refuses anything but a regular file without group/other permission
bits, checked on the open descriptor (no race between check and read).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from crypto.errors import KeyringFileError

__all__ = ["read_private_file", "write_private_file"]

_MODE = 0o600


def read_private_file(path: Path, max_size: int) -> bytes:
    """Read a file that must be private to its owner.

    Args:
        path: the file.
        max_size: the largest size accepted, in bytes.

    Returns:
        The file's bytes.

    Raises:
        KeyringFileError: missing, not a regular file, group/other permission bits
            set, larger than max_size, or unreadable.
    """
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang the open (refused below).
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyringFileError(path, "missing") from None
    except OSError as exc:
        raise KeyringFileError(path, f"cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyringFileError(path, "not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyringFileError(
                path,
                f"permissions too open ({mode:04o}): group and others must have no access;"
                " run chmod 600 on it",
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > max_size:
                raise KeyringFileError(path, f"malformed: larger than {max_size} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write a file atomically and durably with mode 0600.

    Args:
        path: the file to write.
        data: its new content.
        exclusive: refuse if the file already exists (checked atomically by os.link),
            instead of replacing it.

    Raises:
        KeyringFileError: exclusive and the file already exists, or the directory is
            missing.
        OSError: writing or syncing failed (the temporary file is removed).
    """
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _MODE)
    except FileNotFoundError:
        raise KeyringFileError(path, f"directory {directory} does not exist") from None
    try:
        try:
            os.fchmod(fd, _MODE)  # the umask may only have removed bits; make it exact
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(tmp, path)  # fails if path exists: no race with another writer
            except FileExistsError:
                raise KeyringFileError(path, "already exists") from None
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make a rename or link in directory durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
