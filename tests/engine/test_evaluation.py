from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from engine_support import T0, frame, planted

from srs.engine import (
    PERSONALIZE_METRICS,
    RECOMMENDERS_METRICS,
    EvaluationTask,
    create_recipe,
    evaluate_model,
    evaluate_recipes,
    personalize_task,
    stratified_task,
)
from srs.engine.evaluation.tuning import choose_parameters


def clustered(users: int = 150, seed: int = 0) -> pd.DataFrame:
    """Users of three clusters touch their cluster's items in time order; two global items too."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        cluster = user % 3
        items = [f"c{cluster}_{n}" for n in range(6)] + ["global_a", "global_b"]
        chosen = rng.choice(items, size=6, replace=False)
        rows += [
            (f"u{user:03d}", item, "launched", 4.0, T0 + 1000 * user + step)
            for step, item in enumerate(chosen)
        ]
    return frame(rows)


def test_user_personalization_beats_popularity_on_structured_data() -> None:
    data = clustered()
    task = personalize_task(data, seed=1, holdout_users=0.3, holdout_fraction=0.3)
    personal = evaluate_model(create_recipe().fit(task.fit_frame), task)
    popular = evaluate_model(create_recipe("popularity-count").fit(task.fit_frame), task)
    key = "normalized_discounted_cumulative_gain_at_10"
    assert personal[key] > popular[key] + 0.1
    assert set(PERSONALIZE_METRICS) | set(RECOMMENDERS_METRICS) <= set(personal)


def test_input_items_are_neither_recommended_nor_relevant() -> None:
    fit = planted()
    given = frame([("new", "s3", "launched", 4.0, T0), ("new", "lambda", "launched", 4.0, T0)])
    truth = frame(
        [("new", "s3", "launched", 4.0, T0 + 1), ("new", "dynamo", "viewed", 4.0, T0 + 2)]
    )
    result = evaluate_model(create_recipe().fit(fit), EvaluationTask(fit, given, truth))
    assert result["users"] == 1.0
    assert result["precision_at_5"] == pytest.approx(0.2)  # dynamo, the one relevant item
    assert result["mean_reciprocal_rank_at_25"] == pytest.approx(1.0)
    only_seen = frame([("new", "s3", "launched", 4.0, T0 + 1)])
    assert evaluate_model(create_recipe().fit(fit), EvaluationTask(fit, given, only_seen)) == {
        "users": 0.0
    }


def test_truth_items_unknown_to_the_model_still_count_as_relevant() -> None:
    fit = planted()
    given = frame([("new", "s3", "launched", 4.0, T0)])
    truth = frame(
        [("new", "lambda", "viewed", 4.0, T0 + 1), ("new", "quantum", "viewed", 4.0, T0 + 1)]
    )
    result = evaluate_model(create_recipe().fit(fit), EvaluationTask(fit, given, truth))
    assert result["recall_at_10"] == pytest.approx(0.5)


def test_users_without_input_are_scored_as_unknown_users() -> None:
    fit = planted()
    truth = frame([("stranger", "console", "viewed", 3.0, T0)])
    empty = frame([])
    result = evaluate_model(create_recipe().fit(fit), EvaluationTask(fit, empty, truth))
    assert result["mean_reciprocal_rank_at_25"] == pytest.approx(1.0)  # console is most popular


def test_stratified_task_scores_training_users_on_their_held_out_rows() -> None:
    data = clustered(users=60)
    task = stratified_task(data, ratio=0.75, seed=42)
    assert task.input_frame is task.fit_frame
    result = evaluate_model(create_recipe().fit(task.fit_frame), task)
    assert 0 < result["map"] <= 1
    assert result["users"] == task.truth_frame["USER_ID"].nunique()


def test_evaluate_recipes_compares_every_recipe_with_popularity_first() -> None:
    table = evaluate_recipes(
        clustered(), recipes=["user-personalization", "similar-items"], tune=False, seed=1
    )
    assert table.index.tolist() == ["popularity-count", "user-personalization", "similar-items"]
    assert set(PERSONALIZE_METRICS) <= set(table.columns)
    lift = table["lift"].astype(float)
    assert lift["popularity-count"] == pytest.approx(1.0)
    assert lift["user-personalization"] > 1.0
    assert (table["training_seconds"] >= 0).all()


def test_evaluate_recipes_tunes_on_the_training_part_only() -> None:
    data = clustered()
    table = evaluate_recipes(data, recipes={"user-personalization": {"algorithm": "ease"}}, seed=1)
    chosen = json.loads(str(table["hyperparameters"]["user-personalization"]))
    training_part = personalize_task(data, seed=1).fit_frame
    expected = choose_parameters("user-personalization", training_part, seed=2).parameters
    assert chosen == {**expected, "algorithm": "ease"}
