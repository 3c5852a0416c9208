from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_support import DAY, T0, frame

from srs.engine import (
    UserPersonalization,
    evaluate_model,
    grid_search,
    personalize_task,
    stratified_split,
    tune_recipe,
)
from srs.engine.evaluation.tasks import scoring_input, stratified_task
from srs.engine.evaluation.tuning import DEFAULT_GRIDS, blend_candidates, learn_blend
from srs.engine.recipes.personalization import BLEND_FEATURES


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


def eras(users_per_era: int = 60, seed: int = 0) -> pd.DataFrame:
    """Two eras a year apart, each with its own pool of items, and items used in both: a user's
    shared items do not say which era's items they will use, their dates do."""
    rng = np.random.default_rng(seed)
    shared = [f"shared_{k}" for k in range(4)]
    rows = []
    for era in range(2):
        pool = [f"era{era}_{k}" for k in range(6)]
        for user in range(users_per_era):
            start = T0 + era * 365 * DAY + int(rng.integers(0, 30)) * DAY
            chosen = list(rng.choice(shared, 3, replace=False)) + list(rng.choice(pool, 3, False))
            for step, item in enumerate(chosen):
                rows.append((f"e{era}_{user:02d}", str(item), "launched", 4.0, start + step))
    return frame(rows)


def test_learned_blend_weights_the_feature_that_predicts_and_lifts_ndcg() -> None:
    data = eras()
    tasks = [stratified_task(data, ratio=0.6, seed=seed) for seed in (1, 2)]
    result = learn_blend(tasks, {"l2": 1.0})
    assert list(result.weights) == list(BLEND_FEATURES)
    assert result.weights["window"] > 0
    assert result.weights["window"] == max(result.weights.values(), key=abs)
    assert 0 < result.item_item_ndcg < result.cv_ndcg <= 1

    train, test = stratified_split(data, ratio=0.75, seed=42)
    task = stratified_task(data, ratio=0.75, seed=42)
    plain = evaluate_model(UserPersonalization(l2=1.0).fit(train), task)
    blended = evaluate_model(UserPersonalization(l2=1.0, blend=result.weights).fit(train), task)
    assert blended["ndcg_at_10"] > plain["ndcg_at_10"] + 0.02
    assert len(test) > 0


def test_scoring_input_carries_each_users_input_span() -> None:
    data = eras(users_per_era=5)
    task = stratified_task(data, ratio=0.6, seed=3)
    model = UserPersonalization(l2=1.0).fit(task.fit_frame)
    prepared = scoring_input(model, task)
    first = task.input_frame.groupby("USER_ID")["TIMESTAMP"].min()
    last = task.input_frame.groupby("USER_ID")["TIMESTAMP"].max()
    for row, user in enumerate(prepared.users):
        assert prepared.spans[row].tolist() == [first[user], last[user]]


def test_blend_candidates_taken_in_slices_of_users_are_the_same_as_at_once() -> None:
    tasks = [stratified_task(eras(users_per_era=20), ratio=0.6, seed=4)]
    whole = blend_candidates(tasks, {"l2": 1.0})[0]
    sliced = blend_candidates(tasks, {"l2": 1.0}, scoring_elements=7)[0]  # one user at a time
    assert whole.features.shape[0] > 1
    np.testing.assert_allclose(sliced.features, whole.features, rtol=1e-9)  # batch solves' bits
    for name in ("relevant", "valid", "n_relevant"):
        np.testing.assert_array_equal(getattr(sliced, name), getattr(whole, name), err_msg=name)
