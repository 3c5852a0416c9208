from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from engine_support import items_frame, planted

from srs.engine import (
    EventWeights,
    HistoryEvent,
    ModelFormatError,
    NotFittedError,
    Recipe,
    create_recipe,
    load_model,
)
from srs.engine.persistence import METADATA_FILE, load_model_files

RECIPES = [
    ("user-personalization", {}),
    ("user-personalization", {"algorithm": "item-knn"}),
    (
        "user-personalization",
        {
            "category_weight": 0.1,
            "time_weight": 0.05,
            "blend": {"item_item": 0.5, "factors": 0.3, "popularity": -0.1, "window": 0.2},
        },
    ),
    ("personalized-ranking", {}),
    ("similar-items", {"popularity_discount": 0.25}),
    ("popularity-count", {}),
    ("trending-now", {"window_days": 3.0}),
]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return planted()


def saved(tmp_path: Path, data: pd.DataFrame, name: str = "user-personalization") -> Path:
    weights = EventWeights(half_life_days=90.0, aggregate="sum")
    create_recipe(name, weights).fit(data, items_frame()).save(tmp_path / "model")
    return tmp_path / "model"


def answers(model: Recipe) -> tuple[object, ...]:
    return (
        model.recommend("serverless_00", num_results=5),
        model.recommend("nobody", events=[HistoryEvent("ec2", "launched", 5.0)], num_results=5),
        model.similar_items("s3", num_results=3),
        model.rank("infra_00", ["vpc", "s3", "unknown"]),
    )


@pytest.mark.parametrize(("name", "params"), RECIPES)
def test_a_loaded_model_answers_exactly_as_the_fitted_one(
    tmp_path: Path, data: pd.DataFrame, name: str, params: dict[str, object]
) -> None:
    fitted = create_recipe(name, None, **params).fit(data, items_frame())
    fitted.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(fitted)
    assert loaded.hyperparameters() == fitted.hyperparameters()
    assert answers(loaded) == answers(fitted)


def test_small_models_are_copied_large_ones_mapped_both_read_only_and_metadata_is_recorded(
    tmp_path: Path, data: pd.DataFrame
) -> None:
    directory = saved(tmp_path, data)
    loaded = load_model(directory)
    assert not isinstance(loaded.item_ids.base, np.memmap)
    assert not loaded.item_ids.flags.writeable
    _, mapped = load_model_files(directory, in_memory_max_bytes=0)
    assert all(isinstance(array.base, np.memmap) for array in mapped.values())
    assert not any(array.flags.writeable for array in mapped.values())
    metadata = json.loads((tmp_path / "model" / METADATA_FILE).read_text())
    assert metadata["recipe"] == "user-personalization"
    assert metadata["event_weights"]["aggregate"] == "sum"
    assert metadata["stats"]["training_seconds"] >= 0
    assert set(metadata["arrays"]) >= {"item_ids", "item_weights", "user_ids"}
    assert all(len(entry["sha256"]) == 64 for entry in metadata["arrays"].values())
    assert loaded.weights == EventWeights(half_life_days=90.0, aggregate="sum")


def test_a_corrupted_array_is_refused(tmp_path: Path, data: pd.DataFrame) -> None:
    directory = saved(tmp_path, data)
    path = directory / "item_weights.npy"
    content = bytearray(path.read_bytes())
    content[-3] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(ModelFormatError, match=r"item_weights\.npy: SHA-256 does not match"):
        load_model(directory)


def test_a_truncated_array_is_refused_even_without_hash_checks(
    tmp_path: Path, data: pd.DataFrame
) -> None:
    directory = saved(tmp_path, data)
    path = directory / "item_weights.npy"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ModelFormatError, match="truncated or corrupted"):
        load_model(directory)
    with pytest.raises(ModelFormatError, match=r"item_weights\.npy: not a readable \.npy array"):
        load_model(directory, verify=False)


def test_a_missing_array_file_is_refused(tmp_path: Path, data: pd.DataFrame) -> None:
    directory = saved(tmp_path, data)
    (directory / "popularity.npy").unlink()
    with pytest.raises(ModelFormatError, match=r"popularity\.npy: array file is missing"):
        load_model(directory)


def test_a_directory_without_metadata_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match=r"no model\.json"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"format_version": 1', '"format_version": 99'), "version 99"),
        (lambda text: text.replace('"srs-engine-model"', '"other"'), "not an SRS engine model"),
        (
            lambda text: text.replace('"recipe": "user-personalization"', '"recipe": "hrnn"'),
            "unknown recipe 'hrnn'",
        ),
        (lambda text: text.replace('"l2": 1.0', '"l2": -1.0'), "settings are invalid"),
    ],
)
def test_damaged_metadata_is_refused_with_the_reason(
    tmp_path: Path, data: pd.DataFrame, change: object, message: str
) -> None:
    directory = saved(tmp_path, data)
    path = directory / METADATA_FILE
    path.write_text(change(path.read_text()))  # type: ignore[operator]
    with pytest.raises(ModelFormatError, match=message):
        load_model(directory)


def test_saving_an_unfitted_recipe_fails(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        create_recipe().save(tmp_path / "model")
    assert not (tmp_path / "model").exists()
