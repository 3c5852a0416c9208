"""EventStore: feedback events in a SQLite file, durable before the caller is answered.

SQLite in WAL mode with ``synchronous=FULL`` fsyncs each commit, so an accepted
event survives a crash; readers never block the writer, and every server worker
opening the same file sees a new event as soon as it is committed — that is what
lets the next recommendation react at once without any shared memory.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from srs.data.prepare import INTERACTIONS_ARROW_SCHEMA
from srs.data.store import atomic_file
from srs.errors import SRSError

EVENTS_FILE = "events.sqlite"
MAX_EVENTS_PER_CALL = 10  # PutEvents' limit
MAX_ID_LENGTH = 256
# PutEvents makes eventValue optional but Personalize's EVENT_VALUE column is a float;
# an event sent without one gets the neutral midpoint of the 1–5 rating scale.
NEUTRAL_EVENT_VALUE = 3.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    event_value REAL NOT NULL,
    sent_at     INTEGER NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, id);
"""


class EventError(SRSError):
    """An event that cannot be accepted; the message names the event and field."""


@dataclass(frozen=True, slots=True)
class Event:
    """One PutEvents eventList entry, after validation."""

    event_type: str
    item_id: str
    sent_at: int
    event_value: float = NEUTRAL_EVENT_VALUE


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored, with who sent it; ``id`` orders events globally."""

    id: int
    user_id: str
    session_id: str
    event_type: str
    item_id: str
    event_value: float
    sent_at: int


def _check_id(name: str, value: str) -> None:
    if not value.strip():
        raise EventError(f"{name} is blank")
    if len(value) > MAX_ID_LENGTH:
        raise EventError(f"{name} is longer than {MAX_ID_LENGTH} characters")


def check_batch(user_id: str, session_id: str, events: Sequence[Event]) -> None:
    """PutEvents' rules: 1–10 events, non-blank IDs, finite values."""
    _check_id("userId", user_id)
    _check_id("sessionId", session_id)
    if not 1 <= len(events) <= MAX_EVENTS_PER_CALL:
        raise EventError(
            f"eventList must hold 1 to {MAX_EVENTS_PER_CALL} events, got {len(events)}"
        )
    for index, event in enumerate(events):
        _check_id(f"eventList[{index}].eventType", event.event_type)
        _check_id(f"eventList[{index}].itemId", event.item_id)
        if event.event_value != event.event_value or abs(event.event_value) == float("inf"):
            raise EventError(f"eventList[{index}].eventValue must be a finite number")
        if event.sent_at < 0:
            raise EventError(f"eventList[{index}].sentAt must not be negative")


class EventStore:
    """One SQLite file shared by every process; one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
        return connection

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None:
        """Store a PutEvents call atomically; returns only once it is on disk."""
        check_batch(user_id, session_id, events)
        received = time.time()
        rows = [
            (user_id, session_id, e.event_type, e.item_id, e.event_value, e.sent_at, received)
            for e in events
        ]
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(
                "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
                " sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def recent(self, user_id: str, limit: int = 200) -> list[StoredEvent]:
        """A user's newest events first; cheap thanks to the (user_id, id) index."""
        cursor = self._connect().execute(
            "SELECT id, user_id, session_id, event_type, item_id, event_value, sent_at"
            " FROM events WHERE user_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [StoredEvent(*row) for row in cursor]

    def count(self, user_id: str | None = None) -> int:
        if user_id is None:
            row = self._connect().execute("SELECT count(*) FROM events").fetchone()
        else:
            row = (
                self._connect()
                .execute("SELECT count(*) FROM events WHERE user_id = ?", (user_id,))
                .fetchone()
            )
        return int(row[0])

    def iter_batches(self, batch_rows: int = 100_000) -> Iterator[pa.Table]:
        """All events in Personalize's interactions columns, in storage order, streamed."""
        last = 0
        while True:
            rows = (
                self._connect()
                .execute(
                    "SELECT id, user_id, item_id, event_type, event_value, sent_at FROM events"
                    " WHERE id > ? ORDER BY id LIMIT ?",
                    (last, batch_rows),
                )
                .fetchall()
            )
            if not rows:
                return
            last = rows[-1][0]
            _, users, items, types, values, times = zip(*rows, strict=True)
            yield pa.table(
                {
                    "USER_ID": pa.array(users, pa.string()),
                    "ITEM_ID": pa.array(items, pa.string()),
                    "EVENT_TYPE": pa.array(types, pa.string()),
                    "EVENT_VALUE": pa.array(values, pa.float64()),
                    "TIMESTAMP": pa.array(times, pa.int64()),
                }
            )

    def export_csv(self, target: Path) -> int:
        """Write every event as an interactions CSV Personalize imports as is; returns rows."""
        rows = 0
        with (
            atomic_file(target, str(target)) as stream,
            pcsv.CSVWriter(
                stream,
                INTERACTIONS_ARROW_SCHEMA,
                write_options=pcsv.WriteOptions(quoting_style="needed"),
            ) as writer,
        ):
            for table in self.iter_batches():
                writer.write_table(table.cast(INTERACTIONS_ARROW_SCHEMA))
                rows += table.num_rows
        return rows
