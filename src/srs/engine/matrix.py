"""Interactions DataFrame → weighted sparse user × item matrix, with the id ↔ index maps.

Every recipe trains on the same matrix, so the rules live here once: rows are checked (one
clear :class:`InteractionsError` naming column, position and value), weighted by
:class:`EventWeights`, and the rows of each (user, item) pair folded into one entry. Users and
items are indexed in sorted id order, so the same data always gives the same indexes whatever
the row order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from srs.arrays import FloatArray, IntArray, StrArray
from srs.engine.errors import InteractionsError
from srs.engine.weights import EventWeights

USER_ID: Final = "USER_ID"
ITEM_ID: Final = "ITEM_ID"
EVENT_TYPE: Final = "EVENT_TYPE"
EVENT_VALUE: Final = "EVENT_VALUE"
TIMESTAMP: Final = "TIMESTAMP"
INTERACTION_COLUMNS: Final = (USER_ID, ITEM_ID, EVENT_TYPE, EVENT_VALUE, TIMESTAMP)

DENSE_GRAM_MAX_ITEMS: Final = 4096
"""Up to this many items the Gram matrix is summed from dense row blocks with BLAS (fast);
beyond it, from sparse column blocks (bounded memory)."""
GRAM_BLOCK_ELEMENTS: Final = 8_000_000


@dataclass(frozen=True)
class InteractionMatrix:
    """Aggregated weights: ``matrix[u, i]`` is user ``user_ids[u]``'s weight for ``item_ids[i]``.

    ``reference_time`` is the newest training timestamp: the "now" of time decay.
    ``disliked`` marks (value 1) the pairs whose latest explicit judgement is negative, None
    when there are none (see ``weights.py``).
    """

    matrix: sp.csr_matrix
    user_ids: StrArray
    item_ids: StrArray
    reference_time: int
    disliked: sp.csr_matrix | None = None
    _grams: dict[str, FloatArray] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {user: row for row, user in enumerate(self.user_ids.tolist())}

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {item: column for column, item in enumerate(self.item_ids.tolist())}

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.user_ids), len(self.item_ids)

    def signed_histories(self, negative_weight: float) -> sp.csr_matrix:
        """The users' history vectors: the matrix, with ``-negative_weight`` on disliked pairs."""
        return signed_matrix(self.matrix, self.disliked, negative_weight)

    def distinct_users_per_item(self) -> FloatArray:
        """How many users interacted with each item (the popularity-count statistic)."""
        return np.bincount(self.matrix.indices, minlength=len(self.item_ids)).astype(np.float64)

    def gram(self, dtype: type[np.floating[Any]], lower_only: bool = False) -> FloatArray:
        """A fresh copy of ``XᵀX`` (see :func:`gram_matrix`), for the caller to overwrite.

        Small catalogues keep the computed matrix, so a hyperparameter search fitting many
        models on one matrix computes it once; large ones (over DENSE_GRAM_MAX_ITEMS items) are
        recomputed rather than held twice, since the matrix grows with the square of the catalogue.
        """
        if self.shape[1] > DENSE_GRAM_MAX_ITEMS:
            return gram_matrix(self.matrix, dtype, lower_only=lower_only)
        key = np.dtype(dtype).str
        cached = self._grams.get(key)
        if cached is None:
            cached = gram_matrix(self.matrix, dtype)
            self._grams[key] = cached
        return cached.copy()


@dataclass(frozen=True)
class CheckedRows:
    """A checked interactions frame as arrays; ids as codes into sorted text labels."""

    user_codes: IntArray
    user_labels: StrArray
    item_codes: IntArray
    item_labels: StrArray
    type_codes: IntArray
    type_labels: StrArray
    event_values: FloatArray
    timestamps: IntArray


def check_interactions(frame: pd.DataFrame, source: str = "interactions") -> CheckedRows:
    """Validate the Personalize interactions columns; the first problem raises with its position."""
    missing = [name for name in INTERACTION_COLUMNS if name not in frame.columns]
    if missing:
        raise InteractionsError(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(INTERACTION_COLUMNS)}"
        )
    user_codes, user_labels = text_codes(frame[USER_ID], USER_ID, source)
    item_codes, item_labels = text_codes(frame[ITEM_ID], ITEM_ID, source)
    type_codes, type_labels = text_codes(frame[EVENT_TYPE], EVENT_TYPE, source)
    values = _numbers(frame[EVENT_VALUE], EVENT_VALUE, source, allow_missing=True)
    stamps = _numbers(frame[TIMESTAMP], TIMESTAMP, source, allow_missing=False)
    fractional = np.flatnonzero(stamps != np.floor(stamps))
    if len(fractional):
        position = int(fractional[0])
        raise InteractionsError(
            f"{source}: column {TIMESTAMP} at position {position} (0-based): "
            f"{frame[TIMESTAMP].iloc[position]!r} is not whole Unix seconds"
        )
    return CheckedRows(
        user_codes,
        user_labels,
        item_codes,
        item_labels,
        type_codes,
        type_labels,
        values,
        stamps.astype(np.int64),
    )


def text_codes(column: pd.Series, name: str, source: str) -> tuple[IntArray, StrArray]:
    """Codes of ``column``'s values taken as text, numbered in sorted text order.

    Empty values (missing, or blank text) raise with the position of the first one; the check
    runs on the distinct values, so it costs little however many rows there are.
    """
    codes, uniques = pd.factorize(column)
    missing = np.flatnonzero(codes < 0)
    if len(missing):
        raise InteractionsError(
            f"{source}: column {name} at position {int(missing[0])} (0-based) is empty"
        )
    text = np.asarray([str(value) for value in uniques], dtype=str)
    blank = np.flatnonzero(np.char.strip(text) == "")
    if len(blank):
        position = int(np.flatnonzero(np.isin(codes, blank))[0])
        raise InteractionsError(
            f"{source}: column {name} at position {position} (0-based) is empty"
        )
    labels, inverse = np.unique(text, return_inverse=True)
    return inverse.astype(np.int64)[codes], labels


def _numbers(column: pd.Series, name: str, source: str, allow_missing: bool) -> FloatArray:
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isinf(values) | (np.isnan(values) & (column.notna().to_numpy() | (not allow_missing)))
    positions = np.flatnonzero(bad)
    if len(positions):
        position = int(positions[0])
        raise InteractionsError(
            f"{source}: column {name} at position {position} (0-based): "
            f"{column.iloc[position]!r} is not a number"
        )
    return values


def build_matrix(
    frame: pd.DataFrame,
    weights: EventWeights | None = None,
    catalogue: Iterable[str] | None = None,
    source: str = "interactions",
    signed_rows: npt.NDArray[np.bool_] | None = None,
) -> InteractionMatrix:
    """Weighted, aggregated user × item matrix of ``frame``.

    ``catalogue`` lists items that exist without interactions (e.g. from items.csv); they get
    empty columns, so recipes can still name them, rank them last and score them zero.
    ``signed_rows`` marks the rows whose judgements sign the histories even when the weights
    leave the training data's unsigned (the feedback SRS recorded itself).
    """
    rows = check_interactions(frame, source)
    if len(rows.timestamps) == 0:
        raise InteractionsError(f"{source}: no interactions to train on")
    weights = weights or EventWeights()
    extra = np.asarray(
        sorted({str(item) for item in (catalogue if catalogue is not None else ())}), dtype=str
    )
    item_ids = np.union1d(rows.item_labels, extra).astype(str) if len(extra) else rows.item_labels
    item_codes = np.searchsorted(item_ids, rows.item_labels)[rows.item_codes]
    reference_time = int(rows.timestamps.max())
    row_weights = weights.row_weights(
        rows.type_codes, rows.type_labels, rows.event_values, rows.timestamps, reference_time
    )
    shape = (len(rows.user_labels), len(item_ids))
    matrix = aggregate_entries(rows.user_codes, item_codes, row_weights, shape, weights.aggregate)
    judged = rows
    if not weights.signs_history:
        keep = signed_rows if signed_rows is not None else np.zeros(len(item_codes), dtype=bool)
        judged = _rows_where(rows, keep)
        user_codes, item_codes = rows.user_codes[keep], item_codes[keep]
    else:
        user_codes = rows.user_codes
    disliked = disliked_pairs(judged, user_codes, item_codes, shape, weights)
    return InteractionMatrix(matrix, rows.user_labels, item_ids, reference_time, disliked)


def disliked_pairs(
    rows: CheckedRows,
    user_codes: IntArray,
    item_codes: IntArray,
    shape: tuple[int, int],
    weights: EventWeights,
) -> sp.csr_matrix | None:
    """Pairs whose latest explicit judgement (by timestamp, then row order) is negative."""
    if not weights.signs_feedback:
        return None
    verdicts = weights.row_verdicts(rows.type_codes, rows.type_labels, rows.event_values)
    explicit = np.flatnonzero(verdicts != 0)
    if not np.any(verdicts[explicit] < 0):
        return None
    keys = user_codes[explicit] * shape[1] + item_codes[explicit]
    order = np.lexsort((explicit, rows.timestamps[explicit], keys))
    ordered_keys = keys[order]
    last = np.r_[ordered_keys[1:] != ordered_keys[:-1], True]
    negative = verdicts[explicit][order][last] < 0
    chosen = ordered_keys[last][negative]
    if len(chosen) == 0:
        return None
    return sp.csr_matrix(
        (np.ones(len(chosen), dtype=np.float32), (chosen // shape[1], chosen % shape[1])),
        shape=shape,
    )


def signed_matrix(
    matrix: sp.csr_matrix, disliked: sp.csr_matrix | None, negative_weight: float
) -> sp.csr_matrix:
    """``matrix`` with its disliked pairs set to ``-negative_weight`` (added where absent)."""
    if disliked is None:
        return matrix
    kept = matrix - matrix.multiply(disliked)
    signed = sp.csr_matrix(kept - disliked * np.float32(negative_weight), dtype=np.float32)
    signed.eliminate_zeros()
    signed.sort_indices()
    return signed


def aggregate_entries(
    user_codes: IntArray,
    item_codes: IntArray,
    values: FloatArray,
    shape: tuple[int, int],
    how: str,
) -> sp.csr_matrix:
    """CSR matrix with one entry per (user, item): the max or sum of its rows; zeros dropped."""
    if len(values) == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    keys = user_codes * shape[1] + item_codes
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    reduce = np.maximum if how == "max" else np.add
    entries = reduce.reduceat(values[order], starts)
    unique_keys = sorted_keys[starts]
    keep = entries > 0
    unique_keys, entries = unique_keys[keep], entries[keep]
    rows = unique_keys // shape[1]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_matrix(
        ((entries.astype(np.float32)), (unique_keys % shape[1]).astype(np.int32), indptr),
        shape=shape,
    )


def history_rows(
    frame: pd.DataFrame,
    item_index: Mapping[str, int],
    n_items: int,
    weights: EventWeights,
    reference_time: int,
    source: str = "histories",
) -> tuple[StrArray, sp.csr_matrix]:
    """Users of ``frame`` and their (signed) history vectors over an existing catalogue.

    Used to score users who were not in training (Personalize's held-out users): items the
    catalogue does not know are dropped, exactly as request-time events for them would be.
    """
    rows = check_interactions(frame, source)
    label_positions = np.asarray(
        [item_index.get(label, -1) for label in rows.item_labels.tolist()], dtype=np.int64
    )
    item_codes = label_positions[rows.item_codes]
    known = item_codes >= 0
    row_weights = weights.row_weights(
        rows.type_codes, rows.type_labels, rows.event_values, rows.timestamps, reference_time
    )
    shape = (len(rows.user_labels), n_items)
    matrix = aggregate_entries(
        rows.user_codes[known], item_codes[known], row_weights[known], shape, weights.aggregate
    )
    signed = known & weights.signs_history
    disliked = disliked_pairs(
        _rows_where(rows, signed), rows.user_codes[signed], item_codes[signed], shape, weights
    )
    return rows.user_labels, signed_matrix(matrix, disliked, weights.negative_weight)


def _rows_where(rows: CheckedRows, keep: npt.NDArray[np.bool_]) -> CheckedRows:
    return CheckedRows(
        rows.user_codes[keep],
        rows.user_labels,
        rows.item_codes[keep],
        rows.item_labels,
        rows.type_codes[keep],
        rows.type_labels,
        rows.event_values[keep],
        rows.timestamps[keep],
    )


def gram_matrix(
    matrix: sp.csr_matrix,
    dtype: type[np.floating[Any]] = np.float64,
    lower_only: bool = False,
    dense_max_items: int = DENSE_GRAM_MAX_ITEMS,
) -> FloatArray:
    """``XᵀX`` as a dense array, summed in blocks so memory stays bounded.

    With ``lower_only`` a large catalogue's Gram is computed only on and below its diagonal
    blocks (the rest is left zero): a Cholesky factorisation reads no more, and it halves the
    work.
    """
    n_users, n_items = matrix.shape
    gram = np.zeros((n_items, n_items), dtype=dtype)
    if n_items <= dense_max_items:
        step = max(1, GRAM_BLOCK_ELEMENTS // max(n_items, 1))
        for start in range(0, n_users, step):
            block = matrix[start : start + step].toarray().astype(dtype, copy=False)
            gram += block.T @ block
        return gram
    by_column = matrix.tocsc()
    transposed = matrix.T.tocsr()
    step = max(1, GRAM_BLOCK_ELEMENTS // max(n_items, 1))
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        first_row = start if lower_only else 0
        gram[first_row:, start:stop] = (transposed[first_row:] @ by_column[:, start:stop]).toarray()
    return gram
