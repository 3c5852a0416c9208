"""similar-items: SIMS-like item-to-item co-occurrence with a popularity discount.

Two items are similar when many users interacted with both. Raw co-occurrence would make the
most popular services everybody's neighbours, so the target item's popularity divides it:

    sim(i, j) = users(i and j) / (√users(i) · users(j)^popularity_discount)

(``similarity.discounted_cooccurrence``), keeping each item's ``neighbors`` best. Only who
interacted counts, not how strongly, as in Personalize's SIMS. For a user, the rows of their
history items are summed, weighted by the history values; items without co-occurrence are
filled in by popularity. An unknown item gets popular items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from srs.arrays import Array, FloatArray, IntArray
from srs.engine.errors import HyperparameterError
from srs.engine.matrix import InteractionMatrix
from srs.engine.recipes.base import ItemItemRecipe, Span
from srs.engine.similarity import (
    dense_block,
    dense_row,
    discounted_cooccurrence,
    top_k_similarity,
    weighted_row_sum,
)
from srs.engine.weights import EventWeights

DEFAULT_POPULARITY_DISCOUNT: Final = 0.5
DEFAULT_NEIGHBORS: Final = 100


class SimilarItems(ItemItemRecipe):
    """Personalize's SIMS: "users who used this also used"."""

    name: ClassVar[str] = "similar-items"

    def __init__(
        self,
        *,
        weights: EventWeights | None = None,
        popularity_discount: float = DEFAULT_POPULARITY_DISCOUNT,
        neighbors: int = DEFAULT_NEIGHBORS,
        min_cooccurrence: int = 1,
    ) -> None:
        super().__init__(weights)
        if not 0.0 <= popularity_discount <= 1.0:
            raise HyperparameterError(
                f"popularity_discount must be in [0, 1], got {popularity_discount!r}"
            )
        if neighbors < 1:
            raise HyperparameterError(f"neighbors must be >= 1, got {neighbors!r}")
        if min_cooccurrence < 1:
            raise HyperparameterError(f"min_cooccurrence must be >= 1, got {min_cooccurrence!r}")
        self.popularity_discount = float(popularity_discount)
        self.neighbors = int(neighbors)
        self.min_cooccurrence = int(min_cooccurrence)
        self._similarity: sp.csr_matrix | None = None

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "popularity_discount": self.popularity_discount,
            "neighbors": self.neighbors,
            "min_cooccurrence": self.min_cooccurrence,
        }

    @property
    def fills_with_popular(self) -> bool:
        return True

    def _fit_model(
        self, data: InteractionMatrix, frame: pd.DataFrame, items: pd.DataFrame | None
    ) -> None:
        who = data.matrix.copy()
        who.data = np.ones_like(who.data)
        self._similarity = top_k_similarity(
            who,
            self.neighbors,
            discounted_cooccurrence(self.catalogue.popularity, self.popularity_discount),
            min_cooccurrence=float(self.min_cooccurrence),
        )

    def _model_arrays(self) -> dict[str, Array]:
        similarity = self._require()
        return {
            "similarity_indptr": similarity.indptr.astype(np.int64),
            "similarity_indices": similarity.indices.astype(np.int32),
            "similarity_values": similarity.data.astype(np.float32),
        }

    def _restore_model(self, arrays: Mapping[str, Array], state: Mapping[str, Any]) -> None:
        n_items = len(self.catalogue)
        self._similarity = sp.csr_matrix(
            (
                arrays["similarity_values"],
                arrays["similarity_indices"],
                arrays["similarity_indptr"],
            ),
            shape=(n_items, n_items),
        )

    def _history_scores(
        self, items: IntArray, values: FloatArray, span: Span | None = None
    ) -> FloatArray:
        similarity = self._require()
        return weighted_row_sum(similarity, items, values)

    def score_histories(self, histories: sp.csr_matrix, spans: IntArray | None = None) -> Array:
        histories = sp.csr_matrix(histories, dtype=np.float32)
        return np.asarray((histories @ self._require()).toarray())

    def _contributions(self, items: IntArray, values: FloatArray, targets: IntArray) -> FloatArray:
        block = dense_block(self._require(), items, targets)
        contributions: FloatArray = block * values[:, np.newaxis]
        return contributions

    def _item_scores(self, position: int) -> FloatArray | None:
        return dense_row(self._require(), position)

    def _require(self) -> sp.csr_matrix:
        if self._similarity is None:
            raise RuntimeError("no similarity matrix: the model is not fitted")
        return self._similarity
