"""Offline evaluation: score held-out histories with a fitted recipe and compute metrics.

An :class:`EvaluationTask` says what to train on (``fit_frame``), whose histories to score at
"request time" (``input_frame``) and what those users should have been recommended
(``truth_frame``). Two protocols build one:

* :func:`personalize_task` — Personalize's: held-out users, oldest 90% given, newest 10% truth;
* :func:`stratified_task` — Microsoft Recommenders' MovieLens benchmark: a stratified random
  split, the training rows are both the fit data and the histories.

With ``exclude_input`` (the default) items already in a user's input history are never
recommended and do not count as relevant: the question is which *new* items the user takes up.
Users with no relevant item left are not scored. Users with truth but no usable input get the
recipe's answer for an unknown user (popular items), exactly as the service would give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from srs.engine.evaluation.metrics import (
    MRR_CUTOFF,
    RECOMMENDERS_K,
    hit_matrix,
    personalize_metrics,
    recommenders_metrics,
)
from srs.engine.evaluation.splits import personalize_split, stratified_split
from srs.engine.item_signals import activity_spans
from srs.engine.matrix import ITEM_ID, USER_ID
from srs.engine.recipes.base import Recipe

DEFAULT_CUTOFF: Final = MRR_CUTOFF
SCORING_CHUNK_ROWS: Final = 4096


@dataclass(frozen=True)
class EvaluationTask:
    fit_frame: pd.DataFrame
    input_frame: pd.DataFrame
    truth_frame: pd.DataFrame
    exclude_input: bool = True


def personalize_task(
    interactions: pd.DataFrame,
    seed: int = 0,
    holdout_users: float = 0.1,
    holdout_fraction: float = 0.1,
    by_time: bool = True,
) -> EvaluationTask:
    """Personalize's method (see ``splits.personalize_split``)."""
    split = personalize_split(interactions, holdout_users, holdout_fraction, seed, by_time)
    return EvaluationTask(split.train, split.test_input, split.test_truth)


def stratified_task(
    interactions: pd.DataFrame, ratio: float = 0.75, seed: int = 42, filter_by: str = "item"
) -> EvaluationTask:
    """Microsoft Recommenders' protocol: ``python_stratified_split`` then top-k from train."""
    train, test = stratified_split(
        interactions, ratio=ratio, filter_by="item" if filter_by == "item" else "user", seed=seed
    )
    return EvaluationTask(train, train, test)


@dataclass(frozen=True)
class ScoringInput:
    """A task laid out over one model's catalogue."""

    users: list[str]
    histories: sp.csr_matrix
    relevant: sp.csr_matrix
    n_relevant: np.ndarray
    exclude: sp.csr_matrix | None
    spans: np.ndarray
    """Each user's first and last input interaction time (rows × 2), for recipes that use it."""


def scoring_input(model: Recipe, task: EvaluationTask) -> ScoringInput:
    """Histories, relevant items and exclusions of the task's scored users, over ``model``'s
    catalogue (unknown truth items stay counted in ``n_relevant``)."""
    truth = _pairs(task.truth_frame)
    if task.exclude_input:
        given = _pairs(task.input_frame)
        merged = truth.merge(given, how="left", on=[USER_ID, ITEM_ID], indicator=True)
        truth = truth[(merged["_merge"] == "left_only").to_numpy()]
    users = sorted(set(truth[USER_ID].tolist()))
    user_row = {user: row for row, user in enumerate(users)}
    n_relevant = truth.groupby(USER_ID).size().reindex(users).to_numpy(dtype=np.int64)
    index = model.catalogue.index
    n_items = len(model.catalogue)
    truth_columns = np.asarray([index.get(item, -1) for item in truth[ITEM_ID].tolist()])
    known = truth_columns >= 0
    truth_rows = np.asarray([user_row[user] for user in truth[USER_ID].tolist()], dtype=np.int64)
    relevant = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (truth_rows[known], truth_columns[known])),
        shape=(len(users), n_items),
    )
    input_users, input_histories = model.history_matrix(task.input_frame)
    selection = _selection(users, input_users.tolist())
    histories = sp.csr_matrix(selection @ input_histories)
    spans = np.stack(activity_spans(task.input_frame, np.asarray(users, dtype=str)), axis=1)
    return ScoringInput(
        users, histories, relevant, n_relevant, histories if task.exclude_input else None, spans
    )


def evaluate_model(
    model: Recipe,
    task: EvaluationTask,
    cutoff: int = DEFAULT_CUTOFF,
    prepared: ScoringInput | None = None,
) -> dict[str, float]:
    """Personalize's eight metrics and Microsoft Recommenders' four for a fitted ``model``.

    ``prepared`` (from :func:`scoring_input`) may be reused across models fitted on the same
    data, which share one catalogue.
    """
    prepared = scoring_input(model, task) if prepared is None else prepared
    if not prepared.users:
        return {"users": 0.0}
    recommended = np.vstack(
        [
            model.recommend_batch(
                prepared.histories[start : start + SCORING_CHUNK_ROWS],
                max(cutoff, RECOMMENDERS_K),
                None
                if prepared.exclude is None
                else prepared.exclude[start : start + SCORING_CHUNK_ROWS],
                prepared.spans[start : start + SCORING_CHUNK_ROWS],
            )
            for start in range(0, len(prepared.users), SCORING_CHUNK_ROWS)
        ]
    )
    hits = hit_matrix(recommended, prepared.relevant)
    return {
        **personalize_metrics(recommended, hits, prepared.n_relevant, len(model.catalogue)),
        **recommenders_metrics(hits, prepared.n_relevant, RECOMMENDERS_K),
        "users": float(len(prepared.users)),
    }


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {USER_ID: frame[USER_ID].astype(str), ITEM_ID: frame[ITEM_ID].astype(str)}
    ).drop_duplicates(ignore_index=True)


def _selection(wanted: list[str], available: list[str]) -> sp.csr_matrix:
    """0/1 matrix picking, for each wanted user, their row among ``available`` (none: empty)."""
    position = {user: row for row, user in enumerate(available)}
    pairs = [(row, position[user]) for row, user in enumerate(wanted) if user in position]
    rows = np.asarray([row for row, _ in pairs], dtype=np.int64)
    columns = np.asarray([column for _, column in pairs], dtype=np.int64)
    return sp.csr_matrix(
        (np.ones(len(pairs), dtype=np.float32), (rows, columns)),
        shape=(len(wanted), len(available)),
    )
