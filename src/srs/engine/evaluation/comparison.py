"""``evaluate_recipes``: all recipes on one Personalize-style split, popularity the baseline."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pandas as pd

from srs.engine.evaluation.tasks import evaluate_model, personalize_task
from srs.engine.evaluation.tuning import (
    DEFAULT_METRIC,
    SEARCH_STAGES,
    choose_parameters,
    default_weighting,
    event_weights,
)
from srs.engine.recipes.popularity_count import PopularityCount
from srs.engine.recipes.registry import create_recipe
from srs.engine.weights import EventWeights

BASELINE: Final = PopularityCount.name
DEFAULT_RECIPES: Final = (BASELINE, "user-personalization", "similar-items", "trending-now")
LIFT_METRIC: Final = DEFAULT_METRIC


def evaluate_recipes(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None = None,
    recipes: Sequence[str] | Mapping[str, Mapping[str, Any]] = DEFAULT_RECIPES,
    *,
    tune: bool = True,
    weights: EventWeights | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per recipe: Personalize's metrics, Recommenders' metrics, training seconds.

    ``recipes`` lists names, or maps names to fixed hyperparameters. popularity-count is always
    evaluated, first, as the baseline; ``lift`` is each recipe's nDCG@10 over the baseline's.
    With ``tune``, each recipe's settings are chosen as ``srs train`` chooses them
    (``tuning.choose_parameters``, on folds of the training part only; fixed hyperparameters
    stay as given), then it is refitted on the whole training part.
    """
    chosen: dict[str, dict[str, Any]] = (
        {name: dict(params) for name, params in recipes.items()}
        if isinstance(recipes, Mapping)
        else {name: {} for name in recipes}
    )
    ordered = {BASELINE: chosen.pop(BASELINE, {}), **chosen}
    task = personalize_task(interactions, seed=seed)
    rows: list[dict[str, Any]] = []
    for name, fixed in ordered.items():
        params = dict(fixed)
        recipe_weights = weights or event_weights(default_weighting(task.fit_frame))
        if tune and SEARCH_STAGES.get(name):
            choice = choose_parameters(name, task.fit_frame, items=items, seed=seed + 1)
            params = {**choice.parameters, **fixed}
            recipe_weights = weights or choice.weights
        started = time.perf_counter()
        model = create_recipe(name, recipe_weights, **params).fit(task.fit_frame, items)
        seconds = time.perf_counter() - started
        rows.append(
            {
                "recipe": name,
                **evaluate_model(model, task),
                "training_seconds": seconds,
                "hyperparameters": json.dumps(params, sort_keys=True),
            }
        )
    table = pd.DataFrame(rows).set_index("recipe")
    baseline = float(table[LIFT_METRIC].iloc[0])
    table["lift"] = table[LIFT_METRIC] / baseline if baseline > 0 else float("nan")
    return table
