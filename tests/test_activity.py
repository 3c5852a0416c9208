"""summarize_activity: the counting behind the data page's charts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from srs.activity import SECONDS_PER_DAY, LogCounts, summarize_activity, summarize_counts
from srs.events.event import Event
from srs.events.store import EventStore
from srs.serving.local_service import LocalRecommendationService

DAY0 = 19_800 * SECONDS_PER_DAY  # 2024-03-18 00:00 UTC


def arrays(
    rows: list[tuple[int, str]],
) -> tuple[np.ndarray, np.ndarray]:
    stamps = np.array([stamp for stamp, _ in rows], dtype=np.int64)
    items = np.array([item for _, item in rows], dtype=object)
    return stamps, items


def test_daily_counts_fill_empty_days_with_zero() -> None:
    stamps, items = arrays([(DAY0 + 5, "a"), (DAY0 + 100, "b"), (DAY0 + 3 * SECONDS_PER_DAY, "a")])
    activity = summarize_activity(stamps, items, {"a": "Alpha", "b": "Beta"})
    assert [(d.day, d.interactions) for d in activity.daily] == [
        ("2024-03-18", 2),
        ("2024-03-19", 0),
        ("2024-03-20", 0),
        ("2024-03-21", 1),
    ]
    assert activity.total_interactions == 3


def test_daily_window_keeps_only_the_newest_days() -> None:
    rows = [(DAY0 + day * SECONDS_PER_DAY, "a") for day in range(10)]
    activity = summarize_activity(*arrays(rows), {}, days=3)
    assert [d.day for d in activity.daily] == ["2024-03-25", "2024-03-26", "2024-03-27"]
    assert activity.total_interactions == 10


def test_top_services_most_used_first_ties_by_item_id() -> None:
    rows = [(DAY0, item) for item in ["b", "a", "c", "c", "b", "c", "d"]]
    activity = summarize_activity(*arrays(rows), {"a": "Alpha", "b": "Beta", "c": "Gamma"}, top=3)
    assert [(s.item_id, s.service_name, s.interactions) for s in activity.top_services] == [
        ("c", "Gamma", 3),
        ("b", "Beta", 2),
        ("a", "Alpha", 1),
    ]


def test_unknown_item_is_shown_by_its_id() -> None:
    activity = summarize_activity(*arrays([(DAY0, "zz")]), {})
    assert activity.top_services[0].service_name == "zz"


def test_empty_log_gives_empty_activity() -> None:
    activity = summarize_activity(*arrays([]), {})
    assert activity.daily == [] and activity.top_services == [] and activity.total_interactions == 0


def test_bad_arguments_are_refused() -> None:
    stamps, items = arrays([(DAY0, "a")])
    with pytest.raises(ValueError, match="days and top"):
        summarize_activity(stamps, items, {}, days=0)
    with pytest.raises(ValueError, match="differ in length"):
        summarize_activity(stamps, np.array([], dtype=object), {})


def test_recorded_feedback_is_charted_apart_and_counted_with_the_services() -> None:
    prepared = arrays([(DAY0, "a"), (DAY0, "b"), (DAY0 + SECONDS_PER_DAY, "a")])
    recorded = arrays([(DAY0 + 400 * SECONDS_PER_DAY, "b"), (DAY0 + 402 * SECONDS_PER_DAY, "b")])
    activity = summarize_activity(*prepared, {"a": "Alpha", "b": "Beta"}, recorded=recorded)
    assert [(d.day, d.interactions) for d in activity.daily] == [
        ("2024-03-18", 2),
        ("2024-03-19", 1),
    ]  # a year-later click does not push the prepared days off their chart
    assert [(d.day, d.interactions) for d in activity.feedback_daily] == [
        ("2025-04-22", 1),
        ("2025-04-23", 0),
        ("2025-04-24", 1),
    ]
    assert [(s.service_name, s.interactions) for s in activity.top_services] == [
        ("Beta", 3),
        ("Alpha", 2),
    ]
    assert (activity.total_interactions, activity.recorded_interactions) == (5, 2)
    with pytest.raises(ValueError, match="differ in length"):
        summarize_activity(*prepared, {}, recorded=(recorded[0], recorded[1][:1]))


def test_local_service_charts_from_aggregates_without_reading_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(tmp_path / "events.sqlite")
    store.put_events("u", "s", [Event("clicked", "a", 1_700_000_000)])
    statements: list[str] = []
    store._connect().set_trace_callback(statements.append)

    def refuse(*_: object) -> None:
        raise AssertionError("item_log read every row on a page view")

    monkeypatch.setattr(EventStore, "item_log", refuse)
    prepared = LogCounts.from_log(*arrays([(DAY0, "a"), (DAY0, "b"), (DAY0 + 5, "a")]))
    fake = SimpleNamespace(
        _history=SimpleNamespace(activity_counts=prepared, item_log=refuse),
        _items=[],
        _events=store,
        _activity_cache={},
    )
    activity = LocalRecommendationService.activity(fake)  # type: ignore[arg-type]
    assert [s.item_id for s in activity.top_services] == ["a", "b"]
    assert activity.top_services[0].interactions == 3
    assert activity.recorded_interactions == 1 and len(activity.feedback_daily) == 1
    assert statements and all("FROM events" not in sql for sql in statements)


def test_counted_logs_summarize_like_the_raw_arrays() -> None:
    day = SECONDS_PER_DAY
    stamps, items = arrays([(DAY0, "a"), (DAY0, "b"), (DAY0 + 3 * day, "a"), (DAY0 + 5 * day, "c")])
    fed_stamps, fed_items = arrays([(DAY0 + day, "c"), (DAY0 + day + 7, "c")])
    raw = summarize_activity(stamps, items, {}, days=4, recorded=(fed_stamps, fed_items))
    counted = summarize_counts(
        LogCounts.from_log(stamps, items),
        {},
        days=4,
        recorded=LogCounts.from_daily_items(
            np.array([DAY0 // day + 1], np.int64), np.array(["c"], object), np.array([2])
        ),
    )
    assert counted == raw


def test_the_data_page_figures_are_worked_out_again_only_after_a_commit(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.sqlite")
    store.put_events("u", "s", [Event("viewed", "a", DAY0)])
    reads: list[int] = []
    counts = store.daily_item_counts

    def counted() -> object:
        reads.append(1)
        return counts()

    prepared = LogCounts.from_log(*arrays([(DAY0, "a")]))
    fake = SimpleNamespace(
        _history=SimpleNamespace(activity_counts=prepared),
        _items=[],
        _events=SimpleNamespace(
            committed_version=store.committed_version, daily_item_counts=counted
        ),
        _activity_cache={},
    )
    first = LocalRecommendationService.activity(fake)  # type: ignore[arg-type]
    again = LocalRecommendationService.activity(fake)  # type: ignore[arg-type]
    assert again is first and len(reads) == 1
    store.put_events("u", "s", [Event("viewed", "b", DAY0 + 86_400)])
    after = LocalRecommendationService.activity(fake)  # type: ignore[arg-type]
    assert len(reads) == 2 and after.recorded_interactions == first.recorded_interactions + 1
