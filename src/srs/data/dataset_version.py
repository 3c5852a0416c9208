"""Which version of the prepared dataset a reader reads, and publishing one to an object store.

A read of the dataset takes several files (interactions, items), opened one after the other.
If each open looked up "the current dataset" by itself, a publish landing between two opens
would hand the reader new interactions beside old items. So a reader resolves the version
once (``current_dataset``) and takes every file of that read from the ``DatasetVersion`` it
got back.

On a local store the dataset directory is a symlink to its version (``srs.data.publish``):
resolving it once names the version's own directory, which a later publish does not touch.

An object store has no symlinks and uploads file by file, so ``publish_to_store`` writes
each run under its own keys (``dataset/<version>/...``) and only then replaces the one small
object ``dataset/CURRENT`` that names the version; a PUT is atomic, so readers see the old
name or the new one. A run interrupted before that switch leaves CURRENT on the old version.
The previous version is kept for readers still holding it; older versions, and uploads of
interrupted runs older than the new one, are removed. Versions newer than the one being
published (a concurrent run elsewhere) are left alone.

A store written before versions existed holds the files flat under ``dataset/`` and no
CURRENT; readers then read the flat files, and the first versioned publish keeps them as the
previous version until the next one removes them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from srs.config import DATASET_PREFIX
from srs.data.prepare import ITEMS_FILE, OUTPUT_FILES
from srs.data.publish import VERSION_PREFIX, PublishedDataset, publish_copy
from srs.data.store import DataStore, KeyNotFoundError, StoreError, read_store_csv

CURRENT_NAME = "CURRENT"
CURRENT_KEY = DATASET_PREFIX + CURRENT_NAME
_VERSION_NAME = re.compile(rf"{re.escape(VERSION_PREFIX)}[0-9A-Za-z-]+")


@dataclass(frozen=True)
class DatasetVersion:
    """One published dataset: every file of one read comes from here."""

    prefix: str

    def key(self, name: str) -> str:
        return self.prefix + name


FLAT = DatasetVersion(DATASET_PREFIX)


def _local_version(link: Path) -> DatasetVersion:
    """The version directory the dataset symlink names now, as a key of the same store."""
    if not link.is_symlink():
        return FLAT
    root = link.parent.resolve()
    target = link.resolve()
    if not target.is_relative_to(root) or target == root:
        return FLAT
    return DatasetVersion(target.relative_to(root).as_posix() + "/")


def _read_current(store: DataStore) -> str | None:
    try:
        text = store.get_bytes(CURRENT_KEY).decode("utf-8", "replace").strip()
    except KeyNotFoundError:
        return None
    if not _VERSION_NAME.fullmatch(text):
        raise StoreError(
            f"{store.uri(CURRENT_KEY)} names {text[:80]!r}, not a dataset version; "
            "run 'srs prepare' again"
        )
    return text


def current_dataset(store: DataStore) -> DatasetVersion:
    """Resolve the published dataset once; read all files of one read through the result."""
    link = store.local_path(DATASET_PREFIX.rstrip("/"))
    if link is not None:
        return _local_version(link)
    version = _read_current(store)
    return FLAT if version is None else DatasetVersion(f"{DATASET_PREFIX}{version}/")


def read_items(store: DataStore, dataset: DatasetVersion) -> pd.DataFrame:
    """The items table of ``dataset`` with every cell as text: ids and descriptions are
    names, so none may turn into a number, and an empty cell stays empty rather than NaN."""
    return read_store_csv(store, dataset.key(ITEMS_FILE), dtype=str, keep_default_na=False)


def publish_to_store(store: DataStore, version: str, files: Mapping[str, Path]) -> dict[str, str]:
    """Upload one prepared dataset under its version, then switch CURRENT to it.

    Returns each file's URI. Call with the dataset's lock held (``srs.data.publish``).
    """
    if not _VERSION_NAME.fullmatch(version):
        raise StoreError(f"{version!r} is not a dataset version name")
    prefix = f"{DATASET_PREFIX}{version}/"
    for name, path in sorted(files.items()):
        store.put_file(prefix + name, path)
    previous = _read_current(store)
    store.put_bytes(CURRENT_KEY, f"{version}\n".encode())
    _prune(store, version, previous)
    return {name: store.uri(prefix + name) for name in sorted(files)}


def publish_to(store: DataStore, published: PublishedDataset, out_dir: Path) -> dict[str, str]:
    """Make a dataset just published in ``out_dir`` the store's; returns each file's URI.

    An object store gets it under its version and CURRENT; a local store whose dataset
    directory is ``out_dir`` has it already; a local store elsewhere (``--out``) gets a copy
    published as a version of its own. Call with ``out_dir``'s lock held.
    """
    link = store.local_path(DATASET_PREFIX.rstrip("/"))
    if link is None:
        return publish_to_store(store, published.version, published.files)
    if _location(link) != _location(out_dir):
        publish_copy(link, published.files)
    return {name: store.uri(DATASET_PREFIX + name) for name in sorted(published.files)}


def _location(path: Path) -> Path:
    """Where a directory entry is, its last component (maybe a symlink) left unresolved."""
    return Path(os.path.realpath(path.parent)) / path.name


def _prune(store: DataStore, current: str, previous: str | None) -> None:
    kept = {current, previous}
    for key in store.list(DATASET_PREFIX):
        parts = key[len(DATASET_PREFIX) :].split("/")
        if len(parts) == 1:
            # Flat files of the layout before versions: the previous version until the next.
            if previous is not None and parts[0] in OUTPUT_FILES:
                store.delete(key)
        elif _VERSION_NAME.fullmatch(parts[0]) and parts[0] not in kept and parts[0] < current:
            store.delete(key)
