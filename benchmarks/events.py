"""Events lifecycle: the data page's feedback side at a few events and at a million, beside
an empty render, and the durable write rate of ``put_events``.

The page reads the daily aggregate, so its cost should follow the days and items held, not
the number of events. The million rows go in with one ``executemany`` and the aggregate is
built by the backfill an old database gets on open, so the set-up is quick.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from srs.activity import LogCounts, summarize_counts
from srs.events.event import Event
from srs.events.store import EventStore

START = 1_700_000_000
ITEMS = 150
DAYS = 365
REPEATS = 50


def seconds_per_call(call: Callable[[], object]) -> float:
    call()
    began = time.perf_counter()
    for _ in range(REPEATS):
        call()
    return (time.perf_counter() - began) / REPEATS


def filled_store(path: Path, events: int) -> EventStore:
    EventStore(path).close()
    rows = (
        (
            f"u{n % 5000}",
            "s",
            "clicked",
            f"svc-{n % ITEMS:04d}",
            3.0,
            START + (n % DAYS) * 86_400 + n % 977,
            float(START),
        )
        for n in range(events)
    )
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
            " sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute("DROP TABLE event_daily")
    return EventStore(path)


def page(store: EventStore | None) -> None:
    prepared = LogCounts.empty()
    if store is None:
        summarize_counts(prepared, {})
        return
    daily = store.daily_item_counts()
    summarize_counts(
        prepared, {}, recorded=LogCounts.from_daily_items(daily.days, daily.item_ids, daily.counts)
    )


def write_rate(store: EventStore, calls: int) -> float:
    began = time.perf_counter()
    for n in range(calls):
        store.put_events(f"w{n}", "s", [Event("clicked", f"svc-{n % ITEMS:04d}", START + n)])
    return calls / (time.perf_counter() - began)


def main() -> None:
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="srs-events-"))
    baseline = seconds_per_call(lambda: page(None))
    print(f"empty page (baseline):  {baseline * 1e3:8.3f} ms")
    for events in (100, 1_000_000):
        store = filled_store(directory / f"events-{events}.sqlite", events)
        cost = seconds_per_call(lambda store=store: page(store))  # type: ignore[misc]
        print(f"page at {events:>9,} events: {cost * 1e3:8.3f} ms")
    store = EventStore(directory / "writes.sqlite")
    print(f"put_events, durable:    {write_rate(store, 2000):8,.0f} calls/s (target 1,000)")


if __name__ == "__main__":
    main()
