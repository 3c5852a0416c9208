"""The one top-k of the engine: which items a ranker returns, and in which order.

Live requests, the answer table, offline evaluation, rankings, similar items and the blend's
candidate lists all pick "the best k items" from scores. If each did it its own way, tied
scores (common: popularity counts, items nobody scored, duplicate item columns) would be
ordered differently in each, and offline metrics would measure a ranker users never get. So
every one of them calls this module, which has a single rule:

* a higher key comes first;
* equal keys go to the lower position (catalogue order), as a stable sort would order them;
* a masked position, and a key of −inf or NaN, is never returned;
* a row with fewer allowed positions than ``k`` is shorter (1-D) or padded with ``-1`` at the
  end (2-D, whose rows must share one width).

:func:`top_k` answers one request; :func:`top_k_rows` answers a block of rows and gives, row by
row, exactly what :func:`top_k` gives.

Masked positions are treated as −inf keys, and NaN keys too, so "allowed" is simply "above
−inf" and whatever may not be returned sorts to the end by itself.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from srs.arrays import FloatArray, IntArray

FULL_SORT_MAX_ITEMS: Final = 2048
"""Up to this many items one stable sort of a row beats a partition followed by a sort of
the items at or above the cut (a request on the ~240-service catalogue takes the sort)."""
TIE_BLOCK_CELLS: Final = 1 << 20
"""Rows × items re-chosen at once where ties straddle the cut, so the scratch arrays of a
block of thousands of rows over a large catalogue stay small."""
PADDING: Final = -1
"""What fills a row of :func:`top_k_rows` past its allowed positions."""


def _negated(key: npt.ArrayLike, mask: npt.ArrayLike | None) -> FloatArray:
    """``-key`` as a fresh float64 array, masked positions at ``+inf`` (sorted last).

    A NaN key stays NaN: sorts and partitions place it after ``+inf``, and it fails the
    ``< +inf`` test that decides what is returned, so it is never returned either.
    """
    negated = np.negative(np.asarray(key, dtype=np.float64))
    if mask is not None:
        np.copyto(negated, np.inf, where=np.asarray(mask, dtype=bool))
    return negated


def top_k(key: npt.ArrayLike, k: int, mask: npt.ArrayLike | None = None) -> IntArray:
    """Positions of the ``k`` best allowed keys of a 1-D ``key``, best first (module rule).

    ``mask`` (same shape, True = excluded) may be None. Fewer than ``k`` positions come back
    when fewer are allowed.
    """
    negated = _negated(key, mask)
    if negated.ndim != 1:
        raise ValueError(f"top_k needs one row of items, got shape {negated.shape}")
    n_items = negated.shape[0]
    k = min(int(k), n_items)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if n_items <= FULL_SORT_MAX_ITEMS:
        top = np.argsort(negated, kind="stable")[:k]
    else:
        # Every item at least as good as the k-th, so that ties at the cut go to the lowest
        # positions (a partition alone picks among them arbitrarily); only those are sorted.
        cut = np.partition(negated, k - 1)[k - 1]
        candidates = np.flatnonzero(negated <= cut if cut < np.inf else negated < np.inf)
        if len(candidates) == 0:
            return np.zeros(0, dtype=np.int64)
        top = candidates[np.argsort(negated[candidates], kind="stable")[:k]]
    if not negated[top[-1]] < np.inf:
        top = top[negated[top] < np.inf]
    return top.astype(np.int64, copy=False)


def top_k_rows(key: npt.ArrayLike, k: int, mask: npt.ArrayLike | None = None) -> IntArray:
    """Each row's :func:`top_k` of a 2-D ``key`` (rows × items), as rows × ``min(k, items)``
    positions, best first, padded with :data:`PADDING` where a row has fewer allowed items.

    A partition finds each row's ``k`` best; that set is already exact in rows where no item
    outside it ties with the ``k``-th. In the other rows the items tied at the cut are
    re-chosen lowest positions first, over the row (as :func:`top_k` does). Only the kept
    ``k`` per row are then sorted, so equal keys stay in position order.

    Unlike :func:`top_k` this works on ``key`` itself, not on a negated copy: evaluation
    hands it blocks of thousands of rows over the whole catalogue, where a copy is the
    largest array of the step. A copy is made only to apply ``mask`` or to demote NaN keys.
    """
    values = np.asarray(key, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"top_k_rows needs rows × items, got shape {values.shape}")
    if mask is not None:
        values = np.where(mask, -np.inf, values)
    n_rows, n_items = values.shape
    width = max(0, min(int(k), n_items))
    if width == 0 or n_rows == 0:
        return np.full((n_rows, width), PADDING, dtype=np.int64)
    chosen = _best_unordered(values, width)
    kept = np.take_along_axis(values, chosen, axis=1)
    if np.isnan(kept).any():
        # A partition ranks NaN above everything; the rule never returns it, like −inf.
        values = np.where(np.isnan(values), -np.inf, values)
        chosen = _best_unordered(values, width)
        kept = np.take_along_axis(values, chosen, axis=1)
    order = np.lexsort((chosen, -kept), axis=1)
    top = np.take_along_axis(chosen, order, axis=1).astype(np.int64, copy=False)
    allowed = np.take_along_axis(kept, order, axis=1) > -np.inf
    if not allowed.all():
        top[~allowed] = PADDING
    return top


def _best_unordered(values: FloatArray, width: int) -> IntArray:
    """Each row's ``width`` best positions under the rule, in no particular order."""
    n_items = values.shape[1]
    if width == n_items:
        return np.broadcast_to(np.arange(n_items, dtype=np.int64), values.shape).copy()
    chosen = np.argpartition(values, n_items - width, axis=1)[:, n_items - width :]
    cut = np.take_along_axis(values, chosen[:, :1], axis=1)
    reach = np.count_nonzero(values >= cut, axis=1)
    tied_rows = np.flatnonzero((reach > width) & (cut[:, 0] > -np.inf))
    step = max(1, TIE_BLOCK_CELLS // n_items)
    for start in range(0, len(tied_rows), step):
        rows = tied_rows[start : start + step]
        chosen[rows] = _lowest_at_cut(values[rows], cut[rows], width)
    return chosen


def _lowest_at_cut(values: FloatArray, cut: FloatArray, width: int) -> IntArray:
    """Per row, the positions strictly better than ``cut`` plus the lowest positions equal to
    it, ``width`` in all, in position order (rows where more than ``width`` reach the cut)."""
    better = values > cut
    missing = width - np.count_nonzero(better, axis=1)
    rows, columns = np.nonzero(values == cut)  # row by row, lowest position first
    rank = np.arange(len(rows)) - np.searchsorted(rows, np.arange(len(values)))[rows]
    lowest = rank < missing[rows]
    better[rows[lowest], columns[lowest]] = True
    return np.nonzero(better)[1].reshape(len(values), width).astype(np.int64)


def every_slot(key: FloatArray) -> IntArray:
    """All of ``key``'s positions best first under the top-k rule; a ranking answers every
    item it is given, so keys the rule never returns (−inf, NaN) follow, in position order."""
    order = top_k(key, len(key))
    if len(order) < len(key):
        order = np.concatenate([order, np.setdiff1d(np.arange(len(key)), order)])
    return order
