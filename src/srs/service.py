"""RecommendationService: the one façade the CLI, the web pages and the REST API call.

Two backends keep the same shapes (``../shared/DESIGN.md``): ``local`` runs the
embedded engine in process; ``personalize`` calls personalize-runtime and
personalize-events. Callers never know which one answers, so everything here is
plain data: no engine arrays, no boto3 responses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from srs.errors import SRSError
from srs.events import Event

MAX_RESULTS = 500  # GetRecommendations' limit
DEFAULT_RESULTS = 25
MAX_RANKING_INPUTS = 500


class RequestError(SRSError):
    """The request itself is wrong (a value out of range, a bad filter): a 400/422 answer."""


class NotFoundError(SRSError):
    """The thing asked about does not exist (an unknown user's history): a 404 answer."""


class NotReadyError(SRSError):
    """No model is active yet: a 503 answer until ``srs train`` has run."""


class RecommendedItem(NamedTuple):
    """One item of a recommendation list; ``score`` is None where the model has no data.

    A named tuple rather than a frozen dataclass: a request builds up to 500 of them, and a
    frozen dataclass's ``__init__`` costs several times a tuple's.
    """

    item_id: str
    service_name: str
    category: str
    description: str
    score: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Recommendations:
    recommendation_id: str
    item_list: list[RecommendedItem]


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
    """What the active model is, for the model page and ``GET /model``."""

    version: str
    recipe: str
    trained_at: str
    training_seconds: float
    parameters: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)


class RecommendationService(Protocol):
    """The operations of ``../shared/DESIGN.md``, plus what the pages need to browse."""

    def recommend(
        self,
        user_id: str,
        num_results: int = DEFAULT_RESULTS,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations: ...

    def rank(self, user_id: str, item_ids: Sequence[str]) -> Recommendations: ...

    def similar(self, item_id: str, num_results: int = DEFAULT_RESULTS) -> Recommendations: ...

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None: ...

    def history(self, user_id: str, limit: int = 50, offset: int = 0) -> HistoryPage: ...

    def items(self) -> list[ItemInfo]: ...

    def model_info(self) -> ModelInfo: ...

    def search_users(self, prefix: str, limit: int = 10) -> list[str]: ...

    def is_ready(self) -> bool: ...


def check_num_results(num_results: int) -> int:
    """Personalize's bounds on numResults, shared by every backend."""
    if not 1 <= num_results <= MAX_RESULTS:
        raise RequestError(f"numResults must be between 1 and {MAX_RESULTS}, got {num_results}")
    return num_results
