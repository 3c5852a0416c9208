"""What the data page charts: interactions per day, feedback per day, the most used services.

The prepared data and the feedback recorded since are charted apart: the prepared log may
end long ago (the synthetic demo's is in 2024), and one click today would otherwise stretch a
single time axis until the prepared history no longer showed.

The ``RecommendationService`` façade has no aggregate view of the interaction log, so
the data page asks for one more, optional operation. A backend that offers
``activity()`` gets the charts; one that does not (Personalize has no such query) still
serves every other page, and the data page says the figures are unavailable.
``summarize_activity`` does the counting for any backend that holds the log as arrays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from srs.event_rules import usable_timestamps

LOG = logging.getLogger(__name__)

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
    """Daily counts of the prepared log and of recorded feedback, oldest first, with empty
    days filled in; top services over both, most used first. ``total_interactions`` counts
    both; ``recorded_interactions`` the feedback alone."""

    daily: list[DailyCount]
    top_services: list[ServiceUsage]
    total_interactions: int
    feedback_daily: list[DailyCount] = field(default_factory=list)
    recorded_interactions: int = 0


@runtime_checkable
class ActivitySource(Protocol):
    """The optional extra a backend implements to feed the data page."""

    def activity(self, days: int = DEFAULT_DAYS, top: int = DEFAULT_TOP_SERVICES) -> Activity: ...


Log = tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]
"""Parallel arrays: Unix seconds and item IDs."""


def summarize_activity(
    timestamps: npt.NDArray[np.int64],
    item_ids: npt.NDArray[np.object_],
    service_names: Mapping[str, str],
    days: int = DEFAULT_DAYS,
    top: int = DEFAULT_TOP_SERVICES,
    recorded: Log | None = None,
) -> Activity:
    """Count a log given as parallel arrays (Unix seconds, item IDs), and optionally the
    feedback recorded since in the same form.

    Each daily series covers the last ``days`` days that hold data, ending on its newest
    day, with zero-filled gaps so a chart's x axis is true time. Services are counted over
    both logs; ties break by item ID so the order is stable across workers.
    """
    if days < 1 or top < 1:
        raise ValueError(f"days and top must be >= 1, got days={days}, top={top}")
    recorded_times, recorded_items = recorded or (np.zeros(0, np.int64), np.zeros(0, object))
    for times, items in ((timestamps, item_ids), (recorded_times, recorded_items)):
        if len(times) != len(items):
            raise ValueError(
                f"timestamps and item_ids differ in length: {len(times)} != {len(items)}"
            )
    every_item = np.concatenate(
        [np.asarray(item_ids, dtype=str), np.asarray(recorded_items, dtype=str)]
    )
    return Activity(
        daily=daily_counts(timestamps, days),
        top_services=top_services(every_item, service_names, top),
        total_interactions=len(every_item),
        feedback_daily=daily_counts(recorded_times, days),
        recorded_interactions=len(recorded_times),
    )


_skipped_logged = threading.Event()


def _log_skipped_once(count: int) -> None:
    """Say once per process that times were left out, not on every page view."""
    if not _skipped_logged.is_set():
        _skipped_logged.set()
        LOG.warning("activity: %d interaction(s) with an out-of-range time left out", count)


def daily_counts(timestamps: npt.NDArray[np.int64], days: int) -> list[DailyCount]:
    """Counts per UTC day over the last ``days`` days, ending on the newest one.

    Times outside the stored-event window (:mod:`srs.event_rules`) are left out: one such
    row would otherwise move the chart's last day to a year no date type can show.
    """
    seconds = np.asarray(timestamps, dtype=np.int64)
    usable = usable_timestamps(seconds)
    if not usable.all():
        _log_skipped_once(int((~usable).sum()))
        seconds = seconds[usable]
    if len(seconds) == 0:
        return []
    day_numbers = seconds // SECONDS_PER_DAY
    last_day = int(day_numbers.max())
    first_day = max(int(day_numbers.min()), last_day - days + 1)
    in_window = day_numbers >= first_day
    counts = np.bincount(day_numbers[in_window] - first_day, minlength=last_day - first_day + 1)
    labels = np.datetime_as_string(
        np.arange(first_day, last_day + 1).astype("datetime64[D]"), unit="D"
    )
    return [
        DailyCount(day=str(label), interactions=int(count))
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True)
    ]


def top_services(
    item_ids: npt.NDArray[np.str_], service_names: Mapping[str, str], top: int
) -> list[ServiceUsage]:
    """The ``top`` most frequent items, ties by item ID."""
    if len(item_ids) == 0:
        return []
    unique_items, item_counts = np.unique(item_ids, return_counts=True)
    order = np.lexsort((unique_items, -item_counts))[:top]
    return [
        ServiceUsage(
            item_id=str(unique_items[index]),
            service_name=service_names.get(str(unique_items[index]), str(unique_items[index])),
            interactions=int(item_counts[index]),
        )
        for index in order.tolist()
    ]
