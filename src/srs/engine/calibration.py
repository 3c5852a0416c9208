"""Raw model scores → a probability distribution over the whole catalogue.

Personalize's user-personalization scores sum to 1 over the catalogue. SRS uses a softmax with
a temperature ``T`` fitted by maximum likelihood, rather than normalising positive scores:
EASE scores can be negative, and the fitted ``T`` makes a score mean something ("0.2" is
about a one-in-five chance that this is the item the user takes next), whereas a fixed
normalisation depends on the arbitrary scale of ``B``.

The fit: for a sample of training users, hide one of their items, score the rest, and choose
``T`` minimising the negative log-likelihood of the hidden items. The hidden item was part of
training, so the fit is slightly optimistic (``T`` a little low); it is still far better
grounded than a constant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import minimize_scalar

from srs.arrays import FloatArray

DEFAULT_SAMPLE_USERS: Final = 500
SCORE_BUDGET: Final = 2_000_000
"""Scores evaluated per likelihood step: large catalogues calibrate on fewer users."""
MIN_SAMPLE_USERS: Final = 100
BatchScorer = Callable[[sp.csr_matrix], npt.NDArray[Any]]


def softmax(scores: npt.NDArray[Any], temperature: float) -> FloatArray:
    """Probabilities over the last axis; stable for any score range.

    One vector (a request) takes scalar reductions, which cost a fraction of the
    ``keepdims`` ones a batch needs.
    """
    scaled = np.asarray(scores, dtype=np.float64) / temperature
    if scaled.ndim == 1:
        scaled -= scaled.max(initial=-np.inf)
        np.exp(scaled, out=scaled)
        scaled /= scaled.sum()
        return scaled
    scaled -= scaled.max(axis=-1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=-1, keepdims=True)
    return scaled


def calibration_sample(n_items: int) -> int:
    """Users to calibrate on for a catalogue of ``n_items`` (bounded work per step)."""
    return max(MIN_SAMPLE_USERS, min(DEFAULT_SAMPLE_USERS, SCORE_BUDGET // max(n_items, 1)))


def leave_one_out(
    matrix: sp.csr_matrix, sample_users: int, seed: int
) -> tuple[sp.csr_matrix, npt.NDArray[np.int64]]:
    """Histories of sampled users (with ≥ 2 items) minus one random item each, and those items."""
    rng = np.random.default_rng(seed)
    lengths = np.diff(matrix.indptr)
    eligible = np.flatnonzero(lengths >= 2)
    if len(eligible) == 0:
        return sp.csr_matrix((0, matrix.shape[1]), dtype=np.float32), np.zeros(0, dtype=np.int64)
    users = np.sort(rng.choice(eligible, size=min(sample_users, len(eligible)), replace=False))
    sample = matrix[users].tocsr()
    sample.sort_indices()
    sample_lengths = np.diff(sample.indptr)
    hidden_positions = sample.indptr[:-1] + rng.integers(0, sample_lengths)
    hidden_items = sample.indices[hidden_positions].astype(np.int64)
    data = sample.data.copy()
    data[hidden_positions] = 0
    masked = sp.csr_matrix((data, sample.indices, sample.indptr), shape=sample.shape)
    masked.eliminate_zeros()
    return masked, hidden_items


def fit_temperature(
    score_batch: BatchScorer,
    matrix: sp.csr_matrix,
    sample_users: int = DEFAULT_SAMPLE_USERS,
    seed: int = 0,
) -> float:
    """Maximum-likelihood softmax temperature of ``score_batch`` on leave-one-out histories."""
    histories, hidden = leave_one_out(matrix, sample_users, seed)
    if len(hidden) == 0:
        return 1.0
    scores = np.asarray(score_batch(histories), dtype=np.float32)
    spread = float(np.std(scores, dtype=np.float64))
    if not np.isfinite(spread) or spread <= 0:
        return 1.0
    target = scores[np.arange(len(hidden)), hidden]

    peak = scores.max(axis=1)
    shifted = scores - peak[:, np.newaxis]
    gap = (target - peak).astype(np.float64)

    def negative_log_likelihood(log_temperature: float) -> float:
        inverse = np.float32(np.exp(-log_temperature))
        partition = np.exp(shifted * inverse).sum(axis=1, dtype=np.float64)
        return float(np.mean(np.log(partition) - gap * float(inverse)))

    centre = np.log(spread)
    result = minimize_scalar(
        negative_log_likelihood,
        bounds=(centre - 12.0, centre + 6.0),
        method="bounded",
        options={"xatol": 0.01},
    )
    return float(np.exp(result.x))
