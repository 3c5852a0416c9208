"""Offline ranking metrics, under Amazon Personalize's names and Microsoft Recommenders' ones.

Everything works on a *hit matrix*: ``hits[u, r]`` is True when the item a model put at rank
``r + 1`` for user ``u`` is relevant to that user. ``n_relevant[u]`` counts the user's relevant
items, including any the model could never recommend (unknown items still count against
recall, MAP and the ideal DCG).

Personalize (GetSolutionMetrics; "Evaluating a solution version"):

* precision_at_K — relevant recommendations in the top K, divided by K;
* normalized_discounted_cumulative_gain_at_K — each relevant item in the top K weighs
  ``1/log(1 + position)``, divided by the same sum for an ideal list (the user's relevant items
  first, at most K of them); the log base cancels out;
* mean_reciprocal_rank_at_25 — 1 / position of the first relevant item in the top 25, else 0;
* coverage — distinct items recommended over all queries / items in the catalogue.

Microsoft Recommenders (python_evaluation, the MovieLens benchmark):

* map — *full* MAP: for each user, the precision at every hit in the top k, summed and divided by
  the number of the user's relevant items (not by k), averaged over users;
* ndcg_at_k (binary relevance), precision_at_k, recall_at_k (hits / relevant items).

Per-query values are averaged over the users given; callers leave out users with nothing relevant.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

import numpy as np
import scipy.sparse as sp

from srs.arrays import BoolArray, FloatArray, IntArray

PERSONALIZE_CUTOFFS: Final = (5, 10, 25)
MRR_CUTOFF: Final = 25
PERSONALIZE_METRICS: Final = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)
RECOMMENDERS_K: Final = 10
RECOMMENDERS_METRICS: Final = ("map", "ndcg_at_10", "precision_at_10", "recall_at_10")


def ranked_hits(ranked: Sequence[str], relevant: Collection[str]) -> BoolArray:
    """Hit row of one ranked list, for metrics on item ids rather than positions."""
    return np.fromiter((item in relevant for item in ranked), dtype=bool, count=len(ranked))


def hit_matrix(recommended: IntArray, relevant: sp.csr_matrix) -> BoolArray:
    """``hits[u, r]``: is ``recommended[u, r]`` (an item position, ``-1`` for none) relevant?"""
    recommended = np.asarray(recommended, dtype=np.int64)
    rows = np.repeat(np.arange(recommended.shape[0]), recommended.shape[1])
    columns = recommended.ravel()
    valid = columns >= 0
    hits = np.zeros(recommended.size, dtype=bool)
    if valid.any():
        looked_up = np.asarray(sp.csr_matrix(relevant)[rows[valid], columns[valid]]).ravel()
        hits[valid] = looked_up != 0
    return hits.reshape(recommended.shape)


def _discounts(k: int) -> FloatArray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def precision_at_k(hits: BoolArray, k: int) -> FloatArray:
    return np.asarray(hits[:, :k].sum(axis=1) / k, dtype=np.float64)


def recall_at_k(hits: BoolArray, n_relevant: IntArray, k: int) -> FloatArray:
    return np.asarray(hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1), dtype=np.float64)


def ndcg_at_k(hits: BoolArray, n_relevant: IntArray, k: int) -> FloatArray:
    discounts = _discounts(k)
    top = hits[:, :k]
    dcg = (top * discounts[: top.shape[1]]).sum(axis=1)
    ideal_cumulative = np.concatenate(([0.0], np.cumsum(discounts)))
    ideal = ideal_cumulative[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]
    return np.asarray(np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1.0), 0.0))


def reciprocal_rank_at_k(hits: BoolArray, k: int) -> FloatArray:
    top = hits[:, :k]
    first = np.argmax(top, axis=1)
    found = top.any(axis=1)
    return np.asarray(np.where(found, 1.0 / (first + 1.0), 0.0), dtype=np.float64)


def average_precision(hits: BoolArray, n_relevant: IntArray, k: int) -> FloatArray:
    """Microsoft Recommenders' full AP: precision at each hit in the top k / relevant items."""
    top = hits[:, :k]
    precision_at_hits = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1) * top
    return np.asarray(precision_at_hits.sum(axis=1) / np.maximum(n_relevant, 1), dtype=np.float64)


def coverage(recommended: IntArray, n_items: int) -> float:
    """Distinct items recommended over all queries / catalogue size."""
    distinct = np.unique(np.asarray(recommended)[np.asarray(recommended) >= 0])
    return float(len(distinct) / n_items) if n_items else 0.0


def personalize_metrics(
    recommended: IntArray, hits: BoolArray, n_relevant: IntArray, n_items: int
) -> dict[str, float]:
    """GetSolutionMetrics' eight metrics; ``recommended`` holds at least 25 columns."""
    result = {"coverage": coverage(recommended[:, : max(PERSONALIZE_CUTOFFS)], n_items)}
    result["mean_reciprocal_rank_at_25"] = _mean(reciprocal_rank_at_k(hits, MRR_CUTOFF))
    for k in PERSONALIZE_CUTOFFS:
        result[f"normalized_discounted_cumulative_gain_at_{k}"] = _mean(
            ndcg_at_k(hits, n_relevant, k)
        )
    for k in PERSONALIZE_CUTOFFS:
        result[f"precision_at_{k}"] = _mean(precision_at_k(hits, k))
    return result


def recommenders_metrics(
    hits: BoolArray, n_relevant: IntArray, k: int = RECOMMENDERS_K
) -> dict[str, float]:
    """Microsoft Recommenders' MAP (full), nDCG@k, Precision@k and Recall@k."""
    return {
        "map": _mean(average_precision(hits, n_relevant, k)),
        f"ndcg_at_{k}": _mean(ndcg_at_k(hits, n_relevant, k)),
        f"precision_at_{k}": _mean(precision_at_k(hits, k)),
        f"recall_at_{k}": _mean(recall_at_k(hits, n_relevant, k)),
    }


def _mean(values: FloatArray) -> float:
    return float(values.mean()) if len(values) else 0.0
