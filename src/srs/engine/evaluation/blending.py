"""Weights of a linear blend of per-item features, learned on a validation split.

The embedded recommender ranks a user's unseen items by ``Σ_k w_k · f_k(user, item)``, where
the features are things like per-user z-scores of EASE and factor-model scores, log popularity
or the item's activity inside the user's active time window. The weights are hyperparameters:
they are learned here on a validation split carved out of the training data, never on the test
split, so the test split's figures stay an honest estimate of what users get.

Why a listwise softmax (ListNet, Cao et al. 2007) over each user's top candidates rather than a
pointwise classifier: what matters is the order of items *within* a user, so the loss compares
a user's items with one another, and anything that shifts all of a user's items equally (a
user's activity level, a feature's mean) drops out. Restricting the list to the generator's top
``N`` trains the blend where it will be used — re-ordering the head of a list that a strong
model already produced — instead of on the easy task of telling its head from the long tail.

The L2 penalty is chosen by user-disjoint K-fold cross-validation on nDCG@10: a user's
candidates are strongly correlated, so folds that split users would leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from srs.arrays import BoolArray, FloatArray, IntArray
from srs.engine.errors import HyperparameterError, check_shape
from srs.engine.evaluation.metrics import ndcg_at_k
from srs.engine.topk import PADDING, top_k_rows
from srs.engine.zscores import FLAT_TOLERANCE

DEFAULT_L2_GRID: Final = (0.003, 0.01, 0.03)
CV_CUTOFF: Final = 10


@dataclass(frozen=True)
class Candidates:
    """Each validation user's top-N candidate items, their features and their relevance.

    Fixed-size ``users × N`` arrays (padded with ``valid=False``) keep every step of fitting
    and scoring vectorised over users.
    """

    features: FloatArray
    """users × N × D, the features of each user's N candidates (0 where not valid)."""
    relevant: BoolArray
    """users × N, the candidate is one of the user's held-out relevant items."""
    valid: BoolArray
    """users × N, the candidate exists (False pads users with fewer than N unseen items)."""
    n_relevant: IntArray
    """users, held-out relevant items of each user; may exceed the relevant candidates, since
    an item the generator missed still counts against nDCG's ideal list."""

    def __post_init__(self) -> None:
        if self.features.ndim != 3:
            raise HyperparameterError(
                f"features must be users × N × D, got shape {self.features.shape}"
            )
        grid = self.features.shape[:2]
        check_shape("relevant", self.relevant.shape, "features[:, :, 0]", grid)
        check_shape("valid", self.valid.shape, "features[:, :, 0]", grid)
        check_shape("n_relevant", self.n_relevant.shape, "users", grid[:1])
        over = np.flatnonzero((self.relevant & self.valid).sum(axis=1) > self.n_relevant)
        if len(over):
            user = int(over[0])
            raise HyperparameterError(
                f"n_relevant[{user}] = {int(self.n_relevant[user])} is below that user's "
                f"{int((self.relevant[user] & self.valid[user]).sum())} relevant candidates"
            )


def candidates(
    generator: FloatArray,
    features: Sequence[FloatArray],
    seen: BoolArray,
    relevant: BoolArray,
    n_relevant: IntArray,
    count: int = 50,
) -> Candidates:
    """Each user's top ``count`` unseen items by ``generator`` score, best first.

    ``generator``, each feature, ``seen`` and ``relevant`` are users × items. Candidates are
    chosen by the engine's one top-k (``topk``), ties to the lower item position, so the
    candidate lists (and therefore the learned weights) are deterministic and are the items a
    request would rank first. ``N`` is ``min(count, items)``; a user with fewer unseen items
    (an unseen item scored −inf counts as none) gets padding candidates marked
    ``valid=False`` whose features are 0.
    """
    if count < 1:
        raise HyperparameterError(f"count must be at least 1, got {count}")
    if len(features) == 0:
        raise HyperparameterError("features is empty: a blend needs at least one feature")
    scores = np.asarray(generator, dtype=np.float64)
    if scores.ndim != 2:
        raise HyperparameterError(f"generator must be users × items, got shape {scores.shape}")
    seen_mask = np.asarray(seen, dtype=bool)
    relevant_mask = np.asarray(relevant, dtype=bool)
    relevant_counts = np.asarray(n_relevant, dtype=np.int64)
    check_shape("seen", seen_mask.shape, "generator", scores.shape)
    check_shape("relevant", relevant_mask.shape, "generator", scores.shape)
    check_shape("n_relevant", relevant_counts.shape, "users of generator", scores.shape[:1])
    columns = [np.asarray(feature, dtype=np.float64) for feature in features]
    for index, column in enumerate(columns):
        check_shape(f"features[{index}]", column.shape, "generator", scores.shape)
    if np.isnan(scores[~seen_mask]).any():
        raise HyperparameterError("generator has NaN scores for unseen items")

    top = top_k_rows(scores, count, seen_mask)
    valid = top != PADDING
    chosen = np.maximum(top, 0)  # padding gathers any item; ``valid`` zeroes it below
    gathered = np.stack([np.take_along_axis(c, chosen, axis=1) for c in columns], axis=2)
    gathered = np.where(valid[:, :, None], gathered, 0.0)
    bad = ~np.isfinite(gathered)
    if bad.any():
        user, _, feature = (int(i) for i in np.argwhere(bad)[0])
        raise HyperparameterError(
            f"features[{feature}] has a non-finite value for a candidate of user {user}"
        )
    return Candidates(
        features=gathered,
        relevant=np.take_along_axis(relevant_mask, chosen, axis=1) & valid,
        valid=valid,
        n_relevant=relevant_counts,
    )


def fit_weights(c: Candidates, l2: float) -> FloatArray:
    """Weights (length D) that apply to the RAW features.

    Internally features are standardised over all valid candidate cells, so that one ``l2``
    means the same for a feature in [0, 1] and one in thousands. The loss is the cross-entropy
    between a softmax over each user's valid candidates and the uniform distribution over the
    user's relevant candidates (users with none carry no signal and are dropped), averaged over
    users, plus ``l2 · ‖w_std‖²``. The returned weights are ``w_std / std``: the mean offset
    shifts every item of a user equally, so it changes neither the ranking nor a softmax over
    items, and is dropped. Constant features get weight 0 (they cannot order items).
    """
    if not np.isfinite(l2) or l2 < 0:
        raise HyperparameterError(f"l2 must be a finite number >= 0, got {l2}")
    features = np.asarray(c.features, dtype=np.float64)
    cells = features[c.valid]
    if len(cells) == 0:
        raise HyperparameterError("no valid candidate: cannot fit blend weights")
    means = cells.mean(axis=0)
    stds = cells.std(axis=0)
    varying = stds > FLAT_TOLERANCE * np.abs(cells).max(axis=0)
    targets_mask = c.relevant & c.valid
    trainable = targets_mask.any(axis=1)
    if not trainable.any():
        raise HyperparameterError(
            "no user has a relevant candidate: widen the candidate count or check the "
            "validation split"
        )
    weights = np.zeros(features.shape[2], dtype=np.float64)
    if not varying.any():
        return weights
    standardised = (features[trainable][:, :, varying] - means[varying]) / stds[varying]
    valid = c.valid[trainable]
    standardised[~valid] = 0.0
    positives = targets_mask[trainable].astype(np.float64)
    targets = positives / positives.sum(axis=1, keepdims=True)
    fitted = _minimise_listwise(standardised, valid, targets, l2)
    weights[varying] = fitted / stds[varying]
    return weights


@dataclass(frozen=True)
class BlendChoice:
    """The chosen weights and the evidence they were chosen on."""

    weights: FloatArray
    l2: float
    cv_ndcg: float
    """Mean cross-validated nDCG@10 of the chosen ``l2``."""
    cv_by_l2: dict[float, float]


def choose_weights(
    c: Candidates,
    l2_grid: Sequence[float] = DEFAULT_L2_GRID,
    folds: int = 2,
    seed: int = 0,
) -> BlendChoice:
    """The ``l2`` with the best user-disjoint K-fold nDCG@10, and weights refit on all users.

    Each fold's weights are fitted on the other K−1 folds and scored on the held-out users'
    re-ranked candidates. Users with a relevant candidate are spread evenly over the folds, so
    every training part can be fitted. The held-out nDCG is averaged over all held-out users
    together (not per fold); ties between ``l2`` values go to the first in ``l2_grid``.
    """
    grid = [float(value) for value in l2_grid]
    if not grid:
        raise HyperparameterError("l2_grid is empty: give at least one l2 value")
    if folds < 2:
        raise HyperparameterError(f"folds must be at least 2, got {folds}")
    assignment = _fold_assignment(c, folds, seed)
    cv_by_l2: dict[float, float] = {}
    for l2 in grid:
        per_user = np.zeros(len(c.n_relevant), dtype=np.float64)
        for fold in range(folds):
            held_out = np.flatnonzero(assignment == fold)
            weights = fit_weights(_users_of(c, np.flatnonzero(assignment != fold)), l2)
            per_user[held_out] = _user_ndcg(_users_of(c, held_out), weights, CV_CUTOFF)
        cv_by_l2[l2] = _mean_over_relevant(per_user, c.n_relevant)
    best = max(cv_by_l2, key=lambda l2: (cv_by_l2[l2], -grid.index(l2)))
    return BlendChoice(
        weights=fit_weights(c, best), l2=best, cv_ndcg=cv_by_l2[best], cv_by_l2=cv_by_l2
    )


def ndcg_of_blend(c: Candidates, weights: FloatArray, k: int = 10) -> float:
    """Mean nDCG@k when each user's candidates are ordered by ``features @ weights``.

    Binary relevance; each user's ``n_relevant`` sizes the ideal list, so relevant items the
    generator missed still cost. Users with no relevant item are left out, as
    :mod:`srs.engine.evaluation.metrics` expects; 0.0 when no user is left.
    """
    return _mean_over_relevant(_user_ndcg(c, weights, k), c.n_relevant)


def _minimise_listwise(
    features: FloatArray, valid: BoolArray, targets: FloatArray, l2: float
) -> FloatArray:
    """``argmin_w mean_u CE(targets_u, softmax(features_u @ w)) + l2 ‖w‖²`` by L-BFGS-B.

    The objective is convex in ``w``, so the start (0, every item equally likely) only affects
    speed; the analytic gradient is ``mean_u Σ_i (p_ui − t_ui) x_ui + 2 l2 w``.
    """
    users = features.shape[0]

    def objective(weights: FloatArray) -> tuple[float, FloatArray]:
        logits = np.where(valid, features @ weights, -np.inf)
        log_norm = logsumexp(logits, axis=1, keepdims=True)
        log_probs = np.where(valid, logits - log_norm, 0.0)
        loss = -float((targets * log_probs).sum()) / users
        residual = np.exp(log_probs) * valid - targets
        gradient = np.einsum("un,und->d", residual, features) / users
        return loss + l2 * float(weights @ weights), gradient + 2.0 * l2 * weights

    start = np.zeros(features.shape[2], dtype=np.float64)
    result = minimize(objective, start, jac=True, method="L-BFGS-B")
    return np.asarray(result.x, dtype=np.float64)


def _fold_assignment(c: Candidates, folds: int, seed: int) -> IntArray:
    """Fold of each user: shuffled, dealt round-robin separately to users with and without a
    relevant candidate, so that no training part ends up with nothing to learn from."""
    trainable = np.flatnonzero((c.relevant & c.valid).any(axis=1))
    if len(trainable) < folds:
        raise HyperparameterError(
            f"{len(trainable)} users have a relevant candidate, fewer than folds = {folds}: "
            "use fewer folds or more validation users"
        )
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(c.n_relevant), dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(c.n_relevant)), trainable)
    for group in (trainable, rest):
        shuffled = rng.permutation(group)
        assignment[shuffled] = np.arange(len(shuffled)) % folds
    return assignment


def _users_of(c: Candidates, users: IntArray) -> Candidates:
    return Candidates(
        features=c.features[users],
        relevant=c.relevant[users],
        valid=c.valid[users],
        n_relevant=c.n_relevant[users],
    )


def _user_ndcg(c: Candidates, weights: FloatArray, k: int) -> FloatArray:
    """Per-user nDCG@k of the candidates re-ranked by the blend, with the engine's one top-k
    (equal blended scores go to the earlier candidate; invalid candidates are never ranked)."""
    if k < 1:
        raise HyperparameterError(f"k must be at least 1, got {k}")
    blend = np.asarray(weights, dtype=np.float64)
    check_shape("weights", blend.shape, "features' last axis", c.features.shape[2:])
    order = top_k_rows(c.features @ blend, k, ~c.valid)
    hits = np.take_along_axis(c.relevant, np.maximum(order, 0), axis=1) & (order != PADDING)
    return ndcg_at_k(hits, c.n_relevant, k)


def _mean_over_relevant(per_user: FloatArray, n_relevant: IntArray) -> float:
    scored = per_user[n_relevant > 0]
    return float(scored.mean()) if len(scored) else 0.0
