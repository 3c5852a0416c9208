"""Sparse top-k item-item similarity, for catalogues too large for a dense matrix and for SIMS.

Co-occurrence ``C = XᵀX`` is computed for a block of source items at a time (a dense
``block × items`` slab), turned into a similarity, and only each source's ``k`` best targets
are kept. Memory is bounded by the slab, not by ``items²``.

Row ``i`` of the result lists the items most similar to ``i``; a user's scores are the sum of
the rows of their history items, weighted by the history values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from srs.arrays import FloatArray, IntArray

SLAB_ELEMENTS: Final = 8_000_000

Similarity = Callable[[FloatArray, IntArray], FloatArray]
"""(co-occurrence slab ``C[sources, :]``, source indices) → similarity slab of the same shape."""


def cosine(norms: FloatArray) -> Similarity:
    """Cosine similarity of item columns, given every column's Euclidean norm."""
    safe = np.where(norms > 0, norms, 1.0)

    def similarity(slab: FloatArray, sources: IntArray) -> FloatArray:
        result: FloatArray = slab / safe[sources, np.newaxis] / safe[np.newaxis, :]
        return result

    return similarity


def discounted_cooccurrence(popularity: FloatArray, discount: float) -> Similarity:
    """SIMS' score: co-occurrence ``C_ij / (√pop_i · pop_j^discount)``.

    ``discount`` 0 ranks neighbours by raw co-occurrence (popular items everywhere), 0.5 is the
    cosine of binary columns, 1 a lift that favours niche neighbours; the source term only
    balances sources when a user's history sums several rows.
    """
    safe = np.maximum(popularity, 1.0)
    source_scale = 1.0 / np.sqrt(safe)
    target_scale = safe**-discount

    def similarity(slab: FloatArray, sources: IntArray) -> FloatArray:
        result: FloatArray = slab * source_scale[sources, np.newaxis] * target_scale[np.newaxis, :]
        return result

    return similarity


def top_k_similarity(
    matrix: sp.csr_matrix,
    neighbors: int,
    similarity: Similarity,
    min_cooccurrence: float = 0.0,
) -> sp.csr_matrix:
    """``items × items`` CSR keeping each row's ``neighbors`` largest positive similarities.

    Pairs that co-occur less than ``min_cooccurrence`` (summed weight) are dropped, and so is
    the diagonal (an item is not its own neighbour).
    """
    n_items = matrix.shape[1]
    by_item = matrix.T.tocsr().astype(np.float64)
    user_rows = matrix.astype(np.float64).tocsr()
    step = max(1, SLAB_ELEMENTS // max(n_items, 1))
    keep = max(0, min(neighbors, n_items - 1))
    row_parts: list[IntArray] = []
    col_parts: list[IntArray] = []
    value_parts: list[FloatArray] = []
    for start in range(0, n_items, step):
        sources = np.arange(start, min(start + step, n_items), dtype=np.int64)
        slab = np.asarray((by_item[sources] @ user_rows).toarray(), dtype=np.float64)
        scores = similarity(slab, sources)
        scores[(slab <= 0) | (slab < min_cooccurrence)] = 0.0
        scores[np.arange(len(sources)), sources] = 0.0
        if keep == 0:
            continue
        if keep < n_items:
            chosen = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        else:
            chosen = np.broadcast_to(np.arange(n_items), scores.shape).copy()
        values = np.take_along_axis(scores, chosen, axis=1)
        positive = values > 0
        rows = np.broadcast_to(sources[:, np.newaxis], chosen.shape)
        row_parts.append(rows[positive])
        col_parts.append(chosen[positive].astype(np.int64))
        value_parts.append(values[positive])
    if not row_parts:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    return sp.csr_matrix(
        (
            np.concatenate(value_parts).astype(np.float32),
            (np.concatenate(row_parts), np.concatenate(col_parts)),
        ),
        shape=(n_items, n_items),
    )


def row_sum(
    indptr: npt.NDArray[Any],
    indices: npt.NDArray[Any],
    data: npt.NDArray[Any],
    rows: npt.NDArray[Any],
    weights: npt.NDArray[Any],
    n_columns: int,
) -> FloatArray:
    """``Σ_r weights[r] · S[rows[r]]`` for a CSR ``S`` given by its arrays, as a dense vector."""
    starts = indptr[rows]
    stops = indptr[rows + 1]
    lengths = (stops - starts).astype(np.int64)
    if lengths.sum() == 0:
        return np.zeros(n_columns, dtype=np.float64)
    positions = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(
        lengths.sum()
    )
    contributions = np.repeat(np.asarray(weights, dtype=np.float64), lengths) * data[positions]
    summed = np.bincount(indices[positions], weights=contributions, minlength=n_columns)
    return np.asarray(summed, dtype=np.float64)


def weighted_row_sum(matrix: sp.csr_matrix, rows: IntArray, weights: FloatArray) -> FloatArray:
    """:func:`row_sum` of a CSR matrix: a history's scores from an item-item matrix."""
    return row_sum(matrix.indptr, matrix.indices, matrix.data, rows, weights, matrix.shape[1])


def dense_row(matrix: sp.csr_matrix, position: int) -> FloatArray:
    """Row ``position`` of a square item-item matrix as a dense vector over the catalogue."""
    row = np.zeros(matrix.shape[1], dtype=np.float64)
    start, stop = matrix.indptr[position], matrix.indptr[position + 1]
    row[matrix.indices[start:stop]] = matrix.data[start:stop]
    return row


def dense_block(matrix: sp.csr_matrix, rows: IntArray, columns: IntArray) -> FloatArray:
    """``matrix[rows, columns]`` as a dense float64 block."""
    block: FloatArray = matrix[rows][:, columns].toarray().astype(np.float64)
    return block
