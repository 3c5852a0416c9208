"""user-personalization (the default recipe) and personalized-ranking.

Both score a user from their history *as it is at request time*: ``scores = x_u W`` for an
item-item matrix ``W``, so an event recorded a moment ago changes the next answer, and a user
unseen in training is scored from the events they have sent so far.

``W`` is EASE's dense ``B`` (``ease.py``) for catalogues up to ``dense_max_items`` items, or a
sparse top-``neighbors`` cosine item-kNN matrix beyond (a dense 20k × 20k float32 matrix is
1.6 GB). Either way, ``popularity_exponent`` γ scales target columns by ``popularity^γ``: γ < 0
discounts blockbusters, γ > 0 favours them; it is a hyperparameter like the others, chosen on a
validation split. (It scales magnitudes, so for the few items with a *negative* EASE score, the
ones least related to the history, a discount moves them towards zero, still below every
positively scored item.)

Scores returned are probabilities over the whole catalogue (``calibration.py``). The reason
for an item names the history items contributing most to its score, e.g. "because you use
Amazon S3 and AWS Lambda".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from srs.engine.base import (
    NOT_A_CONTRIBUTOR,
    REASON_ITEMS,
    Array,
    FloatArray,
    IntArray,
    Recipe,
    contributor_reasons,
)
from srs.engine.calibration import (
    DEFAULT_SAMPLE_USERS,
    calibration_sample,
    fit_temperature,
    softmax,
)
from srs.engine.ease import ease_weights
from srs.engine.errors import HyperparameterError
from srs.engine.matrix import DENSE_GRAM_MAX_ITEMS, InteractionMatrix
from srs.engine.similarity import cosine, row_sum, top_k_similarity
from srs.engine.weights import EventWeights

ALGORITHMS: Final = ("auto", "ease", "item-knn")
DEFAULT_L2: Final = 1.0
DEFAULT_DIAG_WEIGHT: Final = 1.0
DEFAULT_NEIGHBORS: Final = 100
DEFAULT_DENSE_MAX_ITEMS: Final = 20_000


class UserPersonalization(Recipe):
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
        }

    @property
    def dense_weights(self) -> npt.NDArray[np.float32] | None:
        """EASE's ``B`` (items × items, float32) when the fitted algorithm is dense, else None."""
        return self._dense

    @property
    def fills_with_popular(self) -> bool:
        return self.fitted_algorithm == "item-knn"

    # ---- fitting -----------------------------------------------------------------------------

    def _fit_model(self, data: InteractionMatrix, frame: pd.DataFrame) -> None:
        n_items = data.shape[1]
        use_dense = self.algorithm == "ease" or (
            self.algorithm == "auto" and n_items <= self.dense_max_items
        )
        column_scale = np.maximum(self.catalogue.popularity, 1.0) ** self.popularity_exponent
        self._dense, self._sparse = None, None
        if use_dense:
            dtype = np.float64 if n_items <= DENSE_GRAM_MAX_ITEMS // 2 else np.float32
            gram = data.gram(dtype, lower_only=True)
            weights = ease_weights(gram, self.l2, self.diag_weight)
            weights *= column_scale.astype(weights.dtype)[np.newaxis, :]
            self._dense = weights.astype(np.float32, copy=False)
            self.fitted_algorithm = "ease"
        else:
            norms = np.sqrt(np.asarray(data.matrix.multiply(data.matrix).sum(axis=0)).ravel())
            similarity = top_k_similarity(data.matrix, self.neighbors, cosine(norms))
            self._sparse = sp.csr_matrix(similarity @ sp.diags(column_scale.astype(np.float32)))
            self.fitted_algorithm = "item-knn"
        sample = min(self.calibration_users, calibration_sample(n_items))
        self.temperature = fit_temperature(self.score_histories, data.matrix, sample, self.seed)

    def _model_arrays(self) -> dict[str, Array]:
        if self._dense is not None:
            return {"item_weights": self._dense}
        if self._sparse is None:
            return {}
        return {
            "similarity_indptr": self._sparse.indptr.astype(np.int64),
            "similarity_indices": self._sparse.indices.astype(np.int32),
            "similarity_values": self._sparse.data.astype(np.float32),
        }

    def _model_state(self) -> dict[str, Any]:
        return {"algorithm": self.fitted_algorithm, "temperature": self.temperature}

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

    # ---- scoring -----------------------------------------------------------------------------

    def _history_scores(self, items: IntArray, values: FloatArray) -> FloatArray:
        if self._dense is not None:
            rows = self._dense.take(items, axis=0)
            return np.asarray(values.astype(np.float32) @ rows, dtype=np.float64)
        similarity = self._require_sparse()
        return row_sum(
            similarity.indptr,
            similarity.indices,
            similarity.data,
            items,
            values,
            len(self.catalogue),
        )

    def score_histories(self, histories: sp.csr_matrix) -> Array:
        histories = sp.csr_matrix(histories, dtype=np.float32)
        if self._dense is not None:
            return np.asarray(histories @ self._dense)
        return np.asarray((histories @ self._require_sparse()).toarray())

    def _probabilities(self, raw: FloatArray) -> FloatArray:
        return softmax(raw, self.temperature)

    def _batch_probabilities(self, raw: FloatArray) -> FloatArray:
        return softmax(raw, self.temperature)

    def _reason_keys(self, histories: sp.csr_matrix, targets: IntArray) -> IntArray | None:
        """:func:`contributor_reasons`' choice for a block of users at once.

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
        return keys

    def _contributions(self, items: IntArray, values: FloatArray, targets: IntArray) -> FloatArray:
        """``values[h] · W[items[h], targets[t]]``: what history item ``h`` adds to target ``t``."""
        if self._dense is not None:
            block = self._dense.take(items, axis=0).take(targets, axis=1).astype(np.float64)
        else:
            block = self._require_sparse()[items][:, targets].toarray().astype(np.float64)
        contributions: FloatArray = block * values[:, np.newaxis]
        return contributions

    def _reasons(
        self,
        items: IntArray,
        values: FloatArray,
        targets: IntArray,
        raw: FloatArray,
        names: Mapping[str, str] | None,
    ) -> list[str]:
        if len(targets) == 0:
            return []
        unscored = raw[targets] <= 0 if self.fills_with_popular else None
        return contributor_reasons(
            self._contributions(items, values, targets),
            items,
            targets,
            self.catalogue,
            names,
            unscored,
        )

    def _item_scores(self, position: int) -> FloatArray | None:
        if self._dense is not None:
            return np.asarray(self._dense[position], dtype=np.float64)
        similarity = self._require_sparse()
        row = np.zeros(len(self.catalogue), dtype=np.float64)
        start, stop = similarity.indptr[position], similarity.indptr[position + 1]
        row[similarity.indices[start:stop]] = similarity.data[start:stop]
        return row

    def _require_sparse(self) -> sp.csr_matrix:
        if self._sparse is None:
            raise RuntimeError("no item-item matrix: the model is not fitted")
        return self._sparse


class PersonalizedRanking(UserPersonalization):
    """Personalize's personalized-ranking: the same model, used through ``rank``."""

    name: ClassVar[str] = "personalized-ranking"


def _check(condition: bool, message: str, value: object) -> None:
    if not condition:
        raise HyperparameterError(f"{message}, got {value!r}")
