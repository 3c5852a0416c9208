"""Users' histories: as training stored them, and as a request sees them with its new events.

Recipes score a user from the history *now*; folding request-time events in the way training
folded rows is what lets an event change the next answer without retraining, so that rule is
written once here for every recipe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Final, NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp

from srs.arrays import Array, BoolArray, FloatArray, IntArray, StrArray
from srs.engine.matrix import InteractionMatrix
from srs.engine.weights import EventWeights

EMPTY_HISTORY: Final = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class EventLike(Protocol):
    """A request-time event; ``srs.events.Event`` and ``StoredEvent`` fit this shape."""

    @property
    def item_id(self) -> str: ...

    @property
    def event_type(self) -> str: ...

    @property
    def event_value(self) -> float | None: ...


class HistoryEvent(NamedTuple):
    """The smallest EventLike, for callers without an event class of their own."""

    item_id: str
    event_type: str
    event_value: float | None = None


class UserHistories:
    """Training histories in CSR form (sorted user ids), looked up per request."""

    def __init__(self, user_ids: StrArray, indptr: Array, indices: Array, values: Array) -> None:
        self.user_ids = user_ids
        self.indptr = indptr
        self.indices = indices
        self.values = values

    @classmethod
    def from_matrix(cls, data: InteractionMatrix, negative_weight: float) -> UserHistories:
        """Histories as requests see them: disliked items held as negative entries."""
        matrix = data.signed_histories(negative_weight)
        return cls(
            data.user_ids,
            matrix.indptr.astype(np.int64),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float32),
        )

    @cached_property
    def index(self) -> dict[str, int]:
        return {user: row for row, user in enumerate(self.user_ids.tolist())}

    def __contains__(self, user_id: object) -> bool:
        return user_id in self.index

    def row(self, user_id: str) -> tuple[IntArray, FloatArray]:
        position = self.index.get(user_id)
        if position is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return self.row_at(position)

    def row_at(self, position: int) -> tuple[IntArray, FloatArray]:
        start, stop = self.indptr[position], self.indptr[position + 1]
        return (
            np.asarray(self.indices[start:stop], dtype=np.int64),
            np.asarray(self.values[start:stop], dtype=np.float64),
        )

    def block(self, start: int, stop: int, n_items: int) -> sp.csr_matrix:
        """Histories of users ``start:stop`` as CSR rows over a catalogue of ``n_items``."""
        first, last = int(self.indptr[start]), int(self.indptr[stop])
        return sp.csr_matrix(
            (
                np.asarray(self.values[first:last]),
                np.asarray(self.indices[first:last]),
                np.asarray(self.indptr[start : stop + 1]) - first,
            ),
            shape=(stop - start, n_items),
        )

    def arrays(self) -> dict[str, Array]:
        return {
            "user_ids": self.user_ids,
            "history_indptr": self.indptr,
            "history_indices": self.indices,
            "history_values": self.values,
        }


def merge_events(
    items: IntArray,
    values: FloatArray,
    events: Sequence[EventLike],
    index: Mapping[str, int],
    weights: EventWeights,
) -> tuple[IntArray, FloatArray]:
    """The history with request-time ``events`` (newest first, as the EventStore gives them)
    folded in, as training folded rows: use combines by the weights' aggregate, and the latest
    explicit judgement decides the sign (a negative entry is ``-negative_weight``)."""
    if not events:
        return items, values
    current = dict(zip(items.tolist(), values.tolist(), strict=True))
    for event in reversed(events):
        position = index.get(event.item_id)
        if position is None:
            continue
        verdict = weights.verdict(event.event_type, event.event_value)
        previous = current.get(position)
        if verdict < 0:
            current[position] = -weights.negative_weight
            continue
        weight = weights.event_weight(event.event_type, event.event_value)
        if previous is None or previous < 0:
            # A judgement that is not negative lifts a dislike; plain use leaves it standing.
            current[position] = weight if (previous is None or verdict > 0) else previous
        else:
            current[position] = weights.combine(previous, weight)
    kept = [(item, value) for item, value in current.items() if value != 0]
    return (
        np.fromiter((item for item, _ in kept), dtype=np.int64, count=len(kept)),
        np.fromiter((value for _, value in kept), dtype=np.float64, count=len(kept)),
    )


def disliked_mask(
    mask: BoolArray | None, items: IntArray, values: FloatArray, n_items: int
) -> BoolArray | None:
    """``mask`` plus the items the history holds a negative judgement of: never recommended."""
    disliked = items[values < 0]
    if len(disliked) == 0:
        return mask
    combined = np.zeros(n_items, dtype=bool) if mask is None else mask.copy()
    combined[disliked] = True
    return combined
