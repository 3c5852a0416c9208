"""user-personalization (the default recipe) and personalized-ranking.

Both score a user from their history *as it is at request time*: ``scores = x_u W`` for an
item-item matrix ``W``, so an event recorded a moment ago changes the next answer, and a user
unseen in training is scored from the events they have sent so far.

``W`` is EASE's dense ``B`` (``ease.py``) for catalogues up to ``dense_max_items`` items, or a
sparse top-``neighbors`` cosine item-kNN matrix beyond (a dense matrix grows with the square
of the catalogue). Either way, ``popularity_exponent`` γ scales target columns by
``popularity^γ``: γ < 0 discounts blockbusters, γ > 0 favours them; it is a hyperparameter like
the others, chosen on a validation split. (It scales magnitudes, so for the few items with a
*negative* EASE score, the ones least related to the history, a discount moves them towards
zero, still below every positively scored item.)

Two optional refinements, both hyperparameters chosen on validation data:

* side information in EASE's Gram matrix (``category_weight``, ``time_weight``): items of one
  category, or used in the same fortnights, are treated as more alike (``item_signals.py``);
* a ``blend``: the final score is ``Σ w_k f_k`` over features of the user and item — the
  item-item score and an implicit-ALS factor score (``factors.py``), each z-scored over the
  items the user has not used, the item's log popularity, the log of its uses while the user
  was active (a month either side of their training span) and its mean event value. The
  weights are learned on a validation split (``tuning.learn_blend``). The factor score is
  folded in from the current history too, so events still change the next answer at once.

Scores returned are probabilities over the whole catalogue (``calibration.py``). The reason
for an item names the history items contributing most to its item-item score, e.g. "because
you use Amazon S3 and AWS Lambda".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_info

from srs.arrays import Array, FloatArray, IntArray
from srs.engine.calibration import (
    DEFAULT_SAMPLE_USERS,
    MIN_SAMPLE_USERS,
    calibration_sample,
    fit_temperature,
    softmax,
)
from srs.engine.ease import ease_weights, ease_weights_from_rows, rows_are_cheaper
from srs.engine.errors import HyperparameterError
from srs.engine.factors import FactorSettings, ItemFactors, fit_item_factors
from srs.engine.item_signals import (
    UsageCounts,
    activity_spans,
    add_side_information,
    category_matrix,
    frame_columns,
    mean_values,
    side_rows,
    time_histogram,
)
from srs.engine.matrix import DENSE_GRAM_MAX_ITEMS, InteractionMatrix
from srs.engine.reasons import IN_HISTORY, NOT_A_CONTRIBUTOR, REASON_ITEMS
from srs.engine.recipes.base import ItemItemRecipe, Span
from srs.engine.similarity import cosine, dense_block, dense_row, top_k_similarity, weighted_row_sum
from srs.engine.weights import EventWeights
from srs.engine.zscores import zscore_row, zscore_unseen

_Part = TypeVar("_Part")
_NO_COLUMNS: Final = (
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.float64),
)
ALGORITHMS: Final = ("auto", "ease", "item-knn")
DEFAULT_L2: Final = 1.0
DEFAULT_DIAG_WEIGHT: Final = 1.0
DEFAULT_NEIGHBORS: Final = 100
DEFAULT_DENSE_MAX_ITEMS: Final = 20_000
BLEND_FEATURES: Final = ("item_item", "factors", "popularity", "window", "value")
"""The blend's features, in the order ``blend_features`` returns them."""
ITEM_FEATURES: Final = frozenset({"popularity", "value"})
"""Blend features of the item alone (the same for every user)."""
BLEND_SCORING_COST: Final = 2
"""About how many times a plain score a blended one costs in a batch (a factor solve per
user, two z-scores): the temperature is calibrated on that many times fewer users, so that
calibration keeps its time budget (the temperature never changes a ranking)."""


class UserPersonalization(ItemItemRecipe):
    """Personalize's user-personalization: items for a user, from their current history."""

    name: ClassVar[str] = "user-personalization"

    def __init__(
        self,
        *,
        weights: EventWeights | None = None,
        algorithm: Literal["auto", "ease", "item-knn"] = "auto",
        l2: float = DEFAULT_L2,
        diag_weight: float = DEFAULT_DIAG_WEIGHT,
        popularity_exponent: float = 0.0,
        neighbors: int = DEFAULT_NEIGHBORS,
        dense_max_items: int = DEFAULT_DENSE_MAX_ITEMS,
        calibration_users: int = DEFAULT_SAMPLE_USERS,
        seed: int = 0,
        category_weight: float = 0.0,
        time_weight: float = 0.0,
        blend: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(weights)
        if algorithm not in ALGORITHMS:
            raise HyperparameterError(
                f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}"
            )
        _check(l2 > 0, "l2 must be > 0", l2)
        _check(diag_weight >= 0, "diag_weight must be >= 0", diag_weight)
        _check(
            -2.0 <= popularity_exponent <= 2.0,
            "popularity_exponent must be in [-2, 2]",
            popularity_exponent,
        )
        _check(neighbors >= 1, "neighbors must be >= 1", neighbors)
        _check(dense_max_items >= 1, "dense_max_items must be >= 1", dense_max_items)
        _check(calibration_users >= 1, "calibration_users must be >= 1", calibration_users)
        _check(category_weight >= 0, "category_weight must be >= 0", category_weight)
        _check(time_weight >= 0, "time_weight must be >= 0", time_weight)
        self.blend = check_blend(blend)
        self.category_weight = float(category_weight)
        self.time_weight = float(time_weight)
        self.algorithm = algorithm
        self.l2 = float(l2)
        self.diag_weight = float(diag_weight)
        self.popularity_exponent = float(popularity_exponent)
        self.neighbors = int(neighbors)
        self.dense_max_items = int(dense_max_items)
        self.calibration_users = int(calibration_users)
        self.seed = int(seed)
        self.fitted_algorithm = ""
        self.temperature = 1.0
        self._dense: npt.NDArray[np.float32] | None = None
        self._sparse: sp.csr_matrix | None = None
        self._factors: ItemFactors | None = None
        self._usage: UsageCounts | None = None
        self._value_means: FloatArray | None = None
        self._spans: IntArray | None = None

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "l2": self.l2,
            "diag_weight": self.diag_weight,
            "popularity_exponent": self.popularity_exponent,
            "neighbors": self.neighbors,
            "dense_max_items": self.dense_max_items,
            "calibration_users": self.calibration_users,
            "seed": self.seed,
            "category_weight": self.category_weight,
            "time_weight": self.time_weight,
            "blend": dict(self.blend) if self.blend else None,
        }

    @property
    def dense_weights(self) -> npt.NDArray[np.float32] | None:
        """EASE's ``B`` (items × items, float32) when the fitted algorithm is dense, else None."""
        return self._dense

    @property
    def fills_with_popular(self) -> bool:
        return self.fitted_algorithm == "item-knn" and not self.blend

    @property
    def answers_quickly(self) -> bool:
        """A blended request folds the user into the factor model (a small solve) and scores
        five features, too slow to work out every training user's answer before serving."""
        return not self.blend

    # ---- fitting -----------------------------------------------------------------------------

    def _fit_model(
        self, data: InteractionMatrix, frame: pd.DataFrame, items: pd.DataFrame | None
    ) -> None:
        n_items = data.shape[1]
        use_dense = self.algorithm == "ease" or (
            self.algorithm == "auto" and n_items <= self.dense_max_items
        )
        column_scale = np.maximum(self.catalogue.popularity, 1.0) ** self.popularity_exponent
        self._dense, self._sparse = None, None
        uses_time = bool(self.blend) or (use_dense and self.time_weight > 0)
        positions, stamps, values = (
            frame_columns(frame, data.item_ids) if uses_time else _NO_COLUMNS
        )
        fit_factors = bool(self.blend.get("factors"))
        with ThreadPoolExecutor(max_workers=1) as pool:
            # With BLAS on one thread, the factor model trains beside the item-item solve
            # (numpy and LAPACK release the GIL); with more, the two would only contend.
            aside = fit_factors and blas_single_threaded()
            factors = pool.submit(self._fit_factors, data) if aside else None
            self._fit_item_item(data, items, positions, stamps, use_dense, column_scale)
            self._fit_blend(data, frame, positions, stamps, values)
            if factors is not None:
                self._factors = factors.result()
            else:
                self._factors = self._fit_factors(data) if fit_factors else None
        sample = min(self.calibration_users, calibration_sample(n_items))
        if self.blend:
            sample = max(MIN_SAMPLE_USERS, sample // BLEND_SCORING_COST)
        self.temperature = fit_temperature(self.score_histories, data.matrix, sample, self.seed)

    def _fit_item_item(
        self,
        data: InteractionMatrix,
        items: pd.DataFrame | None,
        positions: IntArray,
        stamps: npt.NDArray[np.int64],
        use_dense: bool,
        column_scale: FloatArray,
    ) -> None:
        n_items = data.shape[1]
        if use_dense:
            dtype = np.float64 if n_items <= DENSE_GRAM_MAX_ITEMS // 2 else np.float32
            sides = (
                [
                    (self.category_weight, category_matrix(data.item_ids, items)),
                    (self.time_weight, time_histogram(positions, stamps, n_items)),
                ]
                if self.category_weight or self.time_weight
                else []
            )
            extra = sum(side.shape[1] for weight, side in sides if weight)
            if rows_are_cheaper(data.shape[0] + extra, n_items, data.matrix.nnz):
                rows = side_rows(data.matrix, sides)
                weights = ease_weights_from_rows(rows, self.l2, self.diag_weight, dtype)
            else:
                gram = data.gram(dtype, lower_only=True)
                add_side_information(gram, sides)
                weights = ease_weights(gram, self.l2, self.diag_weight)
            weights *= column_scale.astype(weights.dtype)[np.newaxis, :]
            self._dense = weights.astype(np.float32, copy=False)
            self.fitted_algorithm = "ease"
        else:
            norms = np.sqrt(np.asarray(data.matrix.multiply(data.matrix).sum(axis=0)).ravel())
            similarity = top_k_similarity(data.matrix, self.neighbors, cosine(norms))
            self._sparse = sp.csr_matrix(similarity @ sp.diags(column_scale.astype(np.float32)))
            self.fitted_algorithm = "item-knn"

    def _fit_factors(self, data: InteractionMatrix) -> ItemFactors:
        settings = FactorSettings(seed=self.seed)
        return ItemFactors(
            fit_item_factors(data.matrix, settings),
            settings.unobserved_weight,
            settings.l2,
            settings.exponent,
        )

    def _fit_blend(
        self,
        data: InteractionMatrix,
        frame: pd.DataFrame,
        positions: IntArray,
        stamps: npt.NDArray[np.int64],
        values: FloatArray,
    ) -> None:
        """What the blend's features need besides the two models (nothing without a blend)."""
        self._usage, self._value_means, self._spans = None, None, None
        if not self.blend:
            return
        n_items = data.shape[1]
        self._usage = UsageCounts.build(positions, stamps, n_items)
        self._value_means = mean_values(positions, values, n_items)
        self._spans = np.stack(activity_spans(frame, data.user_ids), axis=1)

    def _model_arrays(self) -> dict[str, Array]:
        arrays: dict[str, Array] = {}
        if self._dense is not None:
            arrays["item_weights"] = self._dense
        elif self._sparse is not None:
            arrays.update(
                similarity_indptr=self._sparse.indptr.astype(np.int64),
                similarity_indices=self._sparse.indices.astype(np.int32),
                similarity_values=self._sparse.data.astype(np.float32),
            )
        if self._factors is not None:
            arrays["item_factors"] = self._factors.factors
        if self._usage is not None and self._value_means is not None and self._spans is not None:
            arrays.update(
                usage_counts=self._usage.cumulative,
                value_means=self._value_means,
                user_spans=self._spans,
            )
        return arrays

    def _model_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "algorithm": self.fitted_algorithm,
            "temperature": self.temperature,
        }
        if self._usage is not None:
            state.update(usage_start=self._usage.start, usage_bin_seconds=self._usage.bin_seconds)
        if self._factors is not None:
            state.update(
                factor_unobserved_weight=self._factors.unobserved_weight,
                factor_l2=self._factors.l2,
                factor_exponent=self._factors.exponent,
            )
        return state

    def _restore_model(self, arrays: Mapping[str, Array], state: Mapping[str, Any]) -> None:
        self.fitted_algorithm = str(state["algorithm"])
        self.temperature = float(state["temperature"])
        n_items = len(self.catalogue)
        if self.fitted_algorithm == "ease":
            self._dense = arrays["item_weights"]
            self._sparse = None
        else:
            self._dense = None
            self._sparse = sp.csr_matrix(
                (
                    arrays["similarity_values"],
                    arrays["similarity_indices"],
                    arrays["similarity_indptr"],
                ),
                shape=(n_items, n_items),
            )
        self._factors, self._usage, self._value_means, self._spans = None, None, None, None
        if not self.blend:
            return
        if self.blend.get("factors"):
            self._factors = ItemFactors(
                arrays["item_factors"],
                float(state["factor_unobserved_weight"]),
                float(state["factor_l2"]),
                float(state["factor_exponent"]),
            )
        self._usage = UsageCounts(
            int(state["usage_start"]), int(state["usage_bin_seconds"]), arrays["usage_counts"]
        )
        self._value_means = arrays["value_means"]
        self._spans = arrays["user_spans"]

    # ---- scoring -----------------------------------------------------------------------------

    def _history_scores(
        self, items: IntArray, values: FloatArray, span: Span | None = None
    ) -> FloatArray:
        base = self._item_item_scores(items, values)
        if not self.blend:
            return base
        seen = np.zeros(len(base), dtype=bool)
        seen[items] = True
        total = np.zeros(len(base))
        for name, feature in self._features(base, seen, items, values, span).items():
            total += self.blend[name] * feature
        return total

    def _item_item_scores(self, items: IntArray, values: FloatArray) -> FloatArray:
        if self._dense is not None:
            rows = self._dense.take(items, axis=0)
            return np.asarray(values.astype(np.float32) @ rows, dtype=np.float64)
        similarity = self._require_sparse()
        return weighted_row_sum(similarity, items, values)

    def _features(
        self,
        base: FloatArray,
        seen: npt.NDArray[np.bool_],
        items: IntArray,
        values: FloatArray,
        span: Span | None,
        every: bool = False,
    ) -> dict[str, FloatArray]:
        """The blend's features for one user (those with a weight, or ``every`` one)."""
        wanted = (
            tuple(name for name in BLEND_FEATURES if name != "factors" or self._factors is not None)
            if every
            else tuple(name for name in self.blend if self.blend[name])
        )
        features: dict[str, FloatArray] = {}
        for name in wanted:
            if name == "item_item":
                features[name] = zscore_row(base, seen)
            elif name == "factors":
                # The factor model folds in confidences, which a dislike's sign is not.
                liked = values > 0
                factor_scores = self._require_factors().scores(items[liked], values[liked])
                features[name] = zscore_row(factor_scores, seen)
            elif name == "popularity":
                features[name] = self.catalogue.log_popularity
            elif name == "window":
                features[name] = self._window_feature(span)
            else:
                features[name] = self._require_blend_part(self._value_means)
        return features

    def _window_feature(self, span: Span | None) -> FloatArray:
        usage = self._require_blend_part(self._usage)
        if span is None or span[0] > span[1]:
            return np.zeros(len(self.catalogue))
        return np.log1p(usage.within(span[0], span[1]))

    def _user_span(self, user_id: str | None) -> Span | None:
        spans, histories = self._spans, self._histories
        if spans is None or histories is None or user_id is None:
            return None
        row = histories.index.get(user_id)
        if row is None or spans[row, 0] > spans[row, 1]:
            return None
        return int(spans[row, 0]), int(spans[row, 1])

    def blend_features(
        self, histories: sp.csr_matrix, spans: IntArray | None = None
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Item-item scores and every blend feature (rows × catalogue each) for a batch of
        histories: what ``tuning.learn_blend`` learns weights on. Requests compute the same
        features one user at a time (the batch solves may differ in the last bits)."""
        histories = sp.csr_matrix(histories, dtype=np.float32)
        n_rows, n_items = histories.shape[0], len(self.catalogue)
        base = np.asarray(self._item_item_batch(histories), dtype=np.float64)
        seen = np.zeros((n_rows, n_items), dtype=bool)
        seen[np.repeat(np.arange(n_rows), np.diff(histories.indptr)), histories.indices] = True
        features = {"item_item": zscore_unseen(base, seen)}
        if self._factors is not None:
            liked = sp.csr_matrix(histories.multiply(histories > 0), dtype=np.float32)
            features["factors"] = zscore_unseen(self._factors.score_histories(liked), seen)
        features["popularity"] = np.broadcast_to(self.catalogue.log_popularity, (n_rows, n_items))
        usage = self._require_blend_part(self._usage)
        features["window"] = (
            np.log1p(usage.within_spans(spans))
            if spans is not None
            else np.zeros((n_rows, n_items))
        )
        features["value"] = np.broadcast_to(
            self._require_blend_part(self._value_means), (n_rows, n_items)
        )
        return base, features

    def score_histories(self, histories: sp.csr_matrix, spans: IntArray | None = None) -> Array:
        histories = sp.csr_matrix(histories, dtype=np.float32)
        if not self.blend:
            return self._item_item_batch(histories)
        total = np.zeros((histories.shape[0], len(self.catalogue)))
        if len(total) == 0:
            return total
        _, features = self.blend_features(histories, spans)
        per_item = np.zeros(len(self.catalogue))
        for name, weight in self.blend.items():
            if name in ITEM_FEATURES:
                per_item += weight * features[name][0]  # every row holds the same values
            else:
                total += weight * features[name]
        total += per_item
        return total

    def _item_item_batch(self, histories: sp.csr_matrix) -> Array:
        if self._dense is not None:
            return np.asarray(histories @ self._dense)
        return np.asarray((histories @ self._require_sparse()).toarray())

    def _require_factors(self) -> ItemFactors:
        return self._require_blend_part(self._factors)

    def _probabilities(self, raw: FloatArray) -> FloatArray:
        return softmax(raw, self.temperature)

    def _batch_probabilities(self, raw: FloatArray) -> FloatArray:
        return softmax(raw, self.temperature)

    def _reason_keys(self, histories: sp.csr_matrix, targets: IntArray) -> IntArray | None:
        """:func:`~srs.engine.reasons.contributor_reasons`' choice for a block of users at once.

        Each history entry's contribution to each of its user's targets is computed as a
        request computes it; per user and target the best is the first maximum in history
        order, as the request's stable sort picks it, then it is set aside for the next."""
        if self._dense is None:
            return None
        lengths = np.diff(histories.indptr)
        present = np.flatnonzero(lengths > 0)
        keys = np.full((*targets.shape, REASON_ITEMS), NOT_A_CONTRIBUTOR, dtype=np.int64)
        if len(present) == 0:
            return keys
        items = histories.indices.astype(np.int64)
        owners = np.repeat(np.arange(len(lengths)), lengths)
        contributions = self._dense[items[:, np.newaxis], targets[owners]].astype(np.float64)
        contributions *= histories.data.astype(np.float64)[:, np.newaxis]
        own = items[:, np.newaxis] == targets[owners]
        contributions[own] = -np.inf
        starts = histories.indptr[:-1][present]
        entries = np.arange(len(items))[:, np.newaxis]
        slots = np.arange(targets.shape[1])
        for rank in range(REASON_ITEMS):
            best = np.maximum.reduceat(contributions, starts, axis=0)
            is_best = contributions == best[np.searchsorted(present, owners)]
            first = np.minimum.reduceat(np.where(is_best, entries, len(items)), starts, axis=0)
            first = np.minimum(first, len(items) - 1)
            keys[present, :, rank] = np.where(best > 0, items[first], NOT_A_CONTRIBUTOR)
            contributions[first, slots] = -np.inf
        in_history = np.zeros(targets.shape, dtype=bool)
        np.logical_or.at(in_history, owners, own)
        keys[in_history] = IN_HISTORY
        return keys

    def _contributions(self, items: IntArray, values: FloatArray, targets: IntArray) -> FloatArray:
        if self._dense is not None:
            block = self._dense.take(items, axis=0).take(targets, axis=1).astype(np.float64)
        else:
            block = dense_block(self._require_sparse(), items, targets)
        contributions: FloatArray = block * values[:, np.newaxis]
        return contributions

    def _item_scores(self, position: int) -> FloatArray | None:
        if self._dense is not None:
            return np.asarray(self._dense[position], dtype=np.float64)
        return dense_row(self._require_sparse(), position)

    def _require_blend_part(self, part: _Part | None) -> _Part:
        if part is None:
            raise RuntimeError("the blend's model parts are missing: the model is not fitted")
        return part

    def _require_sparse(self) -> sp.csr_matrix:
        if self._sparse is None:
            raise RuntimeError("no item-item matrix: the model is not fitted")
        return self._sparse


class PersonalizedRanking(UserPersonalization):
    """Personalize's personalized-ranking: the same model, used through ``rank``."""

    name: ClassVar[str] = "personalized-ranking"


def blas_single_threaded() -> bool:
    """Whether every loaded BLAS runs on one thread (as ``fit(..., threads=1)`` sets it)."""
    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return bool(counts) and max(counts) == 1


def check_blend(blend: Mapping[str, float] | None) -> dict[str, float]:
    """Blend weights by feature name, zero weights left out (empty: no blend); unknown names
    and non-finite weights are refused, since a typo would otherwise silently drop a feature."""
    if not blend:
        return {}
    unknown = sorted(set(blend) - set(BLEND_FEATURES))
    if unknown:
        raise HyperparameterError(
            f"blend has unknown feature(s) {', '.join(unknown)}; known: {', '.join(BLEND_FEATURES)}"
        )
    weights: dict[str, float] = {}
    for name in BLEND_FEATURES:
        if name in blend:
            value = blend[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise HyperparameterError(f"blend[{name!r}] must be a number, got {value!r}")
            if not math.isfinite(value):
                raise HyperparameterError(f"blend[{name!r}] must be finite, got {value!r}")
            if value:
                weights[name] = float(value)
    return weights


def _check(condition: bool, message: str, value: object) -> None:
    if not condition:
        raise HyperparameterError(f"{message}, got {value!r}")
