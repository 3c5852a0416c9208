"""The one way SRS replaces a file: a reader sees the old content or the new, never a part.

The content goes to a temp file beside the target (same filesystem, so the rename is atomic),
the file is fsynced before the rename so a crash cannot leave an empty file under the final
name, and the directory is fsynced after it so the new entry itself survives a crash.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".srs-partial"
"""Suffix of in-flight writes: listings skip such files and stale ones may be removed."""


def fsync_directory(directory: Path) -> None:
    """Make a rename durable: without it a crash can lose the new directory entry."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file written by other code (pandas, Arrow) to disk before it is renamed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """A hidden, unique name beside ``path`` that stale clean-ups recognise by its suffix."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")


@contextmanager
def atomic_path(path: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temp path to write; it replaces ``path`` only if the block finishes.

    For writers that need a file name (Arrow, pandas). ``mode`` sets the final permissions;
    without it the file gets 0666 less the umask, as a plain ``open`` would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    # Not mkstemp: its 0600 mode would outlive the rename; 0666 lets the umask decide.
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temp
        if mode is not None:
            temp.chmod(mode)
        fsync_file(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Yield a binary stream whose content replaces ``path`` only if the block finishes."""
    with atomic_path(path) as temp, temp.open("wb") as stream:
        yield stream
        stream.flush()
