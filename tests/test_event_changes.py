"""The change counter that lets EventStore answer "no events" from memory, and why it is safe."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from srs.events.change_counter import ChangeCounter
from srs.events.event import Event, EventStoreError
from srs.events.store import CHANGES_SUFFIX, NEW_ROWS_BY_USER, EventStore


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "events.sqlite")


def clicks(*items: str) -> list[Event]:
    return [Event("clicked", item, 1_700_000_000 + i) for i, item in enumerate(items)]


def counter_of(store: EventStore) -> ChangeCounter:
    return ChangeCounter(store.path.with_name(store.path.name + CHANGES_SUFFIX))


def insert_behind_the_counter(store: EventStore, user: str, item: str) -> None:
    """Commit a row the way a writer that dies before ``end()`` would have: counter untouched."""
    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as connection:
        connection.execute(
            "INSERT INTO events (user_id, session_id, event_type, item_id, event_value, sent_at,"
            " received_at) VALUES (?, 's', 'clicked', ?, 3.0, 1, 0.0)",
            (user, item),
        )


def items(store: EventStore, user: str) -> list[str]:
    return [event.item_id for event in store.recent(user)]


def test_counter_is_odd_only_inside_a_write_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite.changes"
    writer, reader = ChangeCounter(path), ChangeCounter(path)
    assert reader.value() == 0
    writer.begin()
    assert reader.value() == 1  # the two mappings share the file's page
    writer.end()
    assert reader.value() == 2
    writer.begin()  # ... and the writer dies here
    writer.begin()  # the next writer keeps it odd rather than making it look finished
    assert reader.value() == 5
    writer.end()
    writer.close()
    reader.close()
    assert ChangeCounter(path).value() == 6
    assert path.stat().st_size == 8


def test_a_short_counter_file_is_extended_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite.changes"
    path.write_bytes(b"\x04\x01")
    counter = ChangeCounter(path)
    assert counter.value() == 0x0104
    assert path.read_bytes() == b"\x04\x01" + bytes(6)


def test_each_write_moves_the_counter_by_two_and_leaves_it_even(store: EventStore) -> None:
    counter = counter_of(store)
    before = counter.value()
    store.put_events("u1", "s1", clicks("svc-1"))
    assert counter.value() == before + 2
    store.put_events("u2", "s1", clicks("svc-2", "svc-3"))
    assert counter.value() == before + 4


def test_a_failed_write_still_leaves_the_counter_even(store: EventStore) -> None:
    with contextlib.closing(sqlite3.connect(store.path)) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.item_id = 'poison'"
            " BEGIN SELECT RAISE(ABORT, 'no space left'); END"
        )
    counter = counter_of(store)
    before = counter.value()
    with pytest.raises(EventStoreError, match="no space left"):
        store.put_events("u1", "s1", clicks("svc-1", "poison"))
    assert counter.value() == before + 2
    assert (store.recent("u1"), store.count("u1"), store.count()) == ([], 0, 0)
    store.put_events("u1", "s1", clicks("svc-1"))
    assert counter.value() == before + 4
    assert items(store, "u1") == ["svc-1"]


def test_users_with_and_without_events_across_writes(store: EventStore) -> None:
    assert (store.recent("u1"), store.count("u1")) == ([], 0)
    store.put_events("u1", "s1", clicks("svc-1"))
    assert (items(store, "u1"), store.count("u1")) == (["svc-1"], 1)
    assert (store.recent("u2"), store.count("u2")) == ([], 0)
    store.put_events("u2", "s2", clicks("svc-2", "svc-3"))
    store.put_events("u1", "s1", clicks("svc-4"))
    assert items(store, "u1") == ["svc-4", "svc-1"]
    assert (items(store, "u2"), store.count("u2")) == (["svc-3", "svc-2"], 2)
    assert (store.recent("u3"), store.count("u3"), store.count()) == ([], 0, 4)
    for user in ("u3", "u4"):
        store.put_events(user, "s", clicks(f"svc-{user}"))
        assert (items(store, user), store.count(user)) == ([f"svc-{user}"], 1)
    assert (store.recent("nobody"), store.count("nobody")) == ([], 0)


def test_a_new_store_on_a_file_with_events_sees_them(store: EventStore) -> None:
    for i in range(5):
        store.put_events(f"u{i}", "s", clicks(f"svc-{i}"))
    store.close()
    reopened = EventStore(store.path)
    assert [items(reopened, f"u{i}") for i in range(5)] == [[f"svc-{i}"] for i in range(5)]
    assert (reopened.recent("nobody"), reopened.count("nobody")) == ([], 0)


def test_looking_for_new_users_reads_only_the_new_rows(store: EventStore) -> None:
    for i in range(3):
        store.put_events(f"u{i}", "s", clicks("svc-1"))
    with contextlib.closing(sqlite3.connect(store.path)) as connection:
        connection.execute("ANALYZE")
        plan = " ".join(
            row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {NEW_ROWS_BY_USER}", (2,))
        )
        assert "INTEGER PRIMARY KEY (rowid>?)" in plan and "events_by_user" not in plan
        assert connection.execute(NEW_ROWS_BY_USER, (2,)).fetchall() == [("u2", 3)]


def test_reads_answer_from_memory_until_the_counter_moves(store: EventStore) -> None:
    store.put_events("u1", "s1", clicks("svc-1"))
    assert store.recent("raw") == []  # this process has now looked
    insert_behind_the_counter(store, "raw", "svc-raw")
    assert (store.recent("raw"), store.count("raw")) == ([], 0)  # not asked: proof of the shortcut
    assert store.count() == 2  # the total is still a query
    assert items(EventStore(store.path), "raw") == ["svc-raw"]  # a store that never looked
    store.put_events("u2", "s2", clicks("svc-2"))
    assert (items(store, "raw"), store.count("raw")) == (["svc-raw"], 1)


def test_after_a_writer_died_mid_write_readers_ask_sqlite(store: EventStore) -> None:
    store.put_events("u1", "s1", clicks("svc-1"))
    assert store.recent("u2") == []  # cached as having no events
    counter = counter_of(store)
    counter.begin()  # a writer begins ...
    assert store.recent("u2") == []  # ... readers look meanwhile ...
    insert_behind_the_counter(store, "u2", "svc-2")  # ... it commits and dies before end()
    assert counter.value() % 2 == 1
    assert (items(store, "u2"), store.count("u2")) == (["svc-2"], 1)
    assert (items(EventStore(store.path), "u2"), store.recent("nobody")) == (["svc-2"], [])
    store.put_events("u3", "s3", clicks("svc-3"))
    assert counter.value() % 2 == 0
    assert [items(store, user) for user in ("u1", "u2", "u3")] == [["svc-1"], ["svc-2"], ["svc-3"]]
    assert (store.recent("nobody"), store.count("nobody")) == ([], 0)


SHOW_ON_EACH_LINE = """
import sys
from pathlib import Path
from srs.events.store import EventStore
store = EventStore(Path(sys.argv[1]))
def show():
    print([e.item_id for e in store.recent('u1')], store.count('u1'), store.count('u2'), flush=True)
show()
for _ in sys.stdin:
    show()
"""


def test_a_process_that_already_looked_sees_the_next_event(store: EventStore) -> None:
    store.put_events("u2", "s2", clicks("svc-2"))
    child = subprocess.Popen(
        [sys.executable, "-c", SHOW_ON_EACH_LINE, str(store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "[] 0 1"
        seen = []
        for item in ("svc-7", "svc-8"):
            store.put_events("u1", "s1", clicks(item))
            child.stdin.write("\n")
            child.stdin.flush()
            seen.append(child.stdout.readline().strip())
        assert seen == ["['svc-7'] 1 1", "['svc-8', 'svc-7'] 2 1"]
        child.stdin.close()
        assert child.wait(30) == 0
    finally:
        child.kill()


def report_after_each_signal(store: EventStore, signals: Connection) -> None:
    while signals.recv():
        signals.send((items(store, "u1"), store.count("u1")))


def test_a_forked_child_that_inherited_a_looked_up_store_sees_new_events(
    store: EventStore,
) -> None:
    assert store.recent("u1") == []  # the child inherits this process's answer
    parent_end, child_end = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=report_after_each_signal, args=(store, child_end)
    )
    child.start()
    try:
        parent_end.send(True)
        assert parent_end.poll(30) and parent_end.recv() == ([], 0)
        store.put_events("u1", "s1", clicks("svc-1"))
        parent_end.send(True)
        assert parent_end.poll(30) and parent_end.recv() == (["svc-1"], 1)
        parent_end.send(False)
        child.join(30)
        assert child.exitcode == 0
    finally:
        child.kill()
