"""Embedded recommendation engine: recipes, training, scoring, filters, metrics.

Recipes mirror Amazon Personalize's (``RECIPES``; create one with :func:`create_recipe`):

==========================  ===========================================================
``user-personalization``    default; EASE (dense, up to ``dense_max_items`` items) or
                            sparse item-kNN; scores a user from their history *now*
``personalized-ranking``    the same model, used through ``rank``
``similar-items``           SIMS-like co-occurrence with a popularity discount
``popularity-count``        distinct users per item; the baseline
``trending-now``            growth of interactions, recent window vs the one before
==========================  ===========================================================

Training and serving (every recipe has the same small API, in the spirit of ``implicit``)::

    model = create_recipe("user-personalization", weights=EventWeights()).fit(
        interactions,            # USER_ID, ITEM_ID, EVENT_TYPE, EVENT_VALUE, TIMESTAMP
        items,                   # optional: ITEM_ID, SERVICE_NAME, ... (names for reasons)
    )
    model.recommend(user_id, events=recent_events, num_results=25, exclude=launched_or_mask)
    model.rank(user_id, ["item-1", "item-2"], events=recent_events)
    model.similar_items(item_id, num_results=25, exclude=None)
    model.save(directory)
    model = load_model(directory)           # arrays memory-mapped read-only, SHA-256 checked

* Answers are lists of :class:`ScoredItem` ``(item_id, score, reason)``, best first, at most
  500 (``num_results`` outside 1..500 raises :class:`InvalidRequestError`, a ``ValueError``).
* ``events``: interactions recorded since training, any objects with ``item_id``,
  ``event_type`` and ``event_value`` (``srs.events.Event`` fits; so does :class:`HistoryEvent`).
  They are weighted like training rows and merged into the stored history, so the next answer
  reflects them without retraining; a user unknown to the model is scored from them alone.
  With the default ``aggregate="max"`` weighting, passing an event that training already saw
  changes nothing, so callers may pass "recent events" without tracking what was trained on.
  A user with no history at all gets popular items, reason ``"popular"``.
* ``exclude``: item ids, or a boolean mask aligned with ``model.item_ids`` (e.g. a filter's
  result); excluded items are never returned.
* ``item_names``: optional mapping item id → display name for reasons, overriding the
  SERVICE_NAME given to ``fit``.
* Scores: user-personalization's are a softmax over the whole catalogue with a temperature
  fitted at training (``calibration.py``), so they sum to 1 over the catalogue; popularity-count
  gives each item's share of users; similar-items and trending-now normalise their positive
  scores. ``rank`` scores sum to 1 over the ranked items with data; items without data come
  last with score None.

Thread use: ``fit(..., threads=n)`` caps BLAS threads while training. Serving workers should cap
BLAS at one thread for their lifetime (``threadpoolctl.threadpool_limits(1)`` at start-up),
since requests are small and many workers share the cores.

Persistence (``persistence.py``): a directory of ``.npy`` arrays plus ``model.json`` (recipe,
hyperparameters, event weights, fitted state, statistics including ``training_seconds``, and a
SHA-256 per array). :func:`load_model` raises :class:`ModelFormatError` for a missing,
truncated, corrupted or foreign directory.

``fit_matrix(build_matrix(frame, weights), frame)`` fits from a prebuilt matrix (the search in
``evaluation/tuning.py`` builds it once for all candidates).

Evaluation: :func:`evaluate_recipes` compares recipes on Personalize's split with popularity as
the baseline; :func:`evaluate_model` scores one model on an :class:`EvaluationTask`;
:func:`choose_parameters` chooses settings as ``srs train`` does, on validation folds carved
from training data only (``evaluation/validation.py``); :func:`grid_search` scores a whole grid
on any task.
Metric functions are in ``evaluation/metrics.py``.
"""

from srs.engine.answers import AnswerTable, Ranked, ScoredItem
from srs.engine.errors import (
    EngineError,
    HyperparameterError,
    InteractionsError,
    InvalidRequestError,
    ModelFormatError,
    NotFittedError,
)
from srs.engine.evaluation.comparison import evaluate_recipes
from srs.engine.evaluation.metrics import PERSONALIZE_METRICS, RECOMMENDERS_METRICS
from srs.engine.evaluation.splits import PersonalizeSplit, personalize_split, stratified_split
from srs.engine.evaluation.tasks import (
    EvaluationTask,
    evaluate_model,
    personalize_task,
    stratified_task,
)
from srs.engine.evaluation.tuning import (
    DEFAULT_GRIDS,
    Choice,
    TuningResult,
    choose_parameters,
    grid_search,
    tune_recipe,
)
from srs.engine.histories import EventLike, HistoryEvent
from srs.engine.matrix import INTERACTION_COLUMNS, InteractionMatrix, build_matrix
from srs.engine.recipes.base import Recipe
from srs.engine.recipes.personalization import PersonalizedRanking, UserPersonalization
from srs.engine.recipes.popularity_count import PopularityCount
from srs.engine.recipes.registry import DEFAULT_RECIPE, RECIPES, create_recipe, load_model
from srs.engine.recipes.similar_items import SimilarItems
from srs.engine.recipes.trending_now import TrendingNow
from srs.engine.request_limits import DEFAULT_RESULTS, MAX_RESULTS, check_num_results
from srs.engine.weights import DEFAULT_TYPE_WEIGHTS, EventWeights

__all__ = [
    "DEFAULT_GRIDS",
    "DEFAULT_RECIPE",
    "DEFAULT_RESULTS",
    "DEFAULT_TYPE_WEIGHTS",
    "INTERACTION_COLUMNS",
    "MAX_RESULTS",
    "PERSONALIZE_METRICS",
    "RECIPES",
    "RECOMMENDERS_METRICS",
    "AnswerTable",
    "Choice",
    "EngineError",
    "EvaluationTask",
    "EventLike",
    "EventWeights",
    "HistoryEvent",
    "HyperparameterError",
    "InteractionMatrix",
    "InteractionsError",
    "InvalidRequestError",
    "ModelFormatError",
    "NotFittedError",
    "PersonalizeSplit",
    "PersonalizedRanking",
    "PopularityCount",
    "Ranked",
    "Recipe",
    "ScoredItem",
    "SimilarItems",
    "TrendingNow",
    "TuningResult",
    "UserPersonalization",
    "build_matrix",
    "check_num_results",
    "choose_parameters",
    "create_recipe",
    "evaluate_model",
    "evaluate_recipes",
    "grid_search",
    "load_model",
    "personalize_split",
    "personalize_task",
    "stratified_split",
    "stratified_task",
    "tune_recipe",
]
