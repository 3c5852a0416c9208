"""What the data page charts: interactions per day and the most used services.

The ``RecommendationService`` façade has no aggregate view of the interaction log, so
the data page asks for one more, optional operation. A backend that offers
``activity()`` gets the charts; one that does not (Personalize has no such query) still
serves every other page, and the data page says the figures are unavailable.
``summarize_activity`` does the counting for any backend that holds the log as arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

SECONDS_PER_DAY = 86_400
DEFAULT_DAYS = 90
DEFAULT_TOP_SERVICES = 10


@dataclass(frozen=True, slots=True)
class DailyCount:
    """Interactions on one UTC day; ``day`` is ISO ``YYYY-MM-DD``."""

    day: str
    interactions: int


@dataclass(frozen=True, slots=True)
class ServiceUsage:
    item_id: str
    service_name: str
    interactions: int


@dataclass(frozen=True, slots=True)
class Activity:
    """Daily counts, oldest first, with empty days filled in; top services, most used first."""

    daily: list[DailyCount]
    top_services: list[ServiceUsage]
    total_interactions: int


@runtime_checkable
class ActivitySource(Protocol):
    """The optional extra a backend implements to feed the data page."""

    def activity(self, days: int = DEFAULT_DAYS, top: int = DEFAULT_TOP_SERVICES) -> Activity: ...


def summarize_activity(
    timestamps: npt.NDArray[np.int64],
    item_ids: npt.NDArray[np.object_],
    service_names: Mapping[str, str],
    days: int = DEFAULT_DAYS,
    top: int = DEFAULT_TOP_SERVICES,
) -> Activity:
    """Count a log given as parallel arrays (Unix seconds, item IDs).

    The daily series covers the last ``days`` days that hold data, ending on the newest
    day, with zero-filled gaps so a chart's x axis is true time. Services are counted over
    the whole log; ties break by item ID so the order is stable across workers.
    """
    if days < 1 or top < 1:
        raise ValueError(f"days and top must be >= 1, got days={days}, top={top}")
    if len(timestamps) != len(item_ids):
        raise ValueError(
            f"timestamps and item_ids differ in length: {len(timestamps)} != {len(item_ids)}"
        )
    total = len(timestamps)
    if total == 0:
        return Activity(daily=[], top_services=[], total_interactions=0)

    day_numbers = np.asarray(timestamps, dtype=np.int64) // SECONDS_PER_DAY
    last_day = int(day_numbers.max())
    first_day = max(int(day_numbers.min()), last_day - days + 1)
    in_window = day_numbers >= first_day
    counts = np.bincount(day_numbers[in_window] - first_day, minlength=last_day - first_day + 1)
    labels = np.datetime_as_string(
        np.arange(first_day, last_day + 1).astype("datetime64[D]"), unit="D"
    )
    daily = [
        DailyCount(day=str(label), interactions=int(count))
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True)
    ]

    unique_items, item_counts = np.unique(np.asarray(item_ids, dtype=str), return_counts=True)
    order = np.lexsort((unique_items, -item_counts))[:top]
    top_services = [
        ServiceUsage(
            item_id=str(unique_items[index]),
            service_name=service_names.get(str(unique_items[index]), str(unique_items[index])),
            interactions=int(item_counts[index]),
        )
        for index in order.tolist()
    ]
    return Activity(daily=daily, top_services=top_services, total_interactions=total)
