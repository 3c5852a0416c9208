"""Closed-form item-item weights of EASE (Steck 2019), with per-item regularisation.

EASE learns ``B`` minimising ``‖X − XB‖² + ‖Λ^½ B‖²`` with ``diag(B) = 0``; the solution is

    P = (XᵀX + Λ)⁻¹,    B = I − P · diag(1 / diag(P))

Scores are ``x_u B`` for the user's *current* history vector ``x_u``, which is why a new event
changes the next answer without retraining. ``Λ`` is diagonal:

    Λ_ii = l2 · mean(diag(XᵀX)) + diag_weight · (XᵀX)_ii

The first term is EASE's ridge, written relative to the mean Gram diagonal so the same value
works whatever the event-weight scale and whatever the amount of data (a value tuned on a
validation split transfers to the full training set). The second is the dropout-emphasis term
of Steck's EDLAE (NeurIPS 2020; ``diag_weight = p / (1 − p)`` for dropout rate ``p``): it
regularises popular items more, which counters EASE's pull towards them.

The inverse goes through a Cholesky factorisation (LAPACK ``potrf`` then ``potri``), in place,
never through a general inverse: ``XᵀX + Λ`` is symmetric positive definite, and this halves
the work and the memory. A dense ``B`` grows with the square of the catalogue, so a large
catalogue does not fit one; the sparse item-kNN alternative serves there.

When the data has fewer rows (users) than items, the same ``P`` comes from the Woodbury
identity instead (:func:`ease_weights_from_rows`)::

    P = Λ⁻¹ − Zᵀ (I + X Λ⁻¹ Xᵀ)⁻¹ Z,    Z = X Λ⁻¹

which factorises a users × users matrix and forms ``P`` with one sparse × dense product: the
cubic cost follows the smaller side of the data, so a wide catalogue with few users (a music or
book service) trains far faster than an items × items factorisation would let it.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.linalg import get_lapack_funcs

from srs.engine.errors import EngineError

SYMMETRISE_BLOCK = 256

Matrix = npt.NDArray[np.floating[Any]]


def regularisation(
    gram_diagonal: npt.NDArray[np.floating[Any]], l2: float, diag_weight: float
) -> Matrix:
    """Diagonal of ``Λ``; see the module docstring."""
    diagonal = np.asarray(gram_diagonal, dtype=np.float64)
    scale = float(diagonal.mean()) if diagonal.size and diagonal.mean() > 0 else 1.0
    return l2 * scale + diag_weight * diagonal


def ease_weights(gram: Matrix, l2: float, diag_weight: float = 0.0) -> Matrix:
    """EASE's ``B`` from the Gram matrix ``XᵀX``, computed in place of ``gram`` (its dtype).

    ``gram`` must be C-contiguous and square; only its lower triangle and diagonal are read.
    It is overwritten and returned as ``B``.

    An item nothing touches (a catalogue entry without events or side information) has an
    all-zero row and column: it is decoupled from the others and its weights are zero, so
    when such items are many the factorisation runs over the touched items alone. A team's
    items.csv can list far more services than the events reach, and the cubic cost would
    follow the whole list.
    """
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1] or not gram.flags.c_contiguous:
        raise ValueError("gram must be a square C-contiguous matrix")
    diagonal = np.diagonal(gram).copy()
    ridge = regularisation(diagonal, l2, diag_weight).astype(gram.dtype)
    touched = np.flatnonzero(diagonal != 0)
    if touched.size > SUBSET_SOLVE_MAX_SHARE * diagonal.size:
        gram[np.diag_indices_from(gram)] += ridge
        return weights_from_precision(cholesky_inverse(gram))
    solved = np.ascontiguousarray(gram[np.ix_(touched, touched)])
    gram.fill(0.0)
    if touched.size:
        solved[np.diag_indices_from(solved)] += ridge[touched]
        gram[np.ix_(touched, touched)] = weights_from_precision(cholesky_inverse(solved))
    return gram


SUBSET_SOLVE_MAX_SHARE: Final = 0.9
"""Solve over the touched items alone when they are at most this share of the catalogue: the
sub-matrix is a copy, whose memory a few untouched items do not repay."""


def weights_from_precision(precision: Matrix) -> Matrix:
    """``B = I − P · diag(1 / diag(P))`` with a zero diagonal, in place of ``P``."""
    pivots = np.diagonal(precision).copy()
    precision /= -pivots[np.newaxis, :]
    np.fill_diagonal(precision, 0.0)
    return precision


def ease_weights_from_rows(
    rows: sp.csr_matrix,
    l2: float,
    diag_weight: float = 0.0,
    dtype: type[np.floating[Any]] = np.float64,
) -> Matrix:
    """EASE's ``B`` for the Gram matrix ``rowsᵀ rows`` through the Woodbury identity.

    The result equals ``ease_weights(rowsᵀ rows, l2, diag_weight)``; which of the two is
    cheaper depends on the data's shape (:func:`rows_are_cheaper`). ``rows`` may carry side
    information as extra rows (a Gram term ``S Sᵀ`` is the rows ``Sᵀ``).
    """
    rows = sp.csr_matrix(rows, dtype=np.float64)
    diagonal = np.asarray(rows.multiply(rows).sum(axis=0), dtype=np.float64).ravel()
    inverse_ridge = 1.0 / regularisation(diagonal, l2, diag_weight)
    scaled = sp.csr_matrix(rows @ sp.diags(inverse_ridge))
    kernel = np.asarray((scaled @ rows.T).todense(), dtype=np.float64)
    kernel[np.diag_indices_from(kernel)] += 1.0
    kernel_inverse = cholesky_inverse(np.ascontiguousarray(kernel))
    solved = np.ascontiguousarray((scaled.T @ kernel_inverse).T, dtype=dtype)
    precision = np.asarray(sp.csr_matrix(scaled.T, dtype=dtype) @ solved, dtype=dtype)
    precision *= -1.0
    precision[np.diag_indices_from(precision)] += inverse_ridge.astype(dtype)
    return weights_from_precision(precision)


SPARSE_PENALTY: Final = 100.0
"""How many dense BLAS operations one sparse multiply-add costs, as measured with both routes on
the same machine: scipy's sparse products run on one core, through index arrays and without
SIMD blocking, BLAS on every core with all three."""


def gram_route_cost(n_items: int) -> float:
    """Work of the items × items factorisation, in dense operations."""
    return float(n_items) ** 3


def row_route_cost(n_rows: int, n_items: int, stored: int) -> float:
    """Work of :func:`ease_weights_from_rows`: a rows × rows factorisation and two sparse
    products over the stored entries."""
    return float(n_rows) ** 3 + SPARSE_PENALTY * stored * (n_rows + n_items)


def rows_are_cheaper(n_rows: int, n_items: int, stored: int) -> bool:
    """Whether :func:`ease_weights_from_rows` beats the items × items factorisation by a clear
    margin (close calls keep the Gram route, the one every catalogue size has used)."""
    return 2.0 * row_route_cost(n_rows, n_items, stored) < gram_route_cost(n_items)


def fit_cost(n_rows: int, n_items: int, stored: int) -> float:
    """Work of one EASE fit by the cheaper route, in dense operations: what a search that fits
    many models can afford depends on it, not on the catalogue's size alone."""
    if rows_are_cheaper(n_rows, n_items, stored):
        return row_route_cost(n_rows, n_items, stored)
    return gram_route_cost(n_items)


def cholesky_inverse(matrix: Matrix) -> Matrix:
    """Inverse of a symmetric positive-definite C-contiguous matrix, in place.

    LAPACK works in Fortran order; the transpose of a C-contiguous symmetric matrix is the same
    matrix in Fortran order, so passing ``matrix.T`` lets ``potrf``/``potri`` run without a copy.
    They fill one triangle, which is mirrored afterwards in blocks.
    """
    fortran_view = matrix.T
    potrf, potri = get_lapack_funcs(("potrf", "potri"), (fortran_view,))
    factor, info = potrf(fortran_view, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise EngineError(
            "the regularised Gram matrix is not positive definite "
            f"(LAPACK potrf info={info}); raise l2"
        )
    inverse, info = potri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise EngineError(f"inverting the Gram matrix failed (LAPACK potri info={info})")
    result = inverse.T if np.shares_memory(inverse, matrix) else np.ascontiguousarray(inverse.T)
    mirror_lower_to_upper(result)
    return result


def mirror_lower_to_upper(matrix: Matrix) -> None:
    """Copy the lower triangle onto the upper one, block by block (no full-size temporary)."""
    size = matrix.shape[0]
    for start in range(0, size, SYMMETRISE_BLOCK):
        stop = min(start + SYMMETRISE_BLOCK, size)
        block = matrix[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]
        if stop < size:
            matrix[start:stop, stop:] = matrix[stop:, start:stop].T
