"""Versioned models in a DataStore, and the one pointer that says which version serves.

A version is a directory ``models/<version>/`` of array files, ``training.json``
and, uploaded last, ``model.json``; a partial upload therefore has no
``model.json`` and can never load. ``models/ACTIVE`` names the serving version
and is replaced atomically, and only after the new version has been read back
and verified: a truncated or corrupt artifact is refused while the previous
version keeps serving. A version that stops verifying after activation (changed
on disk, or corrupt when a worker starts) is replaced by the newest other version
that verifies (:meth:`ModelStore.fallback`), so one bad version never stops serving.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srs.data.store import DataStore, StoreError
from srs.engine.errors import ModelFormatError
from srs.engine.persistence import METADATA_FILE, FileStamps, file_stamps
from srs.engine.recipes.base import Recipe
from srs.engine.recipes.registry import load_model

MODELS_PREFIX = "models/"
ACTIVE_KEY = MODELS_PREFIX + "ACTIVE"
TRAINING_FILE = "training.json"


class NoActiveModelError(ModelFormatError):
    """Nothing has been trained and activated yet."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified model and what training recorded about it."""

    version: str
    recipe: Recipe
    training: dict[str, Any]
    directory: Path | None = None
    stamps: FileStamps = field(default_factory=dict)
    """The directory's files as they were when verification started."""

    def changed(self) -> bool:
        """Whether the verified files were changed since, judged by ``stat`` alone: reading a
        memory-mapped array whose file was truncated kills the process, so this must be asked
        before the arrays are touched again."""
        return self.directory is not None and file_stamps(self.directory) != self.stamps


@dataclass(frozen=True)
class ModelStore:
    """Models under ``models/`` of ``store``; S3 versions are cached in ``cache_dir``."""

    store: DataStore
    cache_dir: Path

    def _key(self, version: str, name: str = "") -> str:
        return f"{MODELS_PREFIX}{version}/{name}"

    def publish(self, model_dir: Path, version: str) -> None:
        """Upload a saved model directory as ``version``; ``model.json`` goes last."""
        files = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        if not any(p.name == METADATA_FILE for p in files):
            raise ModelFormatError(f"{model_dir}: no {METADATA_FILE}, so not a saved SRS model")
        for path in sorted(files, key=lambda p: p.name == METADATA_FILE):
            self.store.put_file(self._key(version, path.name), path)

    def versions(self) -> list[str]:
        """Versions whose upload completed, oldest first (names sort by time)."""
        suffix = "/" + METADATA_FILE
        return sorted(
            key[len(MODELS_PREFIX) : -len(suffix)]
            for key in self.store.list(MODELS_PREFIX)
            if key.endswith(suffix) and key.count("/") == 2
        )

    def local_dir(self, version: str) -> Path:
        """A local directory holding ``version`` (the store's own, or a downloaded copy)."""
        metadata_key = self._key(version, METADATA_FILE)
        direct = self.store.local_path(metadata_key)
        if direct is not None:
            return direct.parent
        target = self.cache_dir / version
        if (target / METADATA_FILE).exists():
            return target
        partial = self.cache_dir / f".{version}.{secrets.token_hex(4)}.partial"
        try:
            for key in self.store.list(self._key(version)):
                self.store.get_file(key, partial / key.rsplit("/", 1)[1])
            partial.replace(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return target

    def load(self, version: str, verify: bool = True) -> LoadedModel:
        """Load and (by default) checksum-verify one version."""
        try:
            directory = self.local_dir(version)
        except StoreError as exc:
            raise ModelFormatError(f"model {version!r}: {exc}") from None
        stamps = file_stamps(directory)
        try:
            recipe = load_model(directory, verify=verify)
        except ModelFormatError as exc:
            raise ModelFormatError(f"model {version!r}: {exc}") from None
        training = _read_training(directory / TRAINING_FILE)
        return LoadedModel(version, recipe, training, directory, stamps)

    def stamps(self, version: str) -> FileStamps:
        """``version``'s files as they are now (empty when they cannot be reached)."""
        try:
            return file_stamps(self.local_dir(version))
        except (StoreError, OSError):
            return {}

    def fallback(self, skip: Collection[str]) -> LoadedModel:
        """The newest version outside ``skip`` that loads and verifies.

        Used when the active version cannot serve: an older good version answering beats a
        service that answers nothing.
        """
        problems: list[str] = []
        for version in reversed(self.versions()):
            if version in skip:
                continue
            try:
                return self.load(version)
            except ModelFormatError as exc:
                problems.append(str(exc))
        raise ModelFormatError(
            "no other model version passes verification"
            + (f" ({'; '.join(problems)})" if problems else "")
        )

    def activate(self, version: str) -> LoadedModel:
        """Verify ``version`` fully, then make it the serving version."""
        loaded = self.load(version, verify=True)
        self.store.put_bytes(ACTIVE_KEY, (version + "\n").encode())
        return loaded

    def active_version(self) -> str | None:
        if not self.store.exists(ACTIVE_KEY):
            return None
        return self.store.get_bytes(ACTIVE_KEY).decode("utf-8").strip() or None

    def load_active(self, verify: bool = True) -> LoadedModel:
        version = self.active_version()
        if version is None:
            raise NoActiveModelError(
                f"no active model ({self.store.uri(ACTIVE_KEY)} is missing); run 'srs train' first"
            )
        return self.load(version, verify=verify)


def _read_training(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path}: unreadable training record ({exc})") from None
    if not isinstance(document, dict):
        raise ModelFormatError(f"{path}: training record is not a JSON object")
    return document
