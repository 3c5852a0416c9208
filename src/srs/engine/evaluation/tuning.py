"""Choosing settings on validation data carved out of the training data only.

:func:`choose_parameters` is what ``srs train`` and ``srs evaluate`` run: a coordinate search
over the recipe's settings and the event weighting on the folds of ``validation.py``, moving
away from a default only when a value wins by more than the folds disagree. :func:`judge_blend`
decides user-personalization's blend on the same folds, out of fold.

:func:`grid_search` scores every combination of a grid on any :class:`EvaluationTask`; the
MovieLens benchmark uses it with its own protocol. :func:`tune_recipe` is that grid on a
Personalize-style split, kept for callers of the engine API.

EASE's ``l2`` is relative to the Gram diagonal (``ease.py``), so a value chosen on the smaller
validation fit transfers to the full training set without rescaling.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from srs.engine.catalogue import catalogue_ids
from srs.engine.ease import fit_cost, gram_route_cost
from srs.engine.evaluation.blending import Candidates, candidates, choose_weights, ndcg_of_blend
from srs.engine.evaluation.tasks import (
    EvaluationTask,
    ScoringInput,
    evaluate_model,
    personalize_task,
    scoring_input,
)
from srs.engine.evaluation.validation import (
    COSTLY_DATA_FOLDS,
    COSTLY_DATA_VALIDATION_USERS,
    FOLDS,
    Comparison,
    TimestampReport,
    compare,
    timestamp_report,
    validation_folds,
)
from srs.engine.item_signals import CATEGORY
from srs.engine.matrix import EVENT_TYPE, EVENT_VALUE, ITEM_ID, USER_ID, build_matrix
from srs.engine.recipes.personalization import BLEND_FEATURES, UserPersonalization
from srs.engine.recipes.registry import create_recipe
from srs.engine.weights import EventWeights, value_scale_of

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
    return _blend_result(
        concatenate_candidates(
            blend_candidates(tasks, params, weights=weights, items=items, count=count)
        )
    )


def judge_blend(
    tasks: Sequence[EvaluationTask],
    params: Mapping[str, Any] | None = None,
    *,
    weights: EventWeights | None = None,
    items: pd.DataFrame | None = None,
    count: int = BLEND_CANDIDATES,
) -> tuple[BlendResult, Comparison]:
    """:func:`learn_blend`, plus the blend's gain over the item-item order fold by fold: the
    weights learnt on the other folds, scored on each one. A blend costs several times the
    training and request time, so it has to win by more than the folds disagree."""
    parts = blend_candidates(tasks, params, weights=weights, items=items, count=count)
    item_item_only = np.asarray([float(name == "item_item") for name in BLEND_FEATURES])
    blended, plain = [], []
    for index, part in enumerate(parts):
        others = [other for position, other in enumerate(parts) if position != index]
        if not others:
            break
        learnt = choose_weights(concatenate_candidates(others))
        blended.append(ndcg_of_blend(part, learnt.weights))
        plain.append(ndcg_of_blend(part, item_item_only))
    return _blend_result(concatenate_candidates(parts)), compare(blended, plain)


BLEND_SCORING_ELEMENTS: Final = 4_000_000
"""Users × items scored at once while collecting blend candidates: every feature is a dense
users × items array, so a large catalogue's users are taken in slices to bound memory."""


def blend_candidates(
    tasks: Sequence[EvaluationTask],
    params: Mapping[str, Any] | None = None,
    *,
    weights: EventWeights | None = None,
    items: pd.DataFrame | None = None,
    count: int = BLEND_CANDIDATES,
    scoring_elements: int = BLEND_SCORING_ELEMENTS,
) -> list[Candidates]:
    """Each task's validation users' top ``count`` candidates with every blend feature."""
    every = {name: 1.0 for name in BLEND_FEATURES}
    pooled: list[Candidates] = []
    for task in tasks:
        settings = {**dict(params or {}), "calibration_users": SEARCH_CALIBRATION_USERS}
        model = UserPersonalization(weights=weights, **settings, blend=every)
        model.fit(task.fit_frame, items)
        prepared = scoring_input(model, task)
        rows = max(1, scoring_elements // max(len(model.catalogue), 1))
        chunks = []
        for start in range(0, prepared.histories.shape[0], rows):
            part = slice(start, start + rows)
            histories = prepared.histories[part]
            base, features = model.blend_features(histories, prepared.spans[part])
            chunks.append(
                candidates(
                    base,
                    [features[name] for name in BLEND_FEATURES],
                    stored_entries(histories),
                    prepared.relevant[part].toarray() > 0,
                    prepared.n_relevant[part],
                    count,
                )
            )
        pooled.append(concatenate_candidates(chunks))
    return pooled


def _blend_result(merged: Candidates) -> BlendResult:
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


NEGATIVE_FEEDBACK: Final = "negative_feedback"
"""Whether the training data's low ratings and "not interested" sign the histories
(``weights.negative_history``); data where every rating means "used it" says no. Feedback
recorded by SRS itself is signed either way."""
VALUE_OFFSET: Final = "value_offset"
"""How much an event's value scales its weight (``weights.py``): 0 in full, 2 compressed."""
VALUE_SCALE: Final = "value_scale"
"""Ratings scale a weight by their ratio to 3, counts by their log (``weights.py``)."""
WEIGHTING: Final = {NEGATIVE_FEEDBACK: True, VALUE_OFFSET: 0.0, VALUE_SCALE: "ratio"}
"""The event weighting's searched settings, at their defaults."""
ITEM_ITEM_STAGES: Final = (
    (NEGATIVE_FEEDBACK, (True, False)),
    (VALUE_SCALE, ("ratio", "log", "none")),
    (VALUE_OFFSET, (0.0, 2.0)),
    ("l2", (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)),
    ("diag_weight", (0.0, 0.5, 1.0, 2.0, 4.0)),
    ("popularity_exponent", (-0.2, -0.1, 0.0, 0.1)),
    ("category_weight", (0.0, 0.1, 0.3)),
    ("time_weight", (0.0, 0.03, 0.1)),
)
SEARCH_STAGES: Final[Mapping[str, tuple[tuple[str, tuple[Any, ...]], ...]]] = {
    "user-personalization": ITEM_ITEM_STAGES,
    "personalized-ranking": ITEM_ITEM_STAGES,
    "similar-items": (("popularity_discount", (0.0, 0.25, 0.5, 0.75, 1.0)),),
    "trending-now": (("window_days", (1.0, 3.0, 7.0, 14.0)),),
}
LARGE_CATALOGUE_ITEMS: Final = 6144
"""Data whose EASE fit costs more than a dense solve over this many items (``ease.fit_cost``)
is costly per fit, so the search is cut down to what moved the score most on the data sets
measured (``LARGE_CATALOGUE_STAGES``, fewer folds and users). Up to that cost a full search
still finishes in reasonable time, and it finds more than the cut-down one."""
LARGE_CATALOGUE_STAGES: Final = (
    (NEGATIVE_FEEDBACK, (True, False)),
    (VALUE_SCALE, ("ratio", "log", "none")),
    ("l2", (0.5, 2.0, 8.0, 32.0)),
)
TIME_SETTINGS: Final = frozenset({"window_days", "time_weight"})
"""Settings that only mean something when timestamps say when things happened."""
CATEGORY_SETTINGS: Final = frozenset({"category_weight"})
"""Settings that need items.csv to give at least two categories."""
VALUE_SETTINGS: Final = frozenset({VALUE_SCALE, VALUE_OFFSET})
"""Settings that only change weights when event values differ."""
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchStep:
    """One setting tried against the incumbent, for ``srs train`` to say why it chose."""

    setting: str
    value: Any
    comparison: Comparison
    score: float
    adopted: bool


@dataclass(frozen=True)
class Choice:
    """What the validation search settled on, and the figures behind it."""

    recipe: str
    parameters: dict[str, Any]
    weighting: dict[str, Any]
    default_score: float
    chosen_score: float
    popularity_score: float
    folds: int
    timestamps: TimestampReport
    steps: list[SearchStep]

    @property
    def weights(self) -> EventWeights:
        return event_weights(self.weighting)

    def summary(self) -> dict[str, Any]:
        """The choice as training.json records it."""
        return {
            "metric": DEFAULT_METRIC,
            "folds": self.folds,
            "protocol": "a random quarter of each sampled user's events held out",
            "timestamps_informative": self.timestamps.informative,
            "timestamps": self.timestamps.reason,
            "default_score": round(self.default_score, 4),
            "chosen_score": round(self.chosen_score, 4),
            "popularity_score": round(self.popularity_score, 4),
            "weighting": dict(self.weighting),
            "adopted": [
                f"{step.setting}={step.value} ({step.comparison.describe()})"
                for step in self.steps
                if step.adopted
            ],
            "why": self.reason(),
        }

    def reason(self) -> str:
        adopted = [step for step in self.steps if step.adopted]
        if not adopted:
            return (
                "kept the defaults: no setting beat them by more than the folds disagree"
                if self.steps
                else "kept the defaults: nothing to search for this recipe and data"
            )
        return "; ".join(
            f"{step.setting}={step.value} won by {step.comparison.describe()} nDCG@10"
            for step in adopted
        )


def event_weights(weighting: Mapping[str, Any]) -> EventWeights:
    """The event weights of a searched weighting (``WEIGHTING``'s keys)."""
    scale = str(weighting.get(VALUE_SCALE, "ratio"))
    return EventWeights(
        value_offset=float(weighting.get(VALUE_OFFSET, 0.0)),
        negative_history=bool(weighting.get(NEGATIVE_FEEDBACK, True)),
        value_scale="log" if scale == "log" else "none" if scale == "none" else "ratio",
    )


def default_weighting(train: pd.DataFrame) -> dict[str, Any]:
    """The weighting a recipe starts from on this data: counts by log, ratings by ratio."""
    values = pd.to_numeric(train[EVENT_VALUE], errors="coerce").to_numpy(dtype=np.float64)
    return {**WEIGHTING, VALUE_SCALE: value_scale_of(values)}


class _FoldScorer:
    """Scores settings on the validation folds, building each fold's matrix and scoring input
    once per event weighting (every candidate of one weighting shares them)."""

    def __init__(
        self, recipe: str, folds: Sequence[EvaluationTask], items: pd.DataFrame | None
    ) -> None:
        self.recipe, self.folds, self.items = recipe, folds, items
        self._cache: dict[tuple[int, tuple[Any, ...]], tuple[Any, ScoringInput]] = {}
        self.fits = 0

    def scores(
        self,
        parameters: Mapping[str, Any],
        weighting: Mapping[str, Any],
        recipe: str | None = None,
    ) -> list[float]:
        name = recipe or self.recipe
        weights = event_weights(weighting)
        key = tuple(sorted(weighting.items()))
        shared: dict[str, Any] = {}
        if name in ("user-personalization", "personalized-ranking"):
            shared["calibration_users"] = SEARCH_CALIBRATION_USERS
        results = []
        for index, task in enumerate(self.folds):
            cached = self._cache.get((index, key))
            data = (
                cached[0]
                if cached is not None
                else build_matrix(task.fit_frame, weights, catalogue_ids(self.items))
            )
            model = create_recipe(name, weights, **shared, **dict(parameters))
            model.fit_matrix(data, task.fit_frame, self.items)
            prepared = cached[1] if cached is not None else scoring_input(model, task)
            self._cache[(index, key)] = (data, prepared)
            measured = evaluate_model(model, task, prepared=prepared)
            results.append(float(measured.get(DEFAULT_METRIC, 0.0)))
            self.fits += 1
        return results


def _searchable(
    stages: Sequence[tuple[str, tuple[Any, ...]]],
    timestamps: TimestampReport,
    items: pd.DataFrame | None,
    train: pd.DataFrame,
) -> list[tuple[str, tuple[Any, ...]]]:
    """The stages this data can inform: time settings need real timestamps, category ones
    two categories or more, value settings values that differ, and the sign of the history
    a judgement that can be negative. A stage that cannot change a score costs fits for
    nothing, which on a large catalogue is most of the budget."""
    categories = (
        items[CATEGORY].astype(str).str.strip().replace("", np.nan).nunique()
        if items is not None and CATEGORY in items.columns
        else 0
    )
    values = pd.to_numeric(train[EVENT_VALUE], errors="coerce").to_numpy(dtype=np.float64)
    values_differ = np.unique(values[np.isfinite(values)]).size > 1
    codes, labels = pd.factorize(train[EVENT_TYPE].astype(str))
    judged_negative = bool(
        (EventWeights().row_verdicts(codes.astype(np.int64), list(labels), values) < 0).any()
    )
    return [
        (setting, values_tried)
        for setting, values_tried in stages
        if (timestamps.informative or setting not in TIME_SETTINGS)
        and (categories >= 2 or setting not in CATEGORY_SETTINGS)
        and (values_differ or setting not in VALUE_SETTINGS)
        and (judged_negative or setting != NEGATIVE_FEEDBACK)
    ]


def expensive_to_fit(train: pd.DataFrame) -> bool:
    """Whether one EASE fit on ``train`` costs more than the search can afford many times."""
    pairs = train[[USER_ID, ITEM_ID]].drop_duplicates()
    cost = fit_cost(pairs[USER_ID].nunique(), pairs[ITEM_ID].nunique(), len(pairs))
    return cost > gram_route_cost(LARGE_CATALOGUE_ITEMS)


def search_folds(
    train: pd.DataFrame, *, seed: int, folds: int = FOLDS, costly: bool | None = None
) -> list[EvaluationTask]:
    """The validation folds a search of ``train`` uses; fewer and smaller where fits are costly
    (``validation.COSTLY_DATA_FOLDS``)."""
    if costly is None:
        costly = expensive_to_fit(train)
    if costly:
        return validation_folds(
            train,
            folds=min(folds, COSTLY_DATA_FOLDS),
            seed=seed,
            users=COSTLY_DATA_VALIDATION_USERS,
        )
    return validation_folds(train, folds=folds, seed=seed)


def choose_parameters(
    recipe: str,
    train: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    seed: int = 0,
    folds: int = FOLDS,
    progress: Progress | None = None,
    costly: bool | None = None,
) -> Choice:
    """Settings for ``recipe`` chosen on validation folds of ``train`` alone (``validation.py``).

    A coordinate search from the defaults: one setting at a time, its values tried against the
    incumbent; the best value that wins by more than the folds' spread, and is not below
    popularity on the same folds, replaces it. Otherwise the defaults stay. ``costly`` (by
    default :func:`expensive_to_fit`) cuts the search down for data whose fits take seconds.
    """
    say = progress or (lambda _: None)
    timestamps = timestamp_report(train)
    searched = SEARCH_STAGES.get(recipe, ())
    if costly is None:
        costly = expensive_to_fit(train)
    costly = costly and searched is ITEM_ITEM_STAGES
    if costly:
        searched = LARGE_CATALOGUE_STAGES
    stages = _searchable(searched, timestamps, items, train)
    tasks = search_folds(train, seed=seed, folds=folds, costly=costly)
    scorer = _FoldScorer(recipe, tasks, items)
    start = default_weighting(train)
    defaults = {**start, **create_recipe(recipe).hyperparameters()}
    total = 2 + sum(sum(value != defaults.get(name) for value in values) for name, values in stages)
    started = time.perf_counter()

    def tick(what: str) -> None:
        done = scorer.fits // max(len(tasks), 1)
        elapsed = time.perf_counter() - started
        left = f", about {elapsed / done * (total - done):.0f} s left" if done else ""
        say(f"tuning {recipe}: {what} ({done}/{total} settings{left})")

    tick("popularity baseline")
    popularity = scorer.scores({}, start, recipe="popularity-count")
    tick("defaults")
    parameters: dict[str, Any] = {}
    weighting: dict[str, Any] = dict(start)
    incumbent = scorer.scores(parameters, weighting)
    default_score = float(np.mean(incumbent))
    floor = float(np.mean(popularity))
    steps: list[SearchStep] = []
    for setting, values in stages:
        if setting == VALUE_OFFSET and weighting[VALUE_SCALE] != "ratio":
            continue  # an offset only shifts a rating's ratio
        is_weighting = setting in WEIGHTING
        current = (weighting if is_weighting else parameters).get(setting, defaults.get(setting))
        best: tuple[SearchStep, list[float]] | None = None
        for value in values:
            if value == current:
                continue
            tick(f"{setting}={value}")
            trial_parameters = parameters if is_weighting else {**parameters, setting: value}
            trial_weighting = {**weighting, setting: value} if is_weighting else weighting
            measured = scorer.scores(trial_parameters, trial_weighting)
            comparison = compare(measured, incumbent)
            step = SearchStep(setting, value, comparison, float(np.mean(measured)), False)
            steps.append(step)
            if (
                comparison.wins
                and step.score >= floor
                and (best is None or comparison.gain > best[0].comparison.gain)
            ):
                best = (step, measured)
        if best is not None:
            step, incumbent = best
            steps[steps.index(step)] = SearchStep(
                step.setting, step.value, step.comparison, step.score, True
            )
            (weighting if is_weighting else parameters)[setting] = step.value
    return Choice(
        recipe,
        parameters,
        weighting,
        default_score,
        float(np.mean(incumbent)),
        floor,
        len(tasks),
        timestamps,
        steps,
    )
