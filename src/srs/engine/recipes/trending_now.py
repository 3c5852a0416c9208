"""trending-now: items whose interactions grow fastest.

Interactions in the most recent window (``window_days`` up to the newest training timestamp)
are compared with the window before it:

    growth = (recent + m) / (previous + m)

where the smoothing ``m`` (default: the mean previous-window count of the items active in either
window, at least 1) keeps an item going from 1 to 3 interactions from outranking one going from
500 to 900. Items with growth
above 1 rank by growth; the rest follow by popularity. Scores are the growth above 1, normalised
to sum to 1 (popularity shares when nothing grows). Not personal: every user gets the same list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from srs.arrays import Array, FloatArray, IntArray
from srs.engine.errors import HyperparameterError
from srs.engine.matrix import InteractionMatrix, check_interactions
from srs.engine.reasons import POPULAR_REASON
from srs.engine.recipes.base import Recipe, Span
from srs.engine.weights import SECONDS_PER_DAY, EventWeights

DEFAULT_WINDOW_DAYS: Final = 7.0


class TrendingNow(Recipe):
    """Personalize's Trending-Now: growth of interactions, recent window vs the one before."""

    name: ClassVar[str] = "trending-now"
    personal: ClassVar[bool] = False

    def __init__(
        self,
        *,
        weights: EventWeights | None = None,
        window_days: float = DEFAULT_WINDOW_DAYS,
        smoothing: float | None = None,
    ) -> None:
        super().__init__(weights)
        if not window_days > 0:
            raise HyperparameterError(f"window_days must be > 0, got {window_days!r}")
        if smoothing is not None and not smoothing > 0:
            raise HyperparameterError(f"smoothing must be > 0 or None, got {smoothing!r}")
        self.window_days = float(window_days)
        self.smoothing = smoothing
        self.recent = np.zeros(0, dtype=np.float64)
        self.previous = np.zeros(0, dtype=np.float64)
        self.growth = np.zeros(0, dtype=np.float64)

    def hyperparameters(self) -> dict[str, Any]:
        return {"window_days": self.window_days, "smoothing": self.smoothing}

    @property
    def fills_with_popular(self) -> bool:
        return True

    def _fit_model(
        self, data: InteractionMatrix, frame: pd.DataFrame, items: pd.DataFrame | None
    ) -> None:
        rows = check_interactions(frame)
        positions = np.searchsorted(data.item_ids, rows.item_labels)[rows.item_codes]
        window = self.window_days * SECONDS_PER_DAY
        age = data.reference_time - rows.timestamps
        n_items = len(data.item_ids)
        self.recent = np.bincount(positions[age < window], minlength=n_items).astype(np.float64)
        earlier = (age >= window) & (age < 2 * window)
        self.previous = np.bincount(positions[earlier], minlength=n_items).astype(np.float64)
        self.growth = trend_growth(self.recent, self.previous, self.smoothing)

    def _model_arrays(self) -> dict[str, Array]:
        return {"recent": self.recent, "previous": self.previous, "growth": self.growth}

    def _restore_model(self, arrays: Mapping[str, Array], state: Mapping[str, Any]) -> None:
        self.recent = arrays["recent"]
        self.previous = arrays["previous"]
        self.growth = arrays["growth"]

    def _history_scores(
        self, items: IntArray, values: FloatArray, span: Span | None = None
    ) -> FloatArray:
        return np.asarray(self.growth - 1.0, dtype=np.float64)

    def score_histories(self, histories: sp.csr_matrix, spans: IntArray | None = None) -> Array:
        return np.broadcast_to(self.growth - 1.0, (histories.shape[0], len(self.growth))).copy()

    def _reasons(
        self,
        items: IntArray,
        values: FloatArray,
        targets: IntArray,
        raw: FloatArray,
        names: Mapping[str, str] | None,
    ) -> list[str]:
        days = f"{self.window_days:g}"
        reasons: list[str] = []
        for target in targets.tolist():
            if raw[target] <= 0:
                reasons.append(POPULAR_REASON)
                continue
            recent, previous = int(self.recent[target]), int(self.previous[target])
            change = (
                f"up {100 * (recent - previous) / previous:.0f}%"
                if previous
                else "none in the window before"
            )
            reasons.append(f"trending: {recent} interactions in the last {days} days, {change}")
        return reasons


def trend_growth(recent: FloatArray, previous: FloatArray, smoothing: float | None) -> FloatArray:
    """Smoothed growth ratio per item (see the module docstring)."""
    if smoothing is None:
        active = previous[(previous > 0) | (recent > 0)]
        smoothing = max(1.0, float(np.mean(active))) if len(active) else 1.0
    return (recent + smoothing) / (previous + smoothing)
