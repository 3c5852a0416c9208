"""A version that stops verifying is refused at load, and the store offers the newest good one."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_support import items_frame, planted

from srs.data.store import LocalStore
from srs.engine import EventWeights, ModelFormatError, create_recipe, load_model
from srs.engine.model_store import ModelStore
from srs.engine.persistence import METADATA_FILE, file_sha256

OLD, NEW = "20260101T000000Z-aaaaaaaa", "20260102T000000Z-bbbbbbbb"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return planted()


@pytest.fixture
def store(tmp_path: Path, data: pd.DataFrame) -> ModelStore:
    saved = tmp_path / "saved"
    create_recipe("user-personalization", EventWeights(half_life_days=90.0)).fit(
        data, items_frame()
    ).save(saved)
    models = ModelStore(LocalStore(tmp_path / "store"), tmp_path / "cache")
    models.publish(saved, OLD)
    models.publish(saved, NEW)
    models.activate(NEW)
    return models


def version_dir(models: ModelStore, version: str) -> Path:
    return models.local_dir(version)


def forge(directory: Path, name: str, array: np.ndarray) -> None:
    """Replace an array and rewrite the manifest so its checksum, shape and dtype match."""
    path = directory / f"{name}.npy"
    np.save(path, array, allow_pickle=False)
    manifest = json.loads((directory / METADATA_FILE).read_text())
    manifest["arrays"][name].update(
        dtype=array.dtype.str, shape=list(array.shape), sha256=file_sha256(path)
    )
    (directory / METADATA_FILE).write_text(json.dumps(manifest))


def largest_array(directory: Path) -> Path:
    return max(directory.glob("*.npy"), key=lambda path: path.stat().st_size)


def test_checksums_rewritten_for_wrong_shape_weights_are_refused_at_load(
    store: ModelStore,
) -> None:
    directory = version_dir(store, NEW)
    forge(directory, "item_weights", np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(ModelFormatError, match=f"{NEW}.*item_weights"):
        store.load(NEW)


def test_checksums_rewritten_for_a_wrong_dtype_history_are_refused_at_load(
    store: ModelStore,
) -> None:
    directory = version_dir(store, NEW)
    indices = np.load(directory / "history_indices.npy")
    forge(directory, "history_indices", indices.astype(np.float64))
    with pytest.raises(ModelFormatError, match="history_indices"):
        load_model(directory)


def test_history_positions_outside_the_catalogue_are_refused(store: ModelStore) -> None:
    directory = version_dir(store, NEW)
    indices = np.load(directory / "history_indices.npy").copy()
    indices[0] = 10_000
    forge(directory, "history_indices", indices)
    with pytest.raises(ModelFormatError, match="outside the catalogue"):
        store.load(NEW)


def test_a_model_that_cannot_answer_is_refused_naming_the_version(store: ModelStore) -> None:
    directory = version_dir(store, NEW)
    manifest = json.loads((directory / METADATA_FILE).read_text())
    manifest["state"]["temperature"] = "hot"
    (directory / METADATA_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match=NEW):
        store.load(NEW)


def test_fallback_is_the_newest_other_version_that_verifies(store: ModelStore) -> None:
    os.truncate(largest_array(version_dir(store, NEW)), 1000)
    assert store.fallback({NEW}).version == OLD
    os.truncate(largest_array(version_dir(store, OLD)), 1000)
    with pytest.raises(ModelFormatError, match="no other model version passes"):
        store.fallback({NEW})


def test_a_loaded_model_notices_its_files_changing_by_stat_alone(store: ModelStore) -> None:
    loaded = store.load(NEW)
    assert not loaded.changed()
    shutil.copy(version_dir(store, OLD) / METADATA_FILE, version_dir(store, NEW) / "extra.json")
    assert loaded.changed()
