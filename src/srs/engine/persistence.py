"""A fitted model on disk: one ``.npy`` file per array plus ``model.json``.

A model whose arrays are small together (up to ``IN_MEMORY_MAX_BYTES``, which the default
recipe stays well under even for large user counts) is read into the worker's own memory. A
memory-mapped file truncated or rewritten in place under a worker kills it with SIGBUS on its
next read of a lost page, before the periodic check can notice the change and fall back; a copy
cannot be taken away, so the worker keeps answering from the version it verified. Larger
models (a dense item-item matrix for a large catalogue) load with ``np.load(mmap_mode="r")``,
so every serving worker maps the same pages read-only instead of holding its own copy; for
them the SIGBUS risk remains and a killed worker restarts on the last good version. Nothing is
pickled: loading a model never runs code from the directory.

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, NoReturn

import numpy as np

from srs.arrays import Array
from srs.atomic import atomic_file
from srs.engine.errors import ModelFormatError

FORMAT: Final = "srs-engine-model"
FORMAT_VERSION: Final = 1
METADATA_FILE: Final = "model.json"
HASH_CHUNK_BYTES: Final = 8 * 1024 * 1024
_ARRAY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
IN_MEMORY_MAX_BYTES: Final = 128 * 1024 * 1024
"""Array bytes of a model up to which each worker holds its own copy (see the docstring)."""


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
    with atomic_file(directory / METADATA_FILE) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True).encode("utf-8"))


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
    directory: Path, verify: bool = True, in_memory_max_bytes: int = IN_MEMORY_MAX_BYTES
) -> tuple[dict[str, Any], dict[str, Array]]:
    """Metadata and read-only arrays of a saved model: copies in memory when their files
    total at most ``in_memory_max_bytes``, memory-mapped otherwise.

    With ``verify`` (the default) every file's SHA-256 is checked against the manifest first.
    """
    directory = Path(directory)
    document = read_metadata(directory)
    paths = {
        str(name): _array_path(directory, str(name), entry)
        for name, entry in document["arrays"].items()
    }
    in_memory = sum(path.stat().st_size for path in paths.values()) <= in_memory_max_bytes
    arrays: dict[str, Array] = {}
    for name, entry in document["arrays"].items():
        arrays[name] = _load_array(paths[str(name)], entry, verify, in_memory)
    return document, arrays


def _array_path(directory: Path, name: str, entry: Any) -> Path:
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
    return path


def _load_array(path: Path, entry: dict[str, Any], verify: bool, in_memory: bool) -> Array:
    if verify and file_sha256(path) != entry["sha256"]:
        raise ModelFormatError(
            f"{path}: SHA-256 does not match {METADATA_FILE}; the file is truncated or corrupted"
        )
    try:
        array: Array = np.load(path, mmap_mode=None if in_memory else "r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelFormatError(f"{path}: not a readable .npy array ({exc})") from None
    if array.dtype.str != entry["dtype"] or list(array.shape) != list(entry["shape"]):
        raise ModelFormatError(
            f"{path}: holds {array.dtype.str} {list(array.shape)}, "
            f"{METADATA_FILE} says {entry['dtype']} {entry['shape']}"
        )
    if in_memory:
        array.setflags(write=False)
        return array
    # A plain ndarray view of the same mapped pages: np.memmap's Python-level __getitem__ would
    # tax every lookup made while serving.
    return np.asarray(array)


FileStamps = dict[str, tuple[int, int]]
"""Each file of a model directory with its size and modification time (nanoseconds)."""


def file_stamps(directory: Path) -> FileStamps:
    """Size and mtime of every file of ``directory``, read without touching any array.

    A worker compares these with the stamps taken when it verified the directory: a file
    changed in place under a memory map can kill the process on the next access, so the
    change has to be noticed by ``stat`` before any mapped page is read again.
    """
    stamps: FileStamps = {}
    try:
        paths = sorted(Path(directory).iterdir())
    except OSError:
        return stamps
    for path in paths:
        if path.name.startswith("."):
            continue
        try:
            status = path.stat()
        except OSError:
            continue
        stamps[path.name] = (status.st_size, status.st_mtime_ns)
    return stamps


def check_layout(directory: Path, arrays: Mapping[str, Array]) -> None:
    """Refuse arrays whose shapes and dtypes cannot belong together.

    Checksums only prove the files are the ones the manifest names; a manifest rewritten to
    match wrong arrays passes them, and would then fail on every request instead of once here.
    """
    where = Path(directory) / METADATA_FILE

    def fail(problem: str) -> NoReturn:
        raise ModelFormatError(f"{where}: {problem}")

    def vector(name: str, length: int | None, kinds: str) -> Array | None:
        array = arrays.get(name)
        if array is None:
            return None
        if array.ndim != 1 or (length is not None and array.shape[0] != length):
            fail(f"array {name!r} has shape {list(array.shape)}, expected [{length}]")
        if array.dtype.kind not in kinds:
            fail(f"array {name!r} has dtype {array.dtype.str}, which does not fit it")
        return array

    item_ids = arrays.get("item_ids")
    if item_ids is None:
        fail("array 'item_ids' is missing")
    if item_ids.ndim != 1 or item_ids.dtype.kind not in "US":
        fail(f"array 'item_ids' is {item_ids.dtype.str} {list(item_ids.shape)}, not a list of ids")
    items = int(item_ids.shape[0])
    if items == 0:
        fail("the catalogue is empty")
    vector("item_names", items, "US")
    vector("popularity", items, "fiu")
    for name in ("recent", "previous", "growth"):
        vector(name, items, "fiu")
    users = vector("user_ids", None, "US")
    if users is not None:
        _check_csr(arrays, "history_", int(users.shape[0]), items, fail)
    if "similarity_indptr" in arrays:
        _check_csr(arrays, "similarity_", items, items, fail)
    weights = arrays.get("item_weights")
    if weights is not None and (weights.shape != (items, items) or weights.dtype.kind != "f"):
        fail(
            f"array 'item_weights' is {weights.dtype.str} {list(weights.shape)}, "
            f"expected floats [{items}, {items}]"
        )
    factors = arrays.get("item_factors")
    if factors is not None and (
        factors.ndim != 2 or factors.shape[0] != items or factors.dtype.kind != "f"
    ):
        fail(f"array 'item_factors' is {factors.dtype.str} {list(factors.shape)}, not {items} rows")


def _check_csr(
    arrays: Mapping[str, Array],
    prefix: str,
    rows: int,
    columns: int,
    fail: Callable[[str], NoReturn],
) -> None:
    names = [prefix + part for part in ("indptr", "indices", "values")]
    missing = [name for name in names if name not in arrays]
    if missing:
        fail(f"array {missing[0]!r} is missing")
    indptr, indices, values = (arrays[name] for name in names)
    if indptr.shape != (rows + 1,) or indptr.dtype.kind not in "iu":
        fail(f"array {names[0]!r} is {indptr.dtype.str} {list(indptr.shape)}, not {rows + 1} long")
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        fail(f"array {names[1]!r} is {indices.dtype.str} {list(indices.shape)}, not positions")
    if values.shape != indices.shape or values.dtype.kind not in "fiu":
        fail(f"array {names[2]!r} is {values.dtype.str} {list(values.shape)}, not {names[1]!r}'s")
    if int(indptr[0]) != 0 or int(indptr[-1]) != indices.shape[0] or np.any(np.diff(indptr) < 0):
        fail(f"array {names[0]!r} does not delimit {names[1]!r}")
    if indices.shape[0] and (int(indices.min()) < 0 or int(indices.max()) >= columns):
        fail(f"array {names[1]!r} points outside the catalogue")
