"""Hyperparameter search on a validation split carved out of the training data only.

:func:`tune_recipe` never sees a test split: it receives the training rows, applies
Personalize's protocol to *them* (holding out some training users' newest interactions as
validation truth), and grid-searches on that. The caller then refits the chosen setting on all
its training rows and measures on its own test split. :func:`grid_search` takes any
:class:`EvaluationTask`, so a benchmark with another protocol (MovieLens' stratified split)
carves its validation task its own way and reuses the same search.

EASE's ``l2`` is relative to the Gram diagonal (``ease.py``), so a value chosen on the smaller
validation fit transfers to the full training set without rescaling.

:func:`learn_blend` learns user-personalization's blend weights the same way: on validation
tasks only, with the blending module's cross-validated listwise fit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from srs.engine.base import catalogue_ids
from srs.engine.blending import Candidates, candidates, choose_weights, ndcg_of_blend
from srs.engine.evaluation import (
    EvaluationTask,
    ScoringInput,
    evaluate_model,
    personalize_task,
    scoring_input,
)
from srs.engine.matrix import build_matrix
from srs.engine.personalization import BLEND_FEATURES, UserPersonalization
from srs.engine.registry import create_recipe
from srs.engine.weights import EventWeights

DEFAULT_METRIC: Final = "normalized_discounted_cumulative_gain_at_10"
BLEND_CANDIDATES: Final = 50
"""Each validation user's top items (by the item-item model) the blend learns to re-order."""
SEARCH_CALIBRATION_USERS: Final = 200
"""Temperatures do not change rankings, so candidates calibrate on a small sample (faster)."""

Grid = Mapping[str, Sequence[Any]]
DEFAULT_GRIDS: Final[Mapping[str, Grid]] = {
    "user-personalization": {
        "l2": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
        "diag_weight": (0.0, 0.5, 1.0, 2.0),
        "popularity_exponent": (-0.1, 0.0, 0.1),
    },
    "similar-items": {"popularity_discount": (0.0, 0.25, 0.5, 0.75, 1.0)},
    "trending-now": {"window_days": (1.0, 3.0, 7.0, 14.0)},
}


@dataclass(frozen=True)
class TuningResult:
    """The best setting found, its validation score, and every candidate's metrics."""

    recipe: str
    best: dict[str, Any]
    metric: str
    score: float
    table: pd.DataFrame


def grid_search(
    recipe: str,
    grid: Grid,
    task: EvaluationTask,
    *,
    metric: str = DEFAULT_METRIC,
    items: pd.DataFrame | None = None,
    weights: EventWeights | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> TuningResult:
    """Fit and evaluate every combination of ``grid`` on ``task``; the best maximises ``metric``
    (ties: the first in grid order). ``fixed`` holds settings shared by all candidates.

    The interaction matrix and the scoring input are built once and shared by all candidates
    (event weights are fixed for one search; search over weights with one search per setting).
    """
    names = list(grid)
    rows: list[dict[str, Any]] = []
    best: dict[str, Any] = {}
    best_score = float("-inf")
    shared = dict(fixed or {})
    if recipe == "user-personalization" or recipe == "personalized-ranking":
        shared.setdefault("calibration_users", SEARCH_CALIBRATION_USERS)
    data = build_matrix(task.fit_frame, weights or EventWeights(), catalogue_ids(items))
    prepared: ScoringInput | None = None
    for values in itertools.product(*(grid[name] for name in names)):
        candidate = dict(zip(names, values, strict=True))
        started = time.perf_counter()
        model = create_recipe(recipe, weights, **shared, **candidate)
        model.fit_matrix(data, task.fit_frame, items)
        prepared = scoring_input(model, task) if prepared is None else prepared
        measured = evaluate_model(model, task, prepared=prepared)
        rows.append({**candidate, **measured, "seconds": time.perf_counter() - started})
        if measured.get(metric, float("-inf")) > best_score:
            best_score, best = measured[metric], candidate
    return TuningResult(recipe, best, metric, best_score, pd.DataFrame(rows))


def tune_recipe(
    recipe: str,
    train: pd.DataFrame,
    *,
    grid: Grid | None = None,
    metric: str = DEFAULT_METRIC,
    seed: int = 0,
    items: pd.DataFrame | None = None,
    weights: EventWeights | None = None,
) -> TuningResult:
    """Grid-search ``recipe`` on a Personalize-style validation split of ``train`` alone."""
    search = DEFAULT_GRIDS.get(recipe, {}) if grid is None else grid
    validation = personalize_task(train, seed=seed)
    return grid_search(recipe, search, validation, metric=metric, items=items, weights=weights)


@dataclass(frozen=True)
class BlendResult:
    """Learned blend weights (by feature name) and their cross-validated nDCG@10, beside the
    nDCG@10 of the same candidates in the item-item model's own order."""

    weights: dict[str, float]
    l2: float
    cv_ndcg: float
    item_item_ndcg: float


def learn_blend(
    tasks: Sequence[EvaluationTask],
    params: Mapping[str, Any] | None = None,
    *,
    weights: EventWeights | None = None,
    items: pd.DataFrame | None = None,
    count: int = BLEND_CANDIDATES,
) -> BlendResult:
    """Blend weights for user-personalization with ``params``, learned on validation ``tasks``.

    Each task's model is fitted with every feature switched on, its validation users' features
    are computed as requests compute them, and the candidates of all tasks are pooled into one
    listwise fit (``blending.choose_weights``).
    """
    every = {name: 1.0 for name in BLEND_FEATURES}
    pooled: list[Candidates] = []
    for task in tasks:
        settings = {**dict(params or {}), "calibration_users": SEARCH_CALIBRATION_USERS}
        model = UserPersonalization(weights=weights, **settings, blend=every)
        model.fit(task.fit_frame, items)
        prepared = scoring_input(model, task)
        base, features = model.blend_features(prepared.histories, prepared.spans)
        pooled.append(
            candidates(
                base,
                [features[name] for name in BLEND_FEATURES],
                stored_entries(prepared.histories),
                prepared.relevant.toarray() > 0,
                prepared.n_relevant,
                count,
            )
        )
    merged = concatenate_candidates(pooled)
    choice = choose_weights(merged)
    item_item_only = np.asarray([float(name == "item_item") for name in BLEND_FEATURES])
    return BlendResult(
        {name: float(value) for name, value in zip(BLEND_FEATURES, choice.weights, strict=True)},
        choice.l2,
        choice.cv_ndcg,
        ndcg_of_blend(merged, item_item_only),
    )


def stored_entries(histories: sp.csr_matrix) -> np.ndarray:
    """Dense mask of the stored entries (what a request treats as the user's seen items)."""
    seen = np.zeros(histories.shape, dtype=bool)
    rows = np.repeat(np.arange(histories.shape[0]), np.diff(histories.indptr))
    seen[rows, histories.indices] = True
    return seen


def concatenate_candidates(parts: Sequence[Candidates]) -> Candidates:
    """Users of several tasks in one set; shorter candidate lists are padded as not valid."""
    width = max(part.valid.shape[1] for part in parts)

    def padded(array: np.ndarray, fill: Any) -> np.ndarray:
        extra = [(0, 0), (0, width - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
        return np.pad(array, extra, constant_values=fill)

    return Candidates(
        features=np.concatenate([padded(part.features, 0.0) for part in parts]),
        relevant=np.concatenate([padded(part.relevant, False) for part in parts]),
        valid=np.concatenate([padded(part.valid, False) for part in parts]),
        n_relevant=np.concatenate([part.n_relevant for part in parts]),
    )
