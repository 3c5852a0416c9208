"""A fitted model on disk: one ``.npy`` file per array plus ``model.json``.

``.npy`` files load with ``np.load(mmap_mode="r")``, so every serving worker maps the same pages
read-only instead of holding its own copy of a 400 MB item-item matrix. Nothing is pickled:
loading a model never runs code from the directory.

``model.json`` is written last (through a temporary file and an atomic rename), so a directory
whose writing was interrupted has no metadata and is refused. It lists every array with its
dtype, shape and the SHA-256 of its file; loading re-hashes the files and refuses any mismatch,
which catches truncated copies and flipped bits before a worker serves from them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from srs.engine.errors import ModelFormatError

FORMAT: Final = "srs-engine-model"
FORMAT_VERSION: Final = 1
METADATA_FILE: Final = "model.json"
HASH_CHUNK_BYTES: Final = 8 * 1024 * 1024
_ARRAY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

Array = npt.NDArray[Any]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def save_model_files(
    directory: Path, arrays: Mapping[str, Array], metadata: Mapping[str, Any]
) -> None:
    """Write ``arrays`` and ``metadata`` (JSON-serialisable) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, Any]] = {}
    for name, array in arrays.items():
        if not _ARRAY_NAME.match(name):
            raise ValueError(f"array name {name!r} is not a safe file name")
        if array.dtype.hasobject:
            raise ValueError(f"array {name!r} holds Python objects, which cannot be saved")
        path = directory / f"{name}.npy"
        with path.open("wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        manifest[name] = {
            "file": path.name,
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "sha256": file_sha256(path),
        }
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **dict(metadata),
        "arrays": manifest,
    }
    handle_fd, temporary = tempfile.mkstemp(dir=directory, prefix=".model-", suffix=".json")
    try:
        with os.fdopen(handle_fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, directory / METADATA_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_metadata(directory: Path) -> dict[str, Any]:
    """The checked ``model.json`` of ``directory``."""
    path = Path(directory) / METADATA_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFormatError(
            f"{directory}: no {METADATA_FILE}, so not a saved SRS model"
        ) from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not an SRS engine model (format is not {FORMAT!r})")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path}: model format version {version!r}, this engine reads version {FORMAT_VERSION}"
        )
    if not isinstance(document.get("arrays"), dict):
        raise ModelFormatError(f"{path}: the 'arrays' manifest is missing")
    return document


def load_model_files(
    directory: Path, verify: bool = True
) -> tuple[dict[str, Any], dict[str, Array]]:
    """Metadata and read-only arrays of a saved model, backed by memory-mapped files.

    With ``verify`` (the default) every file's SHA-256 is checked against the manifest first.
    """
    directory = Path(directory)
    document = read_metadata(directory)
    arrays: dict[str, Array] = {}
    for name, entry in document["arrays"].items():
        arrays[name] = _load_array(directory, str(name), entry, verify)
    return document, arrays


def _load_array(directory: Path, name: str, entry: Any, verify: bool) -> Array:
    if not isinstance(entry, dict) or not {"file", "dtype", "shape", "sha256"} <= set(entry):
        raise ModelFormatError(
            f"{directory / METADATA_FILE}: manifest entry {name!r} is incomplete"
        )
    file_name = str(entry["file"])
    if Path(file_name).name != file_name or not _ARRAY_NAME.match(name):
        raise ModelFormatError(
            f"{directory / METADATA_FILE}: array {name!r} has an unsafe file name"
        )
    path = directory / file_name
    if not path.is_file():
        raise ModelFormatError(f"{path}: array file is missing")
    if verify and file_sha256(path) != entry["sha256"]:
        raise ModelFormatError(
            f"{path}: SHA-256 does not match {METADATA_FILE}; the file is truncated or corrupted"
        )
    try:
        array: Array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelFormatError(f"{path}: not a readable .npy array ({exc})") from None
    if array.dtype.str != entry["dtype"] or list(array.shape) != list(entry["shape"]):
        raise ModelFormatError(
            f"{path}: holds {array.dtype.str} {list(array.shape)}, "
            f"{METADATA_FILE} says {entry['dtype']} {entry['shape']}"
        )
    # A plain ndarray view of the same mapped pages: np.memmap's Python-level __getitem__ would
    # tax every lookup made while serving.
    return np.asarray(array)
