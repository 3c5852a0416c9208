"""popularity-count: the most popular items, for everyone.

Popularity is the number of distinct users who interacted with an item (any event type with a
positive weight), as Personalize's Popularity-Count counts it: one user repeating an event
a hundred times counts once. It is the baseline every other recipe is compared with, and the
answer every recipe gives a user it knows nothing about.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from srs.arrays import Array, FloatArray, IntArray
from srs.engine.matrix import InteractionMatrix
from srs.engine.reasons import POPULAR_REASON
from srs.engine.recipes.base import Recipe, Span


class PopularityCount(Recipe):
    """Items by distinct-user count; scores are each item's share of all (user, item) pairs."""

    name: ClassVar[str] = "popularity-count"
    personal: ClassVar[bool] = False

    def hyperparameters(self) -> dict[str, Any]:
        return {}

    def _fit_model(
        self, data: InteractionMatrix, frame: pd.DataFrame, items: pd.DataFrame | None
    ) -> None:
        """Nothing beyond the catalogue's distinct-user counts, which every recipe keeps."""

    def _model_arrays(self) -> dict[str, Array]:
        return {}

    def _restore_model(self, arrays: Mapping[str, Array], state: Mapping[str, Any]) -> None:
        """The catalogue holds everything this recipe needs."""

    def _history_scores(
        self, items: IntArray, values: FloatArray, span: Span | None = None
    ) -> FloatArray:
        return self.catalogue.popularity

    def score_histories(self, histories: sp.csr_matrix, spans: IntArray | None = None) -> Array:
        return np.broadcast_to(
            self.catalogue.popularity, (histories.shape[0], len(self.catalogue))
        ).copy()

    def _probabilities(self, raw: FloatArray) -> FloatArray:
        return self.catalogue.popular_probabilities

    def _reasons(
        self,
        items: IntArray,
        values: FloatArray,
        targets: IntArray,
        raw: FloatArray,
        names: Mapping[str, str] | None,
    ) -> list[str]:
        return [POPULAR_REASON] * len(targets)
