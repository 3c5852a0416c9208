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
    return summarize_counts(
        LogCounts.from_log(timestamps, item_ids),
        service_names,
        days=days,
        top=top,
        recorded=LogCounts.from_log(recorded_times, recorded_items),
    )


@dataclass(frozen=True, slots=True)
class LogCounts:
    """A log reduced to what the charts need: counts per UTC day number (usable times only),
    counts per item, and the row total. Built once from a log held in memory, or read from
    the events aggregate, so a page view never walks the rows themselves."""

    days: npt.NDArray[np.int64]
    day_counts: npt.NDArray[np.int64]
    item_ids: npt.NDArray[np.str_]
    item_counts: npt.NDArray[np.int64]
    total: int

    @classmethod
    def empty(cls) -> LogCounts:
        return cls(
            days=np.zeros(0, np.int64),
            day_counts=np.zeros(0, np.int64),
            item_ids=np.zeros(0, str),
            item_counts=np.zeros(0, np.int64),
            total=0,
        )

    @classmethod
    def from_log(
        cls, timestamps: npt.NDArray[np.int64], item_ids: npt.NDArray[np.object_]
    ) -> LogCounts:
        """Count a log of parallel arrays; times a chart cannot show are left out of the
        days (and logged once) but still counted in the items and the total."""
        if len(timestamps) != len(item_ids):
            raise ValueError(
                f"timestamps and item_ids differ in length: {len(timestamps)} != {len(item_ids)}"
            )
        seconds = np.asarray(timestamps, dtype=np.int64)
        usable = usable_timestamps(seconds)
        if not usable.all():
            _log_skipped_once(int((~usable).sum()))
            seconds = seconds[usable]
        days, day_counts = np.unique(seconds // SECONDS_PER_DAY, return_counts=True)
        items, item_counts = np.unique(np.asarray(item_ids, dtype=str), return_counts=True)
        return cls(
            days=days.astype(np.int64),
            day_counts=day_counts.astype(np.int64),
            item_ids=items,
            item_counts=item_counts.astype(np.int64),
            total=len(timestamps),
        )

    @classmethod
    def from_daily_items(
        cls,
        days: npt.NDArray[np.int64],
        item_ids: npt.NDArray[np.object_],
        counts: npt.NDArray[np.int64],
    ) -> LogCounts:
        """Fold counts per (day, item), such as the events aggregate, into this form."""
        counts = np.asarray(counts, dtype=np.int64)
        unique_days, day_index = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
        items, item_index = np.unique(np.asarray(item_ids, dtype=str), return_inverse=True)
        return cls(
            days=unique_days,
            day_counts=np.bincount(day_index, weights=counts, minlength=len(unique_days)).astype(
                np.int64
            ),
            item_ids=items,
            item_counts=np.bincount(item_index, weights=counts, minlength=len(items)).astype(
                np.int64
            ),
            total=int(counts.sum()),
        )


def summarize_counts(
    prepared: LogCounts,
    service_names: Mapping[str, str],
    days: int = DEFAULT_DAYS,
    top: int = DEFAULT_TOP_SERVICES,
    recorded: LogCounts | None = None,
) -> Activity:
    """:func:`summarize_activity` over logs already counted: the work is proportional to the
    days and items, not to the rows."""
    if days < 1 or top < 1:
        raise ValueError(f"days and top must be >= 1, got days={days}, top={top}")
    feedback = recorded or LogCounts.empty()
    items, index = np.unique(
        np.concatenate([prepared.item_ids, feedback.item_ids]), return_inverse=True
    )
    totals = np.bincount(
        index,
        weights=np.concatenate([prepared.item_counts, feedback.item_counts]),
        minlength=len(items),
    ).astype(np.int64)
    return Activity(
        daily=_daily_series(prepared.days, prepared.day_counts, days),
        top_services=_top_of(items, totals, service_names, top),
        total_interactions=prepared.total + feedback.total,
        feedback_daily=_daily_series(feedback.days, feedback.day_counts, days),
        recorded_interactions=feedback.total,
    )


def _daily_series(
    day_numbers: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], days: int
) -> list[DailyCount]:
    """Zero-filled counts over the last ``days`` days, ending on the newest one with data."""
    if len(day_numbers) == 0:
        return []
    last_day = int(day_numbers.max())
    first_day = max(int(day_numbers.min()), last_day - days + 1)
    in_window = day_numbers >= first_day
    series = np.bincount(
        day_numbers[in_window] - first_day,
        weights=counts[in_window],
        minlength=last_day - first_day + 1,
    ).astype(np.int64)
    labels = np.datetime_as_string(
        np.arange(first_day, last_day + 1).astype("datetime64[D]"), unit="D"
    )
    return [
        DailyCount(day=str(label), interactions=int(count))
        for label, count in zip(labels.tolist(), series.tolist(), strict=True)
    ]


def _top_of(
    items: npt.NDArray[np.str_],
    counts: npt.NDArray[np.int64],
    service_names: Mapping[str, str],
    top: int,
) -> list[ServiceUsage]:
    order = np.lexsort((items, -counts))[:top]
    return [
        ServiceUsage(
            item_id=str(items[index]),
            service_name=service_names.get(str(items[index]), str(items[index])),
            interactions=int(counts[index]),
        )
        for index in order.tolist()
    ]


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
