"""What the interactions say about each item besides who used it with what: its category, when
it was used, and the values it was given.

``user-personalization`` uses these two ways (see ``recipes/personalization.py``):

* as side information in EASE's Gram matrix (Ning & Karypis' collective SLIM idea): items of
  one category, and items used in the same weeks, look alike even where few users share them;
* as blend features beside the model scores: an item's popularity, its smoothed mean event
  value, and how often it was used while the user was active. The last one matters because
  catalogues change over time (services launch, films are released), so items in use around
  the user's own activity are likelier to be what they used.

Everything here is computed once at training time from the training frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from srs.arrays import FloatArray, IntArray
from srs.engine.matrix import EVENT_VALUE, ITEM_ID, TIMESTAMP, USER_ID

DAY_SECONDS: Final = 86_400
WINDOW_MARGIN_DAYS: Final = 30
"""An active window reaches this far before a user's first and after their last interaction."""
SIDE_TIME_BIN_DAYS: Final = 14
MAX_COUNT_BINS: Final = 1_024
"""Cumulative usage counts keep at most this many time bins per item (wider bins beyond)."""
VALUE_PRIOR_WEIGHT: Final = 5.0
"""Pseudo-interactions at the overall mean value: an item rated once is not a 5-star item."""
CATEGORY: Final = "CATEGORY"


def positions_of(values: pd.Series, index: npt.NDArray[np.str_]) -> IntArray:
    """Positions of ``values`` in the sorted-or-not id array ``index`` (-1 where absent)."""
    return np.asarray(pd.Index(index).get_indexer(pd.Index(values.astype(str))), dtype=np.int64)


def category_matrix(item_ids: npt.NDArray[np.str_], items: pd.DataFrame | None) -> FloatArray:
    """Items × categories one-hot (an item without a category has an all-zero row)."""
    if items is None or CATEGORY not in items.columns or ITEM_ID not in items.columns:
        return np.zeros((len(item_ids), 0))
    named = items[[ITEM_ID, CATEGORY]].astype(str)
    named = named[named[CATEGORY].str.strip() != ""].drop_duplicates(ITEM_ID)
    rows = positions_of(named[ITEM_ID], item_ids)
    kept = rows >= 0
    codes, categories = pd.factorize(named[CATEGORY][kept], sort=True)
    matrix = np.zeros((len(item_ids), len(categories)))
    matrix[rows[kept], codes] = 1.0
    return matrix


def time_histogram(
    item_positions: IntArray, timestamps: npt.NDArray[np.int64], n_items: int
) -> FloatArray:
    """Items × fortnights: each item's use over time, rows scaled to unit length (so an item's
    similarity to another is about *when*, not how much, they were used)."""
    if len(timestamps) == 0:
        return np.zeros((n_items, 0))
    bins = (timestamps - timestamps.min()) // (SIDE_TIME_BIN_DAYS * DAY_SECONDS)
    counts = np.zeros((n_items, int(bins.max()) + 1))
    np.add.at(counts, (item_positions, bins), 1.0)
    norms = np.linalg.norm(counts, axis=1, keepdims=True)
    return counts / np.where(norms > 0, norms, 1.0)


def add_side_information(
    gram: npt.NDArray[np.floating], sides: list[tuple[float, FloatArray]]
) -> None:
    """``gram += Σ α_k · m · S_k S_kᵀ`` in place: the side-information term of EASE's Gram
    matrix, scaled by the mean Gram diagonal ``m`` so that ``α`` means the same whatever the
    size of the data. Items × features matrices ``S_k``; zero weights are skipped."""
    scale = float(np.diagonal(gram).mean()) if gram.size else 0.0
    for weight, side in sides:
        if weight and side.shape[1]:
            block = np.asarray(side, dtype=gram.dtype)
            gram += (weight * scale) * (block @ block.T)


def side_rows(matrix: sp.csr_matrix, sides: list[tuple[float, FloatArray]]) -> sp.csr_matrix:
    """``matrix`` with the side information of :func:`add_side_information` as extra rows:
    ``S Sᵀ`` is the Gram matrix of the rows ``Sᵀ``, so a solver that works from the rows rather
    than from ``XᵀX`` sees the same regularised problem."""
    squares = matrix.multiply(matrix).sum(axis=0)
    scale = float(np.asarray(squares).mean()) if matrix.shape[1] else 0.0
    blocks = [sp.csr_matrix(matrix, dtype=np.float64)]
    for weight, side in sides:
        if weight and side.shape[1]:
            blocks.append(sp.csr_matrix(math.sqrt(weight * scale) * np.asarray(side).T))
    return sp.csr_matrix(sp.vstack(blocks, format="csr"))


def mean_values(item_positions: IntArray, values: FloatArray, n_items: int) -> FloatArray:
    """Each item's mean event value, shrunk towards the overall mean by ``VALUE_PRIOR_WEIGHT``
    pseudo-interactions; all zeros when no event carries a value."""
    known = np.isfinite(values)
    if not known.any():
        return np.zeros(n_items)
    prior = float(values[known].mean())
    sums = np.bincount(item_positions[known], values[known], minlength=n_items)
    counts = np.bincount(item_positions[known], minlength=n_items)
    return (sums + VALUE_PRIOR_WEIGHT * prior) / (counts + VALUE_PRIOR_WEIGHT)


@dataclass(frozen=True)
class UsageCounts:
    """Cumulative item use per time bin: how many times an item was used in any time span,
    in two lookups per item."""

    start: int
    bin_seconds: int
    cumulative: npt.NDArray[np.int32]
    """items × (bins + 1); column ``b`` counts the uses before bin ``b``."""

    @classmethod
    def build(
        cls, item_positions: IntArray, timestamps: npt.NDArray[np.int64], n_items: int
    ) -> UsageCounts:
        if len(timestamps) == 0:
            return cls(0, DAY_SECONDS, np.zeros((n_items, 1), dtype=np.int32))
        start = int(timestamps.min())
        span_days = (int(timestamps.max()) - start) // DAY_SECONDS + 1
        bin_days = max(1, -(-span_days // MAX_COUNT_BINS))
        bin_seconds = bin_days * DAY_SECONDS
        bins = (timestamps - start) // bin_seconds
        counts = np.zeros((n_items, int(bins.max()) + 2), dtype=np.int32)
        np.add.at(counts, (item_positions, bins + 1), 1)
        return cls(start, bin_seconds, np.cumsum(counts, axis=1, dtype=np.int32))

    def within(self, first: int, last: int) -> FloatArray:
        """Uses of every item from ``WINDOW_MARGIN_DAYS`` before ``first`` to as long after
        ``last`` (whole bins)."""
        margin, edges = WINDOW_MARGIN_DAYS * DAY_SECONDS, self.cumulative.shape[1] - 1
        low = min(max((first - margin - self.start) // self.bin_seconds, 0), edges)
        high = min(max((last + margin - self.start) // self.bin_seconds + 1, 0), edges)
        return np.subtract(self.cumulative[:, high], self.cumulative[:, low], dtype=np.float64)

    def within_spans(self, spans: npt.NDArray[np.int64]) -> FloatArray:
        """:meth:`within` for each row of ``spans`` (rows × 2); empty spans (first > last)
        count nothing."""
        low, high = self._edges(spans[:, 0], spans[:, 1])
        counts = (self.cumulative[:, high] - self.cumulative[:, low]).T.astype(np.float64)
        counts[spans[:, 0] > spans[:, 1]] = 0.0
        return counts

    def _edges(
        self, first: npt.NDArray[np.int64], last: npt.NDArray[np.int64]
    ) -> tuple[IntArray, IntArray]:
        margin = WINDOW_MARGIN_DAYS * DAY_SECONDS
        edges = self.cumulative.shape[1] - 1
        # Python ints: spans of absent users hold int64's extremes, which overflow in int64.
        low = [(int(value) - margin - self.start) // self.bin_seconds for value in first]
        high = [(int(value) + margin - self.start) // self.bin_seconds + 1 for value in last]
        return (
            np.clip(np.asarray(low, dtype=object), 0, edges).astype(np.int64),
            np.clip(np.asarray(high, dtype=object), 0, edges).astype(np.int64),
        )


def activity_spans(
    frame: pd.DataFrame, user_ids: npt.NDArray[np.str_]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each user's first and last interaction time, aligned with ``user_ids`` (a user absent
    from ``frame`` gets first > last, an empty span)."""
    first = np.full(len(user_ids), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(user_ids), np.iinfo(np.int64).min, dtype=np.int64)
    rows = positions_of(frame[USER_ID], user_ids)
    stamps = frame[TIMESTAMP].to_numpy(dtype=np.int64)
    kept = rows >= 0
    np.minimum.at(first, rows[kept], stamps[kept])
    np.maximum.at(last, rows[kept], stamps[kept])
    return first, last


def frame_columns(
    frame: pd.DataFrame, item_ids: npt.NDArray[np.str_]
) -> tuple[IntArray, npt.NDArray[np.int64], FloatArray]:
    """Catalogue positions, timestamps and values of the frame's rows (rows of items outside
    the catalogue dropped)."""
    positions = positions_of(frame[ITEM_ID], item_ids)
    kept = positions >= 0
    stamps = frame[TIMESTAMP].to_numpy(dtype=np.int64)[kept]
    values = pd.to_numeric(frame[EVENT_VALUE], errors="coerce").to_numpy(dtype=np.float64)[kept]
    return positions[kept], stamps, values
