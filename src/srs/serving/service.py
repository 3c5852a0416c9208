"""The one façade the CLI, the web pages and the REST API call.

Every backend keeps the same shapes: ``local`` runs the embedded engine in process;
``personalize`` calls personalize-runtime and personalize-events; ``batch`` serves a batch
inference job's results. Callers never know which one answers, so everything here is plain
data: no boto3 responses, and engine arrays only inside :class:`ItemColumns`, which reads as
an ordinary sequence of :class:`RecommendedItem`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, overload

import numpy as np
import numpy.typing as npt

from srs.engine.request_limits import DEFAULT_RESULTS, check_results_range
from srs.errors import SRSError
from srs.events.event import Event

MAX_RANKING_INPUTS = 500


class RequestError(SRSError):
    """The request itself is wrong (a value out of range, a bad filter): a 400/422 answer."""


class NotFoundError(SRSError):
    """The thing asked about does not exist (an unknown user's history): a 404 answer."""


class NotReadyError(SRSError):
    """No model is active yet: a 503 answer until ``srs train`` has run."""


class RecommendedItem(NamedTuple):
    """One item of a recommendation list; ``score`` is None where the model has no data.

    A named tuple rather than a frozen dataclass: a request builds one per item it answers,
    and a frozen dataclass's ``__init__`` costs more than a tuple's.
    """

    item_id: str
    service_name: str
    category: str
    description: str
    score: float | None
    reason: str


class ItemColumns(Sequence[RecommendedItem]):
    """A recommendation list still in the columns it was read from: catalogue positions,
    scores and reason codes, as an answer table holds them.

    Why: building a record per item, then a dict per record to encode, costs more than the
    rest of a request served from the table. The REST API writes its JSON from these columns
    directly (``srs.web.encoding``); every other caller sees plain ``RecommendedItem``s.
    """

    __slots__ = ("catalogue", "positions", "reason_texts", "reasons", "scores")

    def __init__(
        self,
        catalogue: Sequence[ItemInfo],
        positions: npt.NDArray[np.int32],
        scores: npt.NDArray[np.float64],
        reasons: npt.NDArray[np.int32],
        reason_texts: Sequence[str],
    ) -> None:
        if not len(positions) == len(scores) == len(reasons):
            raise ValueError(
                f"columns differ in length: {len(positions)}, {len(scores)}, {len(reasons)}"
            )
        self.catalogue = catalogue
        self.positions = positions
        self.scores = scores
        self.reasons = reasons
        self.reason_texts = reason_texts

    def __len__(self) -> int:
        return len(self.positions)

    def _item(self, position: int, score: float, reason: int) -> RecommendedItem:
        item = self.catalogue[position]
        return RecommendedItem(
            item.item_id,
            item.service_name,
            item.category,
            item.description,
            score,
            self.reason_texts[reason],
        )

    def __iter__(self) -> Iterator[RecommendedItem]:
        return map(self._item, self.positions.tolist(), self.scores.tolist(), self.reasons.tolist())

    @overload
    def __getitem__(self, index: int) -> RecommendedItem: ...

    @overload
    def __getitem__(self, index: slice) -> list[RecommendedItem]: ...

    def __getitem__(self, index: int | slice) -> RecommendedItem | list[RecommendedItem]:
        if isinstance(index, slice):
            return [self[at] for at in range(*index.indices(len(self)))]
        return self._item(
            int(self.positions[index]), float(self.scores[index]), int(self.reasons[index])
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ItemColumns({list(self)!r})"


@dataclass(frozen=True, slots=True)
class Recommendations:
    recommendation_id: str
    item_list: Sequence[RecommendedItem]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One interaction of a user, from the prepared data or from recorded events."""

    item_id: str
    service_name: str
    category: str
    event_type: str
    event_value: float
    timestamp: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    interactions: list[HistoryEntry]
    total: int


@dataclass(frozen=True, slots=True)
class ItemInfo:
    item_id: str
    service_name: str
    category: str
    description: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the active model is, for the model page and ``GET /model``.

    ``metrics`` were measured on ``heldout_users`` users (None where training did not say),
    and ``baseline_metrics`` are the popularity baseline's on those same users, so a reader
    can tell whether the model beats recommending what is popular. On too few users the
    figures are noise: ``metrics_reliable`` says so, rather than the page guessing a bound.
    """

    version: str
    recipe: str
    trained_at: str
    training_seconds: float
    parameters: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    heldout_users: int | None = None
    metrics_reliable: bool = True
    baseline_metrics: Mapping[str, float] = field(default_factory=dict)


class RecommendationService(Protocol):
    """Personalize's operations (recommendations, ranking, similar items, PutEvents), plus
    what the pages need to browse."""

    def recommend(
        self,
        user_id: str,
        num_results: int = DEFAULT_RESULTS,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations: ...

    def rank(self, user_id: str, item_ids: Sequence[str]) -> Recommendations: ...

    def similar(self, item_id: str, num_results: int = DEFAULT_RESULTS) -> Recommendations: ...

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None:
        """Every backend refuses a batch ``srs.events.event.check_batch`` refuses, before
        anything is stored or sent: callers other than the API (pages, scripts) rely on it."""
        ...

    def history(self, user_id: str, limit: int = 50, offset: int = 0) -> HistoryPage: ...

    def items(self) -> list[ItemInfo]: ...

    def model_info(self) -> ModelInfo: ...

    def search_users(self, prefix: str, limit: int = 10) -> list[str]: ...

    def is_ready(self) -> bool: ...


def check_num_results(num_results: int) -> int:
    """Personalize's bounds on numResults, shared by every backend, as a request error."""
    check_results_range(num_results, "numResults", RequestError)
    return num_results
