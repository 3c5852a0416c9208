"""EventStore on a real SQLite file: durable, atomic per call, visible to other processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from srs.events.event import NEUTRAL_EVENT_VALUE, Event, EventError, EventStoreError
from srs.events.group_commit import GroupCommit, Row
from srs.events.store import EventStore


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "events.sqlite")


def clicks(*items: str, sent_at: int = 1_700_000_000) -> list[Event]:
    return [Event("clicked", item, sent_at + i) for i, item in enumerate(items)]


def test_events_come_back_newest_first_per_user(store: EventStore) -> None:
    store.put_events("u1", "s1", clicks("svc-1", "svc-2"))
    store.put_events("u2", "s9", clicks("svc-3"))
    store.put_events("u1", "s1", [Event("rated", "svc-4", 1_700_000_100, 5.0)])
    recent = store.recent("u1")
    assert [e.item_id for e in recent] == ["svc-4", "svc-2", "svc-1"]
    assert recent[0].event_value == 5.0 and recent[0].session_id == "s1"
    assert recent[1].event_value == NEUTRAL_EVENT_VALUE
    assert [e.item_id for e in store.recent("u1", limit=1)] == ["svc-4"]
    assert (store.count(), store.count("u1"), store.count("nobody")) == (4, 3, 0)


def test_item_log_lists_every_event_time_and_item(store: EventStore) -> None:
    assert [len(part) for part in store.item_log()] == [0, 0]
    store.put_events("u1", "s1", clicks("svc-1", "svc-2", sent_at=1_700_000_000))
    store.put_events("u2", "s2", clicks("svc-1", sent_at=1_750_000_000))
    stamps, items = store.item_log()
    assert sorted(zip(stamps.tolist(), items.tolist(), strict=True)) == [
        (1_700_000_000, "svc-1"),
        (1_700_000_001, "svc-2"),
        (1_750_000_000, "svc-1"),
    ]


def test_file_is_in_wal_mode(store: EventStore) -> None:
    store.put_events("u1", "s1", clicks("svc-1"))
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_another_process_sees_an_event_as_soon_as_put_returns(store: EventStore) -> None:
    store.put_events("u1", "s1", clicks("svc-7"))
    code = (
        "import sys; from pathlib import Path; from srs.events.store import EventStore;"
        "print(EventStore(Path(sys.argv[1])).recent('u1')[0].item_id)"
    )
    seen = subprocess.run(
        [sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, check=True
    )
    assert seen.stdout.strip() == "svc-7"


@pytest.mark.parametrize(
    ("user", "session", "events", "message"),
    [
        ("u1", "s1", [], "eventList must hold 1 to 10 events, got 0"),
        ("u1", "s1", clicks(*[f"svc-{i}" for i in range(11)]), "got 11"),
        (" ", "s1", clicks("svc-1"), "userId is blank"),
        ("u1", "", clicks("svc-1"), "sessionId is blank"),
        ("u" * 257, "s1", clicks("svc-1"), "userId is longer than 256 characters"),
        (
            "u1",
            "s1",
            [*clicks("svc-1"), Event("rated", "svc-2", 1_700_000_000, float("nan"))],
            "eventList[1].eventValue must be a finite number",
        ),
        ("u1", "s1", [Event("", "svc-1", 1)], "eventList[0].eventType is blank"),
    ],
)
def test_bad_calls_are_refused_whole(
    store: EventStore, user: str, session: str, events: list[Event], message: str
) -> None:
    with pytest.raises(EventError) as raised:
        store.put_events(user, session, events)
    assert message in str(raised.value)
    assert store.count() == 0


def test_export_writes_personalize_interactions(store: EventStore, tmp_path: Path) -> None:
    store.put_events("007", "s1", clicks("svc-1", "svc-2"))
    store.put_events("u2", "s2", [Event("rated", "svc-1", 1_700_000_500, 4.0)])
    target = tmp_path / "events.csv"
    assert store.export_csv(target) == 3
    frame = pd.read_csv(target, dtype={"USER_ID": str, "ITEM_ID": str})
    assert list(frame.columns) == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    assert frame["USER_ID"].tolist() == ["007", "007", "u2"]
    assert frame["EVENT_VALUE"].tolist() == [NEUTRAL_EVENT_VALUE, NEUTRAL_EVENT_VALUE, 4.0]
    assert frame["TIMESTAMP"].tolist() == [1_700_000_000, 1_700_000_001, 1_700_000_500]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_streams_in_batches(store: EventStore) -> None:
    for i in range(25):
        store.put_events(f"u{i}", "s", clicks(f"svc-{i}"))
    batches = list(store.iter_batches(batch_rows=10))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert batches[2].column("USER_ID").to_pylist() == [f"u{i}" for i in range(20, 25)]


def row(user: str) -> Row:
    return (user, "s", "clicked", "svc-1", 1.0, 1, 0.0)


def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


class BlockingWriter:
    """Records each batch; the first one blocks until released, so others queue behind it."""

    def __init__(self, fail_batch: int | None = None) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()
        self.fail_batch = fail_batch

    def __call__(self, rows: list[Row]) -> None:
        self.batches.append([r[0] for r in rows])
        if len(self.batches) == 1:
            assert self.release.wait(10)
        if len(self.batches) == self.fail_batch:
            raise OSError("disk full")


def submit_in_threads(
    group: GroupCommit, users: list[str]
) -> tuple[list[threading.Thread], dict[str, str]]:
    outcome: dict[str, str] = {}

    def call(user: str) -> None:
        try:
            group.submit([row(user)])
            outcome[user] = "stored"
        except EventStoreError as exc:
            outcome[user] = str(exc)

    threads = [threading.Thread(target=call, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    return threads, outcome


def test_calls_during_a_commit_share_the_next_one() -> None:
    writer = BlockingWriter()
    group = GroupCommit(writer)
    first, first_outcome = submit_in_threads(group, ["first"])
    wait_until(lambda: len(writer.batches) == 1)
    waiting = [f"u{i}" for i in range(6)]
    threads, outcome = submit_in_threads(group, waiting)
    wait_until(lambda: group.waiting_rows == len(waiting))
    assert outcome == {} and first_outcome == {}  # nobody answered before their commit
    writer.release.set()
    for thread in [*first, *threads]:
        thread.join(10)
    assert writer.batches[0] == ["first"]
    assert sorted(writer.batches[1]) == waiting and len(writer.batches) == 2
    assert set(outcome.values()) == {"stored"} and first_outcome == {"first": "stored"}


def test_a_failed_commit_fails_its_calls_only() -> None:
    writer = BlockingWriter(fail_batch=2)
    group = GroupCommit(writer)
    first, first_outcome = submit_in_threads(group, ["first"])
    wait_until(lambda: len(writer.batches) == 1)
    threads, outcome = submit_in_threads(group, ["a", "b"])
    wait_until(lambda: group.waiting_rows == 2)
    writer.release.set()
    for thread in [*first, *threads]:
        thread.join(10)
    assert first_outcome == {"first": "stored"}
    assert outcome == {"a": "events not stored: disk full", "b": "events not stored: disk full"}
    group.submit([row("later")])
    assert writer.batches[-1] == ["later"]


def write_from_threads(store: EventStore, process: int) -> None:
    def write(thread: int) -> None:
        for call in range(20):
            events = [Event("clicked", "svc-1", 1_700_000_000 + call)] * 2
            store.put_events(f"p{process}-t{thread}", "s", events)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_processes_and_threads_writing_at_once_lose_nothing(store: EventStore) -> None:
    store.put_events("parent", "s", clicks("svc-1"))  # the children inherit an opened store
    fork = multiprocessing.get_context("fork")
    writers = [fork.Process(target=write_from_threads, args=(store, p)) for p in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0, 0]
    assert store.count() == 1 + 3 * 4 * 20 * 2
    assert {store.count(f"p{p}-t{t}") for p in range(3) for t in range(4)} == {40}


# --- undo: deleting one event ----------------------------------------------------------------


def test_delete_removes_one_event_of_that_user_only(store: EventStore) -> None:
    store.put_events("u1", "s1", clicks("svc-1", "svc-2"))
    store.put_events("u2", "s2", clicks("svc-3"))
    newest, older = store.recent("u1")
    theirs = store.recent("u2")[0]
    assert store.delete_event("u1", theirs.id) is None  # another user's event: untouched
    assert store.delete_event("u1", 10_000) is None
    assert store.delete_event("u1", newest.id) == newest
    assert store.recent("u1") == [older]
    assert store.recent("u2") == [theirs]
    assert (store.count(), store.count("u1")) == (2, 1)
    assert store.delete_event("u1", newest.id) is None  # already gone


def test_a_delete_is_seen_by_a_store_that_answered_from_memory(store: EventStore) -> None:
    """Another store on the file keeps its own index of users, as another process does."""
    other = EventStore(store.path)
    store.put_events("u1", "s1", clicks("svc-1"))
    event = other.recent("u1")[0]
    assert store.delete_event("u1", event.id) == event
    assert other.recent("u1") == [] and other.count("u1") == 0


def test_the_deleted_newest_id_is_never_given_again(store: EventStore) -> None:
    """Readers fetch the rows above the last ID they saw: a reused ID would hide a new row."""
    other = EventStore(store.path)
    store.put_events("u1", "s1", clicks("svc-1"))
    deleted = other.recent("u1")[0]  # ``other`` has now seen every ID up to this one
    store.delete_event("u1", deleted.id)
    store.put_events("u2", "s2", clicks("svc-2"))
    fresh = other.recent("u2")
    assert [event.item_id for event in fresh] == ["svc-2"]
    assert fresh[0].id > deleted.id


def test_a_table_made_before_deletes_is_rebuilt_keeping_its_ids(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL,"
            " session_id TEXT NOT NULL, event_type TEXT NOT NULL, item_id TEXT NOT NULL,"
            " event_value REAL NOT NULL, sent_at INTEGER NOT NULL, received_at REAL NOT NULL);"
            "INSERT INTO events VALUES (5, 'u1', 's', 'clicked', 'svc-1', 3.0, 1, 0.0);"
            "INSERT INTO events VALUES (9, 'u1', 's', 'liked', 'svc-2', 3.0, 2, 0.0);"
        )
    connection.close()
    store = EventStore(path)
    assert [(event.id, event.item_id) for event in store.recent("u1")] == [
        (9, "svc-2"),
        (5, "svc-1"),
    ]
    store.delete_event("u1", 9)
    store.put_events("u1", "s", clicks("svc-3"))
    assert store.recent("u1")[0].id == 10


# --- the rules every event meets, and rows stored before them ------------------------------

NOW = 1_760_000_000.0


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (Event("clicked", "svc-1", 1_700_000_000_000), "eventList[0].sentAt out of range"),
        (Event("clicked", "svc-1", 9 * 10**18), "(value 9000000000000000000)"),
        (Event("clicked", "svc-1", 2**70), "eventList[0].sentAt out of range"),
        (Event("clicked", "svc-1", 1e300), "(value 1e+300)"),  # type: ignore[arg-type]
        (Event("clicked", "svc-1", float("nan")), "sentAt must be a finite"),  # type: ignore[arg-type]
        (Event("clicked", "svc-1", int(NOW) + 2 * 86_400), "later than"),
        (Event("clicked", "svc-1", 900_000_000), "earlier than 2000-01-01"),
        (Event("clicked", "svc-1", True), "sentAt must be a number"),  # type: ignore[arg-type]
        (Event("rated", "svc-1", 1_700_000_000, 99.0), "eventValue is a rating: out of range 1–5"),
        (Event("rated", "svc-1", 1_700_000_000, 0.0), "(value 0.0)"),
        (Event("played", "svc-1", 1_700_000_000, 1e300), "eventList[0].eventValue must be"),
        (Event("played", "svc-1", 1_700_000_000, -1e300), "(value -1e+300)"),
        (Event("played", "svc-1", 1_700_000_000, float("inf")), "must be a finite number"),
        (Event("played", "svc-1", 1_700_000_000, "5"), "must be a number, got str"),  # type: ignore[arg-type]
    ],
)
def test_times_and_values_out_of_range_are_refused_before_storage(
    tmp_path: Path, event: Event, message: str
) -> None:
    store = EventStore(tmp_path / "events.sqlite", clock=lambda: NOW)
    with pytest.raises(EventError) as raised:
        store.put_events("u1", "s1", [*clicks("svc-0"), event])
    assert message.replace("eventList[0]", "eventList[1]") in str(raised.value)
    assert store.count() == 0


def test_fractional_seconds_and_counts_within_bounds_are_accepted(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.sqlite", clock=lambda: NOW)
    store.put_events(
        "u1",
        "s1",
        [
            Event("played", "svc-1", 1_700_000_000.75, 120.0),  # type: ignore[arg-type]
            Event("rated", "svc-2", int(NOW) + 3_600, 5.0),
        ],
    )
    assert [(e.sent_at, e.event_value) for e in store.recent("u1")] == [
        (int(NOW) + 3_600, 5.0),
        (1_700_000_000, 120.0),
    ]


def test_a_bad_event_from_one_thread_fails_no_other_call(store: EventStore) -> None:
    """Refused before the group commit, so it cannot poison a transaction shared with others."""
    failures: list[str] = []

    def write(index: int) -> None:
        try:
            sent_at = 2**70 if index == 0 else 1_700_000_000 + index
            store.put_events(f"u{index}", "s", [Event("clicked", "svc-1", sent_at)])
        except EventError as exc:
            failures.append(f"{index}: {exc}")

    threads = [threading.Thread(target=write, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(failures) == 1 and failures[0].startswith("0: ")
    assert store.count() == 7


def poison(path: Path) -> None:
    """Rows an older version or a hand edit could have left: times and values out of range."""
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
            " sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, 0.0)",
            [
                ("u1", "s", "clicked", "svc-ms", 3.0, 1_700_000_000_000),
                ("u1", "s", "clicked", "svc-huge", 3.0, 9 * 10**18),
                ("u1", "s", "rated", "svc-99", 99.0, 1_700_000_000),
                ("u1", "s", "played", "svc-inf", float("inf"), 1_700_000_000),
                ("u1", "s", "clicked", "svc-text", 3.0, "yesterday"),
            ],
        )
    connection.close()


def test_stored_rows_out_of_range_are_skipped_by_every_read_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.sqlite"
    EventStore(path).put_events("u1", "s", clicks("svc-good"))
    poison(path)
    store = EventStore(path)
    caplog.set_level("WARNING", logger="srs.events")
    assert [event.item_id for event in store.recent("u1")] == ["svc-good"]
    stamps, items = store.item_log()
    assert (stamps.tolist(), items.tolist()) == ([1_700_000_000], ["svc-good"])
    assert [table.num_rows for table in store.iter_batches(batch_rows=2)] == [1]
    assert store.export_csv(tmp_path / "export.csv") == 1
    exported = (tmp_path / "export.csv").read_text()
    assert "svc-good" in exported and "svc-ms" not in exported and "1700000000000" not in exported
    skipped = [record for record in caplog.records if "skipped" in record.getMessage()]
    assert len(skipped) == 5
    assert (store.count(), store.count("u1")) == (1, 1)  # what the reads show
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (6,)
    connection.close()  # quarantined, not deleted


def test_counts_and_pages_agree_with_what_is_shown_around_a_poisoned_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.sqlite"
    EventStore(path).put_events("u1", "s", clicks("svc-a", "svc-b", "svc-c"))
    poison(path)  # five newer rows of u1, all unusable
    EventStore(path).put_events("u1", "s", clicks("svc-d", sent_at=1_700_000_500))
    EventStore(path).put_events("u2", "s", clicks("svc-a"))
    store = EventStore(path)

    assert store.count("u1") == len(store.recent("u1")) == 4
    assert store.count() == 5
    assert [event.item_id for event in store.recent("u1", 2)] == ["svc-d", "svc-c"]
    newest_three = [event.item_id for event in store.recent("u1", 3)]
    assert newest_three == ["svc-d", "svc-c", "svc-b"]


def recount(store: EventStore) -> dict[tuple[int, str], int]:
    """The daily aggregate as a full read of the events would give it."""
    stamps, items = store.item_log()
    counts: dict[tuple[int, str], int] = {}
    for stamp, item in zip(stamps.tolist(), items.tolist(), strict=True):
        key = (stamp // 86_400, item)
        counts[key] = counts.get(key, 0) + 1
    return counts


def aggregate(store: EventStore) -> dict[tuple[int, str], int]:
    daily = store.daily_item_counts()
    return {
        (int(day), str(item)): int(count)
        for day, item, count in zip(daily.days, daily.item_ids, daily.counts, strict=True)
    }


def test_daily_aggregate_equals_a_recount_after_inserts_and_deletes(store: EventStore) -> None:
    store.put_events("u1", "s", clicks("a", "b", "a"))
    store.put_events("u2", "s", clicks("a", sent_at=1_700_100_000))
    assert aggregate(store) == recount(store) == {(19675, "a"): 2, (19675, "b"): 1, (19677, "a"): 1}
    first = store.recent("u1")[-1]
    store.delete_event("u1", first.id)
    store.delete_event("u2", store.recent("u2")[0].id)
    assert aggregate(store) == recount(store) == {(19675, "a"): 1, (19675, "b"): 1}


def test_existing_database_is_backfilled_once_leaving_bad_rows_out(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    EventStore(path).put_events("u1", "s", clicks("a", "b"))
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE event_daily")
        connection.execute(
            "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
            " sent_at, received_at) VALUES ('u', 's', 'clicked', 'bad', 1.0, 'soon', 0)"
        )
    store = EventStore(path)
    assert aggregate(store) == recount(store) == {(19675, "a"): 1, (19675, "b"): 1}
    store.put_events("u3", "s", clicks("a"))
    assert aggregate(EventStore(path)) == recount(store)


def test_compact_removes_only_old_rows_and_keeps_the_aggregate(tmp_path: Path) -> None:
    now = 1_700_000_000.0
    store = EventStore(tmp_path / "events.sqlite", clock=lambda: now)
    store.put_events("u1", "s", clicks("old", sent_at=int(now) - 40 * 86_400))
    store.put_events("u1", "s", clicks("new", "new", sent_at=int(now) - 86_400))
    assert store.compact(older_than_days=30) == 1
    assert [e.item_id for e in store.recent("u1")] == ["new", "new"]
    assert aggregate(store) == recount(store) == {(19674, "new"): 2}
    assert store.compact(older_than_days=30) == 0
    with pytest.raises(ValueError):
        store.compact(older_than_days=0)


def test_compact_moves_the_change_counter_so_other_processes_reread(tmp_path: Path) -> None:
    now = 1_700_000_000.0
    store = EventStore(tmp_path / "events.sqlite", clock=lambda: now)
    store.put_events("u1", "s", clicks("old", sent_at=int(now) - 40 * 86_400))
    before = store._changes.value()
    store.compact(older_than_days=30)
    after = store._changes.value()
    assert after > before and after % 2 == 0
