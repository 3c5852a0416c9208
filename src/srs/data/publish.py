"""How ``srs prepare`` replaces a dataset so that no reader ever sees a mix of two runs.

Renaming five files one by one cannot be atomic: a kill between two renames leaves a new
interactions file beside old items. So each run writes all its files into a fresh staging
directory, fsyncs them and the directory, renames the staging directory to a version, and
then switches one symlink: the dataset directory (``data/dataset``) is a symlink to
``data/.dataset.versions/v-<time>-<random>/``, replaced by one ``os.replace``. Readers keep
opening ``dataset/interactions.csv`` as before and get the old set or the new set; a kill
at any point leaves the symlink naming a complete version. The two newest versions are kept
(the one a running reader may still hold, and the new one); older ones are removed.

Versions, staging directories and the lock live beside the dataset directory rather than in
it, because the dataset directory itself is what gets switched. A run holds an exclusive,
non-blocking ``flock`` on ``.dataset.versions/.lock`` from start to end, so a second
``srs prepare`` on the same directory fails at once instead of silently overwriting the
first; with the lock held, any staging directory or partial file found is a leftover of a
killed run and is removed.

A dataset directory written before versions existed is a plain directory: the first publish
moves it aside as the oldest version and puts the symlink in its place. Between those two
renames the dataset is briefly absent (a reader is told to run ``srs prepare``, it never sees
a mix), and a run killed there is repaired by the next run, which relinks the newest version.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from srs.atomic import TEMP_SUFFIX, fsync_directory, fsync_file
from srs.errors import SourceError, SRSError

VERSIONS_SUFFIX = ".versions"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".staging-"
VERSION_PREFIX = "v-"
KEEP_VERSIONS = 2
# Partial files of runs before versions existed (``.interactions.csv.x.tmp``) and of
# ``srs.atomic``; only hidden ones are touched, so a user's own ``*.tmp`` file is kept.
_PARTIAL_SUFFIXES = (".tmp", TEMP_SUFFIX)


class DatasetBusyError(SRSError):
    """Another ``srs prepare`` holds the dataset's lock."""


def versions_dir(out_dir: Path) -> Path:
    """Where the versions, the staging directories and the lock of ``out_dir`` live."""
    return out_dir.parent / f".{out_dir.name}{VERSIONS_SUFFIX}"


@contextlib.contextmanager
def dataset_lock(out_dir: Path) -> Iterator[None]:
    """Hold the dataset's lock for the block, or fail at once naming the holder's pid."""
    directory = versions_dir(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise DatasetBusyError(
                f"another srs prepare is writing {out_dir} (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


def _versions(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.iterdir()
        if path.name.startswith(VERSION_PREFIX) and path.is_dir() and not path.is_symlink()
    )


def _is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(_PARTIAL_SUFFIXES)


def remove_stale(out_dir: Path) -> None:
    """Remove what killed runs left behind; call only with the lock held.

    Also relinks the newest version when a run was killed while moving a pre-version dataset
    directory aside, so the dataset is never left missing.
    """
    directory = versions_dir(out_dir)
    for path in directory.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
    for parent in (out_dir.parent, out_dir):
        if parent.is_dir():
            for path in parent.iterdir():
                if _is_partial(path) and path.is_file() and not path.is_symlink():
                    path.unlink(missing_ok=True)
    versions = _versions(directory)
    if versions and not out_dir.exists() and not out_dir.is_symlink():
        _link(out_dir, versions[-1])


def check_movable(out_dir: Path, names: Iterable[str]) -> None:
    """Refuse a pre-version dataset directory holding files prepare did not write.

    Moving it aside would hide (and, two runs later, remove) them.
    """
    if out_dir.is_symlink() or not out_dir.is_dir():
        return
    ours = set(names)
    foreign = sorted(
        path.name for path in out_dir.iterdir() if path.name not in ours and not _is_partial(path)
    )
    if foreign:
        raise SourceError(
            f"{out_dir}: holds {', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}, "
            "which srs prepare did not write; move them out of the dataset directory"
        )


def _link(out_dir: Path, version: Path) -> None:
    """Point ``out_dir`` at ``version`` with one atomic rename of a fresh symlink."""
    link = out_dir.parent / f".{out_dir.name}.link-{secrets.token_hex(8)}{TEMP_SUFFIX}"
    os.symlink(os.path.relpath(version, out_dir.parent), link, target_is_directory=True)
    try:
        os.replace(link, out_dir)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    fsync_directory(out_dir.parent)


@dataclass(frozen=True)
class PublishedDataset:
    """A version now being the dataset: its name and each file's path through the dataset."""

    version: str
    files: dict[str, Path]


class Staging:
    """A fresh directory for one run's files, published as a whole or not at all."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.versions = versions_dir(out_dir)
        self.versions.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(dir=self.versions, prefix=STAGING_PREFIX))
        umask = os.umask(0)
        os.umask(umask)
        # mkdtemp's 0700 would keep a server running as another user out of the dataset.
        self.directory.chmod(0o777 & ~umask)

    def path(self, name: str) -> Path:
        return self.directory / name

    def write_text(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def publish(self) -> PublishedDataset:
        """Make the staged files the dataset."""
        names = sorted(path.name for path in self.directory.iterdir())
        for name in names:
            fsync_file(self.path(name))
        fsync_directory(self.directory)
        version = self.versions / f"{VERSION_PREFIX}{time.time_ns():020d}-{secrets.token_hex(4)}"
        os.rename(self.directory, version)
        fsync_directory(self.versions)
        if self.out_dir.is_dir() and not self.out_dir.is_symlink():
            legacy = self.versions / f"{VERSION_PREFIX}{0:020d}-{secrets.token_hex(4)}"
            os.rename(self.out_dir, legacy)
        _link(self.out_dir, version)
        self._prune(version)
        return PublishedDataset(version.name, {name: self.out_dir / name for name in names})

    def _prune(self, current: Path) -> None:
        for old in _versions(self.versions)[:-KEEP_VERSIONS]:
            if old != current:
                shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def publish_copy(out_dir: Path, files: Mapping[str, Path]) -> PublishedDataset:
    """Publish copies of a dataset written elsewhere (``srs prepare --out``) as a new version
    of ``out_dir``, under its lock: copying them one by one into the dataset would change the
    version readers hold."""
    with staged(out_dir, files) as pending:
        for name, path in files.items():
            shutil.copyfile(path, pending.path(name))
        return pending.publish()


@contextlib.contextmanager
def staged(out_dir: Path, names: Iterable[str]) -> Iterator[Staging]:
    """Lock ``out_dir``, clear stale leftovers, and yield a staging area for one run.

    Files not published by the end of the block are removed; the dataset is untouched.
    """
    with dataset_lock(out_dir):
        remove_stale(out_dir)
        check_movable(out_dir, names)
        staging = Staging(out_dir)
        try:
            yield staging
        finally:
            staging.discard()
