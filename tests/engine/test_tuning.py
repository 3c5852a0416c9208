from __future__ import annotations

import pandas as pd
import pytest
from engine_support import T0, frame

from srs.engine import grid_search, personalize_task, tune_recipe
from srs.engine.tuning import DEFAULT_GRIDS


def clustered(users: int = 120) -> pd.DataFrame:
    rows = []
    for user in range(users):
        cluster = user % 2
        for step in range(5):
            item = f"c{cluster}_{(user + step) % 5}"
            rows.append((f"u{user:03d}", item, "launched", 4.0, T0 + 100 * user + step))
    return frame(rows)


def test_grid_search_tries_every_combination_and_keeps_the_best() -> None:
    task = personalize_task(clustered(), seed=0, holdout_users=0.3, holdout_fraction=0.4)
    result = grid_search(
        "user-personalization",
        {"l2": (0.5, 1e6), "diag_weight": (0.0, 1.0)},
        task,
        metric="precision_at_5",
    )
    assert len(result.table) == 4
    assert set(result.table.columns) >= {"l2", "diag_weight", "precision_at_5", "seconds"}
    best_row = result.table.loc[result.table["precision_at_5"].idxmax()]
    assert result.score == pytest.approx(best_row["precision_at_5"])
    assert result.best == {"l2": best_row["l2"], "diag_weight": best_row["diag_weight"]}


def test_tune_recipe_validates_on_users_of_the_training_frame() -> None:
    train = clustered()
    result = tune_recipe("similar-items", train, grid={"popularity_discount": (0.0, 0.5)}, seed=4)
    assert result.recipe == "similar-items"
    assert result.best["popularity_discount"] in (0.0, 0.5)
    assert 0 < result.table["users"].max() <= train["USER_ID"].nunique()


def test_recipes_without_a_grid_keep_their_defaults() -> None:
    result = tune_recipe("popularity-count", clustered())
    assert result.best == {}
    assert "popularity-count" not in DEFAULT_GRIDS
