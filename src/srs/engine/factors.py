"""Implicit ALS item factors (iALS, revisited by Rendle et al. 2021): a second scorer beside EASE.

iALS learns user factors ``W`` and item factors ``H`` minimising, over the users × items matrix
``X`` of non-negative event weights,

    Σ_{(u,i) stored} (x_ui − w_u·h_i)²  +  α0 Σ_{all u,i} (w_u·h_i)²
        +  Σ_u reg_u ‖w_u‖²  +  Σ_i reg_i ‖h_i‖²

    reg_u = l2 · (n_u + α0 · n_items)^ν,    reg_i = l2 · (n_i + α0 · n_users)^ν

where ``n_u`` / ``n_i`` count the stored entries of the row / column. A stored entry has
confidence 1 and its weight is the *target*; every pair, stored or not, is also pulled towards 0
with weight α0 (``unobserved_weight``). The frequency-scaled ridge (ν = ``exponent``) is the
paper's: without it the best l2 depends on how active a user is.

Only ``H`` is kept. A user's vector is folded in at request time from their *current* history by
the exact user half-step, one ``dim × dim`` solve, so an event recorded a moment ago changes the
next answer without retraining, exactly as EASE's ``x_u B`` does. The fold-in of a training user
given the final ``H`` is what one more exact user half-epoch would give them.

Training alternates half-epochs solved approximately by a few conjugate-gradient steps
warm-started from the previous factors (the paper's observation: the exact solve is wasted work
while the other side still moves). The ``H_rowᵀH_row · v`` products are never formed as
matrices: one gathered row-wise dot over the stored entries is written into a reused CSR, and
that CSR times ``H`` gives all rows' products at once. Training runs in float32, which halves the
memory traffic of those products; the fold-in runs in float64 because it is tiny and its result is
compared across the single and batched paths.

Zero weights: a stored zero is not an interaction (the interaction matrix drops them when it
aggregates events), so training eliminates stored zeros and the fold-in ignores history entries
whose value is 0; neither counts in ``n_u``. Repeated items in a history are summed, as a CSR row
built from them would be, and count once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.linalg import lapack

from srs.arrays import Float32Array, FloatArray, IntArray
from srs.engine.errors import HyperparameterError, InteractionsError, InvalidRequestError

Factors = npt.NDArray[np.floating[Any]]

INIT_SCALE: Final = 0.1
DEFAULT_BLOCK_ROWS: Final = 2048
PADDED_BLOCK_FLOATS: Final = 1 << 20
"""Cap on the padded ``(rows, longest history, dim)`` gather of one batched fold-in block,
counted in floats, so one very long history cannot blow up a block of ``block_rows`` rows."""
CG_DENOMINATOR_FLOOR: Final = 1e-30
DENSE_PRODUCT_MAX_CELLS: Final = 1 << 24
"""Up to this many rows × columns, the per-entry dot products ``v_r · o_c`` come from one dense
matrix product (BLAS) read at the stored entries: much faster than gathering a ``dim``-wide
row per entry, as long as the dense product stays small."""


@dataclass(frozen=True)
class FactorSettings:
    """iALS hyperparameters; defaults were chosen on MovieLens validation splits."""

    dim: int = 64
    unobserved_weight: float = 0.15
    l2: float = 0.025
    exponent: float = 1.0
    epochs: int = 4
    cg_steps: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.dim >= 1, "dim", self.dim, "must be at least 1")
        _require(
            self.unobserved_weight >= 0 and math.isfinite(self.unobserved_weight),
            "unobserved_weight",
            self.unobserved_weight,
            "must be a finite number >= 0",
        )
        _require(self.l2 > 0 and math.isfinite(self.l2), "l2", self.l2, "must be finite and > 0")
        _require(math.isfinite(self.exponent), "exponent", self.exponent, "must be finite")
        _require(self.epochs >= 1, "epochs", self.epochs, "must be at least 1")
        _require(self.cg_steps >= 1, "cg_steps", self.cg_steps, "must be at least 1")
        _require(self.seed >= 0, "seed", self.seed, "must be >= 0")


def _require(condition: bool, field: str, value: object, rule: str) -> None:
    if not condition:
        raise HyperparameterError(f"factor setting {field}={value!r} {rule}")


class TrainedFactors(NamedTuple):
    """Both sides of a fit; only ``items`` is kept by a model, ``users`` serves tests and loss."""

    users: Float32Array
    items: Float32Array


def regularisation(
    counts: npt.NDArray[np.integer[Any]] | npt.NDArray[np.floating[Any]] | float,
    other_side: int,
    unobserved_weight: float,
    l2: float,
    exponent: float,
) -> FloatArray:
    """``l2 · (n + α0 · other_side)^ν`` per row.

    The base is 0 only for an empty row when α0 = 0; such a row has no data term at all, so it
    gets the plain ``l2`` (pulling its factor to zero) instead of 0 or ∞.
    """
    base = np.asarray(counts, dtype=np.float64) + unobserved_weight * other_side
    safe_base = np.where(base > 0, base, 1.0)
    return np.asarray(l2 * np.power(safe_base, exponent), dtype=np.float64)


def fit_item_factors(matrix: sp.csr_matrix, settings: FactorSettings) -> Float32Array:
    """Item factors (items × dim, float32) of ``matrix`` (users × items weights)."""
    return fit_factors(matrix, settings).items


def fit_factors(matrix: sp.csr_matrix, settings: FactorSettings) -> TrainedFactors:
    """User and item factors after ``settings.epochs`` alternating half-epochs.

    Deterministic given ``settings.seed``: both sides are initialised from one generator, users
    first, so a fit with ``k`` epochs is the first ``k`` epochs of a longer one.
    """
    observed = training_matrix(matrix)
    transposed = sp.csr_matrix(observed.T)
    n_users, n_items = observed.shape
    rng = np.random.default_rng(settings.seed)
    scale = INIT_SCALE / math.sqrt(settings.dim)
    users = (rng.standard_normal((n_users, settings.dim)) * scale).astype(np.float32)
    items = (rng.standard_normal((n_items, settings.dim)) * scale).astype(np.float32)
    user_side = HalfEpoch.of(observed, n_items, settings)
    item_side = HalfEpoch.of(transposed, n_users, settings)
    for _ in range(settings.epochs):
        users = user_side.solve(users, items, settings.cg_steps)
        items = item_side.solve(items, users, settings.cg_steps)
    return TrainedFactors(users, items)


def training_matrix(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Canonical float32 CSR copy with stored zeros dropped; rejects negative or non-finite data."""
    if not sp.issparse(matrix) or matrix.ndim != 2:
        raise InteractionsError("iALS training data must be a 2-D scipy sparse matrix")
    observed = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    observed.sum_duplicates()
    bad = np.flatnonzero(~np.isfinite(observed.data) | (observed.data < 0))
    if len(bad):
        row = int(np.searchsorted(observed.indptr, bad[0], side="right") - 1)
        raise InteractionsError(
            f"iALS training weights must be finite and >= 0; entry (row {row}, "
            f"column {int(observed.indices[bad[0]])}) is {float(observed.data[bad[0]])!r}"
        )
    observed.eliminate_zeros()
    return observed


@dataclass(frozen=True)
class HalfEpoch:
    """What one side's half-epoch reuses every epoch: the rows' entries and their ridge."""

    matrix: sp.csr_matrix
    entry_rows: IntArray
    ridge: FloatArray
    unobserved_weight: float
    dense_max_cells: int = DENSE_PRODUCT_MAX_CELLS

    @classmethod
    def of(cls, matrix: sp.csr_matrix, other_side: int, settings: FactorSettings) -> HalfEpoch:
        counts = np.diff(matrix.indptr)
        ridge = regularisation(
            counts, other_side, settings.unobserved_weight, settings.l2, settings.exponent
        )
        return cls(
            matrix,
            np.repeat(np.arange(matrix.shape[0], dtype=np.int64), counts),
            ridge,
            settings.unobserved_weight,
        )

    def solve(self, rows: Factors, other: Factors, steps: int) -> Float32Array:
        """``steps`` CG steps on every row's normal equations at once, warm-started at ``rows``.

        Row ``r`` solves ``(α0·OᵀO + reg_r·I + O_rᵀO_r) v = O_rᵀ x_r`` with ``O = other``. CG
        on a symmetric positive-definite system never increases the quadratic it minimises, so
        a half-epoch never increases the loss (up to float32 rounding).
        """
        dtype = rows.dtype
        other = np.asarray(other, dtype=dtype)
        gramian = (self.unobserved_weight * (other.astype(np.float64).T @ other)).astype(dtype)
        ridge = self.ridge.astype(dtype)[:, np.newaxis]
        products = sp.csr_matrix(
            (np.empty(len(self.matrix.indices), dtype), self.matrix.indices, self.matrix.indptr),
            shape=self.matrix.shape,
        )

        dense_products = self.matrix.shape[0] * self.matrix.shape[1] <= self.dense_max_cells
        gathered = other[:0] if dense_products else other[self.matrix.indices]

        def apply(vectors: Factors) -> Factors:
            if dense_products:
                products.data = (vectors @ other.T)[self.entry_rows, self.matrix.indices]
            else:
                products.data = np.einsum("nd,nd->n", vectors[self.entry_rows], gathered)
            result = np.asarray(products @ other)
            result += vectors @ gramian
            result += ridge * vectors
            return result

        solution = np.array(rows, dtype=dtype)
        residual = np.asarray(self.matrix.astype(dtype, copy=False) @ other) - apply(solution)
        direction = residual.copy()
        residual_norm = np.einsum("rd,rd->r", residual, residual)
        for _ in range(steps):
            applied = apply(direction)
            curvature = np.einsum("rd,rd->r", direction, applied)
            step = residual_norm / np.maximum(curvature, CG_DENOMINATOR_FLOOR)
            solution += step[:, np.newaxis] * direction
            residual -= step[:, np.newaxis] * applied
            new_norm = np.einsum("rd,rd->r", residual, residual)
            ratio = new_norm / np.maximum(residual_norm, CG_DENOMINATOR_FLOOR)
            direction = residual + ratio[:, np.newaxis] * direction
            residual_norm = new_norm
        return solution.astype(np.float32, copy=False)


def ials_loss(
    matrix: sp.csr_matrix,
    user_factors: Factors,
    item_factors: Factors,
    settings: FactorSettings,
) -> float:
    """The iALS objective of the module docstring, in float64 (used to check training)."""
    observed = training_matrix(matrix)
    users = np.asarray(user_factors, dtype=np.float64)
    items = np.asarray(item_factors, dtype=np.float64)
    n_users, n_items = observed.shape
    entry_rows = np.repeat(np.arange(n_users), np.diff(observed.indptr))
    predictions = np.einsum("nd,nd->n", users[entry_rows], items[observed.indices])
    data_term = float(np.sum((observed.data.astype(np.float64) - predictions) ** 2))
    unobserved_term = settings.unobserved_weight * float(
        np.sum((users.T @ users) * (items.T @ items))
    )
    user_ridge = regularisation(
        np.diff(observed.indptr),
        n_items,
        settings.unobserved_weight,
        settings.l2,
        settings.exponent,
    )
    item_ridge = regularisation(
        np.bincount(observed.indices, minlength=n_items),
        n_users,
        settings.unobserved_weight,
        settings.l2,
        settings.exponent,
    )
    ridge_term = float(
        user_ridge @ np.sum(users**2, axis=1) + item_ridge @ np.sum(items**2, axis=1)
    )
    return data_term + unobserved_term + ridge_term


class ItemFactors:
    """Item factors plus what folding a user in needs: the α0·HᵀH gramian, computed once in float64.

    A float64 copy of the factors is kept beside the float32 ones so a request never converts the
    whole matrix: scoring is one matrix-vector product.
    """

    def __init__(
        self,
        factors: npt.NDArray[np.floating[Any]],
        unobserved_weight: float,
        l2: float,
        exponent: float,
    ) -> None:
        if np.ndim(factors) != 2:
            raise InvalidRequestError(
                f"item factors must be a 2-D array, got shape {np.shape(factors)}"
            )
        FactorSettings(
            dim=int(np.shape(factors)[1]),
            unobserved_weight=unobserved_weight,
            l2=l2,
            exponent=exponent,
        )
        self.factors: Float32Array = np.ascontiguousarray(factors, dtype=np.float32)
        self.unobserved_weight = float(unobserved_weight)
        self.l2 = float(l2)
        self.exponent = float(exponent)
        self._factors64: FloatArray = self.factors.astype(np.float64)
        self._gramian: FloatArray = self.unobserved_weight * (self._factors64.T @ self._factors64)
        self._norms: FloatArray = np.linalg.norm(self._factors64, axis=1)

    @property
    def n_items(self) -> int:
        return int(self.factors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.factors.shape[1])

    def user_vector(
        self, items: npt.NDArray[np.integer[Any]], values: npt.NDArray[np.floating[Any]]
    ) -> FloatArray:
        """The exact user half-step for this history (zeros for an empty one)."""
        items, values = self._history(items, values)
        if len(items) == 0:
            return np.zeros(self.dim, dtype=np.float64)
        system, rhs = self._system(items, values)
        return _solve_positive_definite(system, rhs)

    def scores(
        self, items: npt.NDArray[np.integer[Any]], values: npt.NDArray[np.floating[Any]]
    ) -> FloatArray:
        """``H · w_u`` for the folded-in user: one score per item of the catalogue."""
        return np.asarray(self._factors64 @ self.user_vector(items, values), dtype=np.float64)

    def score_histories(
        self,
        histories: sp.csr_matrix,
        block_rows: int = DEFAULT_BLOCK_ROWS,
        block_floats: int = PADDED_BLOCK_FLOATS,
    ) -> FloatArray:
        """``scores`` for every row of ``histories`` (rows × n_items), solved block by block.

        Rows are sorted by history length so that the padded gather of a block wastes little;
        a block holds at most ``block_rows`` rows and at most ``block_floats`` gathered floats
        (or a single row), so memory stays bounded whatever the longest history.
        """
        if block_rows < 1 or block_floats < 1:
            raise InvalidRequestError(
                f"block_rows={block_rows} and block_floats={block_floats} must be at least 1"
            )
        rows = self._histories(histories)
        lengths = np.diff(rows.indptr)
        order = np.argsort(lengths, kind="stable")
        scores = np.zeros((rows.shape[0], self.n_items), dtype=np.float64)
        start = int(np.searchsorted(lengths[order], 0, side="right"))
        while start < len(order):
            stop = self._block_stop(lengths[order], start, block_rows, block_floats)
            block = order[start:stop]
            vectors = self._solve_block(rows, block, int(lengths[order[stop - 1]]))
            scores[block] = vectors @ self._factors64.T
            start = stop
        return scores

    def contributions(
        self,
        items: npt.NDArray[np.integer[Any]],
        values: npt.NDArray[np.floating[Any]],
        targets: npt.NDArray[np.integer[Any]],
    ) -> FloatArray:
        """``values[j] · h_tᵀ A⁻¹ h_j``: what history entry ``j`` adds to target ``t``'s score.

        The fold-in is linear in the right-hand side ``Σ_j values[j] h_j`` once ``A`` is fixed by
        the history, so these shares sum over ``j`` to exactly the target's score; they explain a
        recommendation as EASE's ``values[j] · B[j, t]`` do.
        """
        entries = np.asarray(items, dtype=np.int64)
        entry_values = np.asarray(values, dtype=np.float64)
        target_items = np.asarray(targets, dtype=np.int64)
        self._check_items(target_items, "targets")
        canonical_items, canonical_values = self._history(entries, entry_values)
        if len(canonical_items) == 0:
            return np.zeros((len(entries), len(target_items)), dtype=np.float64)
        system, _ = self._system(canonical_items, canonical_values)
        solved = _solve_positive_definite(system, self._factors64[entries].T)
        shares = (self._factors64[target_items] @ solved).T
        return np.asarray(shares * entry_values[:, np.newaxis], dtype=np.float64)

    def similar(self, position: int) -> FloatArray:
        """Cosine similarity of item ``position``'s factors to every item; zero-norm items get 0."""
        if not 0 <= position < self.n_items:
            raise InvalidRequestError(
                f"item position {position} is outside the catalogue of {self.n_items} items"
            )
        norm = self._norms[position]
        if norm == 0:
            return np.zeros(self.n_items, dtype=np.float64)
        dots = self._factors64 @ self._factors64[position]
        denominators = self._norms * norm
        safe = np.where(denominators > 0, denominators, 1.0)
        return np.asarray(np.where(denominators > 0, dots / safe, 0.0), dtype=np.float64)

    # ---- fold-in internals ------------------------------------------------------------------

    def _ridge(self, counts: npt.NDArray[np.integer[Any]] | int) -> FloatArray:
        return regularisation(counts, self.n_items, self.unobserved_weight, self.l2, self.exponent)

    def _system(self, items: IntArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``A = α0·HᵀH + reg_u·I + H_uᵀH_u`` and ``b = H_uᵀ x_u`` for a canonical history."""
        rows = self._factors64[items]
        system = rows.T @ rows
        system += self._gramian
        system.ravel()[:: self.dim + 1] += self.l2 * self._ridge_base(len(items)) ** self.exponent
        return system, values @ rows

    def _ridge_base(self, count: int) -> float:
        """``n_u + α0 · n_items`` in plain floats, as :func:`regularisation` guards it; a
        request pays for no array allocation here."""
        base = count + self.unobserved_weight * self.n_items
        return base if base > 0 else 1.0

    def _history(
        self, items: npt.NDArray[np.integer[Any]], values: npt.NDArray[np.floating[Any]]
    ) -> tuple[IntArray, FloatArray]:
        """Distinct items with summed, non-zero values, as a canonical CSR row would hold them.

        Histories rarely repeat an item, so the sort that detects repeats (and bounds-checks) is
        all a request pays; ``np.unique`` costs several times more and runs only on a repeat.
        """
        item_array = np.asarray(items, dtype=np.int64).reshape(-1)
        value_array = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(item_array) != len(value_array):
            raise InvalidRequestError(
                f"history has {len(item_array)} items but {len(value_array)} values"
            )
        if len(item_array) == 0:
            return item_array, value_array
        ordered = np.sort(item_array)
        self._check_range(int(ordered[0]), int(ordered[-1]), "history items")
        if not math.isfinite(float(value_array.sum())):
            raise InvalidRequestError("history values must be finite")
        if np.any(ordered[1:] == ordered[:-1]):
            item_array, inverse = np.unique(item_array, return_inverse=True)
            summed = np.bincount(inverse, weights=value_array, minlength=len(item_array))
            value_array = summed.astype(np.float64)
        if value_array.all():
            return item_array, value_array
        keep = value_array != 0
        return item_array[keep], value_array[keep]

    def _check_items(self, items: IntArray, what: str) -> None:
        if len(items):
            self._check_range(int(items.min()), int(items.max()), what)

    def _check_range(self, lowest: int, highest: int, what: str) -> None:
        for position in (lowest, highest):
            if not 0 <= position < self.n_items:
                raise InvalidRequestError(
                    f"{what}: item position {position} is outside the catalogue of "
                    f"{self.n_items} items"
                )

    def _histories(self, histories: sp.csr_matrix) -> sp.csr_matrix:
        if not sp.issparse(histories) or histories.ndim != 2:
            raise InvalidRequestError("histories must be a 2-D scipy sparse matrix")
        if histories.shape[1] != self.n_items:
            raise InvalidRequestError(
                f"histories have {histories.shape[1]} columns but the catalogue has "
                f"{self.n_items} items"
            )
        rows = sp.csr_matrix(histories, dtype=np.float64, copy=True)
        rows.sum_duplicates()
        if not np.all(np.isfinite(rows.data)):
            raise InvalidRequestError("history values must be finite")
        rows.eliminate_zeros()
        return rows

    def _block_stop(
        self, sorted_lengths: npt.NDArray[np.integer[Any]], start: int, rows: int, floats: int
    ) -> int:
        """End of the block starting at ``start``: the most rows, up to ``rows``, whose padded
        gather (rows × longest history × dim) fits ``floats``; at least one row."""
        stops = np.arange(start + 1, min(start + rows, len(sorted_lengths)) + 1)
        padded = (stops - start) * sorted_lengths[stops - 1].astype(np.int64) * self.dim
        return start + max(1, int(np.count_nonzero(padded <= floats)))

    def _solve_block(self, rows: sp.csr_matrix, block: IntArray, longest: int) -> FloatArray:
        """Folded-in vectors of the non-empty rows ``block``: one stacked ``np.linalg.solve``."""
        starts = rows.indptr[block]
        lengths = rows.indptr[block + 1] - starts
        owners = np.repeat(np.arange(len(block)), lengths)
        slots = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        entries = np.repeat(starts, lengths) + slots
        gathered = np.zeros((len(block), longest, self.dim), dtype=np.float64)
        gathered[owners, slots] = self._factors64[rows.indices[entries]]
        weights = np.zeros((len(block), longest, 1), dtype=np.float64)
        weights[owners, slots, 0] = rows.data[entries]
        transposed = gathered.transpose(0, 2, 1)
        systems = transposed @ gathered
        systems += self._gramian
        diagonal = np.arange(self.dim)
        systems[:, diagonal, diagonal] += self._ridge(lengths)[:, np.newaxis]
        solved = np.linalg.solve(systems, transposed @ weights)
        return np.asarray(solved[:, :, 0], dtype=np.float64)


def _solve_positive_definite(system: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve ``system · x = rhs`` by Cholesky (LAPACK ``posv``).

    The fold-in system is symmetric positive definite (a Gram matrix plus ``reg_u·I``, reg_u > 0),
    so Cholesky does half the arithmetic of ``np.linalg.solve``'s LU, on a solve that every
    blended request runs. Should rounding make the factorisation fail, the LU solve answers.
    """
    _, solution, info = lapack.dposv(system, rhs, lower=0)
    if info != 0:
        return np.asarray(np.linalg.solve(system, rhs), dtype=np.float64)
    return np.asarray(solution, dtype=np.float64)
