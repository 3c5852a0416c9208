"""How strongly one interaction says "this user wants this service".

A launch is a stronger statement than a glance at a page, and a 5-star rating stronger than a
1-star one, so every interaction row becomes one non-negative weight before training:

    weight = type_weight[EVENT_TYPE]
             * (value_offset + EVENT_VALUE) / (value_offset + value_reference)
             * decay(age)

and the rows of one (user, item) pair are then combined into one matrix entry. The defaults
follow the funnel of the synthetic data and of a real console (viewed → clicked → launched →
configured, plus ratings): launched 3 > configured 2.5 > rated 2 > clicked 1.5 > viewed 1.

* ``value_reference = 3`` makes the neutral rating 3 leave the type weight unchanged, a 5 raise
  it by two thirds and a 1 cut it to a third. EVENT_VALUE missing (NaN) counts as neutral.
* ``value_offset`` (0 by default) compresses the value's effect: explicit ratings say more about
  *what* a user watched than about *how much* they liked it, so on MovieLens-100K
  ``value_offset = 2`` — weights (2 + r) / 5, from 0.6 for a 1 to 1.4 for a 5 — ranks better
  than the plain ratio (``benchmarks/movielens100k.py`` chooses between them on validation).
  ``value_offset + value_reference`` must stay > 0; a value below ``-value_offset`` weighs 0.
* ``value_scale = "log"`` weighs counts (hours played, visits) by ``1 + log1p(value)`` instead:
  :func:`value_scale_of` picks it when the values go beyond a rating scale; ``"none"`` ignores
  the value (only the event type weighs).
* ``aggregate = "max"`` keeps the strongest statement per pair, so ten page views of S3 do not
  outweigh one launch of Lambda; ``"sum"`` rewards repetition instead.
* ``half_life_days`` (off by default) halves a row's weight for every half-life it is older than
  the newest training interaction; events that arrive after training count in full.

Event types match case-insensitively; types not listed get ``default_weight``.

Explicit judgements are not weighed like use. A rating of ``low_rating_max`` or less (1–2★ by
default) on a ``rated`` row, or a ``not_interested`` event, says "not this", and a view of the
same service earlier must not outvote it, as ``max`` would. So per (user, item) the *latest
explicit statement* (a rating, ``liked`` or ``not_interested``) decides the sign: when it is
negative, the user's history vector holds ``-negative_weight`` for the item. Scoring is linear in
the history, so the negative entry pushes down the items that go with the disliked one at the
next request, and the disliked item itself is never recommended. The item-item model is still
learnt from what users did (a pair's positive weight stays in the training matrix): a launch
followed by 1★ still says the services were used together. ``low_rating_max = None`` and no
``negative_types`` give the unsigned behaviour.

Some data's ratings all mean "used it", low ones too (on MovieLens a 1★ film was watched, and so
are its companions), and there signing the history costs accuracy. ``negative_history = False``
(``srs train`` chooses it on validation) leaves the training data's judgements unsigned, while
feedback recorded by SRS (request-time events, and ``signed_rows`` in training) stays signed:
what a user says in the app always holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from srs.arrays import FloatArray
from srs.engine.errors import HyperparameterError

SECONDS_PER_DAY: Final = 86_400
DEFAULT_TYPE_WEIGHTS: Final[Mapping[str, float]] = {
    "launched": 3.0,
    "configured": 2.5,
    "rated": 2.0,
    "clicked": 1.5,
    "viewed": 1.0,
    "liked": 2.5,
    "not_interested": 0.0,
}
AGGREGATIONS: Final = ("max", "sum")
VALUE_SCALES: Final = ("ratio", "log", "none")
COUNT_VALUE_MIN: Final = 10.0
"""Event values above this are counts (plays, hours), not ratings: they are weighed by log."""
RATING_TYPES: Final = ("rated",)
POSITIVE_TYPES: Final = ("liked",)
NEGATIVE_TYPES: Final = ("not_interested",)


def _default_type_weights() -> dict[str, float]:
    return dict(DEFAULT_TYPE_WEIGHTS)


@dataclass(frozen=True)
class EventWeights:
    """Weighting of interaction rows; see the module docstring for the formula and defaults."""

    type_weights: Mapping[str, float] = field(default_factory=_default_type_weights)
    default_weight: float = 1.0
    value_reference: float | None = 3.0
    value_offset: float = 0.0
    half_life_days: float | None = None
    aggregate: Literal["max", "sum"] = "max"
    low_rating_max: float | None = 2.0
    negative_types: tuple[str, ...] = NEGATIVE_TYPES
    negative_weight: float = 2.0
    negative_history: bool = True
    value_scale: Literal["ratio", "log", "none"] = "ratio"

    def __post_init__(self) -> None:
        normalised = {
            str(name).lower(): float(weight) for name, weight in self.type_weights.items()
        }
        for name, weight in [*normalised.items(), ("default_weight", float(self.default_weight))]:
            if not math.isfinite(weight) or weight < 0:
                raise HyperparameterError(
                    f"event weight for {name!r} must be a finite number >= 0, got {weight}"
                )
        object.__setattr__(self, "type_weights", normalised)
        if self.value_reference is not None and not self.value_reference > 0:
            raise HyperparameterError(
                f"value_reference must be > 0 or None, got {self.value_reference}"
            )
        offset = self.value_offset
        if (
            isinstance(offset, bool)
            or not isinstance(offset, int | float)
            or not math.isfinite(offset)
        ):
            raise HyperparameterError(f"value_offset must be a finite number, got {offset!r}")
        object.__setattr__(self, "value_offset", float(offset))
        if self.value_reference is not None and not self.value_offset + self.value_reference > 0:
            raise HyperparameterError(
                "value_offset + value_reference must be > 0, got value_offset "
                f"{self.value_offset} and value_reference {self.value_reference}"
            )
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise HyperparameterError(
                f"half_life_days must be > 0 or None, got {self.half_life_days}"
            )
        if self.aggregate not in AGGREGATIONS:
            raise HyperparameterError(
                f"aggregate must be one of {', '.join(AGGREGATIONS)}, got {self.aggregate!r}"
            )
        if self.low_rating_max is not None and not math.isfinite(self.low_rating_max):
            raise HyperparameterError(
                f"low_rating_max must be a finite number or None, got {self.low_rating_max}"
            )
        if not math.isfinite(self.negative_weight) or self.negative_weight <= 0:
            raise HyperparameterError(
                f"negative_weight must be a finite number > 0, got {self.negative_weight}"
            )
        object.__setattr__(
            self, "negative_types", tuple(str(name).lower() for name in self.negative_types)
        )
        if self.value_scale not in VALUE_SCALES:
            raise HyperparameterError(
                f"value_scale must be one of {', '.join(VALUE_SCALES)}, got {self.value_scale!r}"
            )

    @property
    def signs_feedback(self) -> bool:
        """Whether any event can be negative evidence (else histories are never signed)."""
        return self.low_rating_max is not None or bool(self.negative_types)

    @property
    def signs_history(self) -> bool:
        """Whether the judgements in the training data sign the stored histories too, beside
        the feedback recorded by SRS itself, which always does."""
        return self.signs_feedback and self.negative_history

    def verdict(self, event_type: str, event_value: float | None) -> int:
        """+1 or -1 for an explicit judgement (a rating, ``liked``, ``not_interested``), 0 for
        plain use, which leaves an earlier judgement standing."""
        name = event_type.lower()
        if name in self.negative_types:
            return -1
        if name in RATING_TYPES and self.low_rating_max is not None:
            if event_value is None or math.isnan(event_value):
                return 0
            return -1 if event_value <= self.low_rating_max else 1
        return 1 if name in POSITIVE_TYPES else 0

    def row_verdicts(
        self,
        type_codes: npt.NDArray[np.int64],
        type_labels: Sequence[str] | npt.NDArray[np.str_],
        event_values: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.int8]:
        """:meth:`verdict` of every row, vectorised."""
        labels = [str(name).lower() for name in type_labels]
        negative = np.array([name in self.negative_types for name in labels], dtype=bool)
        positive = np.array([name in POSITIVE_TYPES for name in labels], dtype=bool)
        verdicts = np.where(negative[type_codes], -1, np.where(positive[type_codes], 1, 0))
        if self.low_rating_max is not None:
            rating = np.array([name in RATING_TYPES for name in labels], dtype=bool)[type_codes]
            values = np.asarray(event_values, dtype=np.float64)
            rated = rating & ~np.isnan(values)
            low = values <= self.low_rating_max
            verdicts = np.where(rated, np.where(low, -1, 1), verdicts)
        return verdicts.astype(np.int8)

    def type_weight(self, event_type: str) -> float:
        return self.type_weights.get(event_type.lower(), self.default_weight)

    def event_weight(self, event_type: str, event_value: float | None) -> float:
        """Weight of one event recorded after training (no decay: it is the newest there is)."""
        return self.type_weight(event_type) * self._value_factor_scalar(event_value)

    def row_weights(
        self,
        type_codes: npt.NDArray[np.int64],
        type_labels: Sequence[str] | npt.NDArray[np.str_],
        event_values: npt.NDArray[np.float64],
        timestamps: npt.NDArray[np.int64],
        reference_time: int,
    ) -> FloatArray:
        """Vectorised weight of every training row, whose event type is
        ``type_labels[type_codes[row]]``; ``reference_time`` is "now" for the decay."""
        per_type = np.array([self.type_weight(str(name)) for name in type_labels], dtype=np.float64)
        weights = per_type[type_codes]
        if self.value_reference is not None:
            values = np.asarray(event_values, dtype=np.float64)
            scaled = self._scaled(values)
            factor = np.where(np.isnan(values), 1.0, scaled)
            weights = weights * factor
        if self.half_life_days is not None:
            age = np.maximum(reference_time - np.asarray(timestamps, dtype=np.float64), 0.0)
            weights = weights * np.exp2(-age / (self.half_life_days * SECONDS_PER_DAY))
        return weights

    def _value_factor_scalar(self, event_value: float | None) -> float:
        if self.value_reference is None or event_value is None or math.isnan(event_value):
            return 1.0
        return float(self._scaled(np.asarray([float(event_value)]))[0])

    def _scaled(self, values: FloatArray) -> FloatArray:
        """The value factor: a ratio to the reference for ratings, ``1 + log1p(value)`` for
        counts (hours played, visits), whose raw size would let a few heavy rows drown the
        rest."""
        if self.value_scale == "none":
            return np.ones(len(values), dtype=np.float64)
        if self.value_scale == "log":
            return np.asarray(1.0 + np.log1p(np.maximum(values, 0.0)), dtype=np.float64)
        denominator = self.value_offset + float(self.value_reference or 1.0)
        return np.asarray(np.maximum(values + self.value_offset, 0.0) / denominator)

    def combine(self, current: float, new: float) -> float:
        """Fold one more event into a (user, item) entry, as training aggregated duplicates."""
        return max(current, new) if self.aggregate == "max" else current + new

    def to_dict(self) -> dict[str, Any]:
        return {
            "type_weights": dict(self.type_weights),
            "default_weight": self.default_weight,
            "value_reference": self.value_reference,
            "value_offset": self.value_offset,
            "half_life_days": self.half_life_days,
            "aggregate": self.aggregate,
            "low_rating_max": self.low_rating_max,
            "negative_types": list(self.negative_types),
            "negative_weight": self.negative_weight,
            "negative_history": self.negative_history,
            "value_scale": self.value_scale,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventWeights:
        known = {
            "type_weights",
            "default_weight",
            "value_reference",
            "value_offset",
            "half_life_days",
            "aggregate",
            "low_rating_max",
            "negative_types",
            "negative_weight",
            "negative_history",
            "value_scale",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise HyperparameterError(f"unknown event-weight setting(s): {', '.join(unknown)}")
        settings = dict(data)
        if "negative_types" in settings:
            settings["negative_types"] = tuple(settings["negative_types"])
        elif "type_weights" in settings:
            # Saved before feedback was signed: keep the model answering as it was trained.
            settings.update(low_rating_max=None, negative_types=())
        return cls(**settings)


def value_scale_of(values: npt.NDArray[np.float64]) -> Literal["ratio", "log"]:
    """ "log" when the event values are counts rather than ratings (some exceed
    ``COUNT_VALUE_MIN``), so that defaults hold for play counts without tuning."""
    finite = values[np.isfinite(values)]
    return "log" if len(finite) and float(finite.max()) > COUNT_VALUE_MIN else "ratio"
