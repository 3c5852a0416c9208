"""Per-user z-scores: models' raw scores on one scale, so that a blend can weigh them.

The blend's features are z-scored the same way while its weights are learned
(``evaluation/blending.py``) and while a request is scored (``recipes/personalization.py``);
the transform lives here once so both sides agree on it.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from srs.arrays import BoolArray, FloatArray
from srs.engine.errors import HyperparameterError, check_shape

FLAT_TOLERANCE: Final = 1e-12
"""A spread below this fraction of a value's magnitude is rounding noise, not variation: a
constant row or feature whose mean is not exactly representable still has a tiny nonzero std,
and dividing by it would turn noise into z-scores of ±1."""


def zscore_unseen(scores: FloatArray, seen: BoolArray) -> FloatArray:
    """Per row: ``(s − mean) / std`` with the mean and std of the row's unseen items.

    Models' raw scores live on scales that differ between users (a heavy user's EASE scores
    are larger), so a blend needs them per user on one scale. Statistics come from unseen
    items only because those are the ones usually ranked; the same transform applies to seen
    cells, so a seen item a request does not exclude keeps its place relative to the rest
    (a non-finite seen cell becomes 0). A row with fewer than two unseen items, or whose
    unseen scores are all equal, carries no ranking information and becomes 0 everywhere.
    A 1-D row follows the same rule.
    """
    values = np.asarray(scores, dtype=np.float64)
    mask = np.asarray(seen, dtype=bool)
    check_shape("seen", mask.shape, "scores", values.shape)
    if values.ndim not in (1, 2):
        raise HyperparameterError(
            f"scores must be a row or a users × items matrix, got shape {values.shape}"
        )
    rows = np.atleast_2d(values)
    unseen = ~np.atleast_2d(mask)
    bad = unseen & ~np.isfinite(rows)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise HyperparameterError(
            f"scores has a non-finite value at row {row}, column {column} (an unseen item)"
        )
    counts = unseen.sum(axis=1)
    filled = np.where(unseen, rows, 0.0)
    means = filled.sum(axis=1) / np.maximum(counts, 1)
    centred = np.where(np.isfinite(rows), rows - means[:, None], 0.0)
    stds = np.sqrt(np.where(unseen, centred**2, 0.0).sum(axis=1) / np.maximum(counts, 1))
    scales = np.abs(filled).max(axis=1, initial=0.0)
    informative = (counts >= 2) & (stds > FLAT_TOLERANCE * scales)
    divisors = np.where(informative, stds, 1.0)
    z = np.where(informative[:, None], centred / divisors[:, None], 0.0)
    return np.asarray(z.reshape(values.shape), dtype=np.float64)


def zscore_row(scores: FloatArray, seen: BoolArray) -> FloatArray:
    """:func:`zscore_unseen` for one request's finite row, without its checks and
    matrix bookkeeping (a request pays a few microseconds, not forty)."""
    unseen = scores[~seen]
    if len(unseen) < 2:
        return np.zeros(len(scores))
    mean = float(unseen.sum()) / len(unseen)
    centred = unseen - mean
    spread = math.sqrt(float(centred @ centred) / len(unseen))
    if spread <= FLAT_TOLERANCE * max(abs(float(unseen.max())), abs(float(unseen.min()))):
        return np.zeros(len(scores))
    return (scores - mean) / spread
