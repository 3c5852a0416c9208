"""Feedback events in a SQLite file, durable before the caller is answered.

SQLite in WAL mode with ``synchronous=FULL`` fsyncs each commit, so an accepted
event survives a crash; readers never block the writer, and every server worker
opening the same file sees a new event as soon as it is committed — that is what
lets the next recommendation react at once.

Writes are grouped so that the sync, not the request rate, sets the pace. Within a
process, calls that arrive while a commit is in progress share the next transaction
(:class:`GroupCommit`). Across processes, writers queue on an exclusive ``flock`` of a
lock file beside the database before they begin: the kernel wakes the next one the moment
the lock is free, where SQLite's own busy handler would sleep and retry with growing pauses.

Writers also bump a :class:`ChangeCounter` around each transaction, and each process keeps
the set of users that have events together with the counter value it reflects. While the
counter has not moved, nothing has been committed since, and the set answers "no events" from
memory; once it moves, the next read first fetches the rows added since, so an event is
still seen by every process as soon as ``put_events`` returns. It follows that events must
be written through :class:`EventStore`: a row inserted by any other program does not move
the counter, so processes that have already looked would not notice it. An undo deletes its
event the same way, through :meth:`EventStore.delete_event`.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import math
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from srs.event_rules import stored_event_problem
from srs.events.change_counter import ChangeCounter
from srs.events.event import Event, StoredEvent, check_batch
from srs.events.export import write_interactions_csv
from srs.events.group_commit import GroupCommit, Row

LOG = logging.getLogger(__name__)

EVENTS_FILE = "events.sqlite"
WRITER_LOCK_SUFFIX = ".writer-lock"
CHANGES_SUFFIX = ".changes"
BUSY_TIMEOUT_SECONDS = 30.0

# AUTOINCREMENT: an ID is never given again, even after its row is deleted (an undo). Readers
# learn of new rows as those above the last ID they saw; a reused ID would hide a new row.
_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    event_value REAL NOT NULL,
    sent_at     INTEGER NOT NULL,
    received_at REAL NOT NULL
)
"""
_SCHEMA = (
    _TABLE.format(name="events")
    + ";\nCREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, id);\n"
)
# Events per UTC day of their own time and item, kept in step with the events table by every
# write so the data page reads a table that grows with days times items, never with events.
_DAILY = """
CREATE TABLE IF NOT EXISTS event_daily (
    day     INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (day, item_id)
) WITHOUT ROWID
"""
_ADD_DAILY = (
    "INSERT INTO event_daily (day, item_id, count) VALUES (?, ?, ?)"
    " ON CONFLICT (day, item_id) DO UPDATE SET count = count + excluded.count"
)
_SUBTRACT_DAILY = "UPDATE event_daily SET count = count - ? WHERE day = ? AND item_id = ?"
_DROP_EMPTY_DAILY = "DELETE FROM event_daily WHERE count <= 0"
SECONDS_PER_DAY = 86_400
_COLUMNS = "id, user_id, session_id, event_type, item_id, event_value, sent_at, received_at"

# Users with rows after an ID, from one snapshot. NOT INDEXED keeps SQLite on the rowid range:
# left to itself it groups along events_by_user and so reads the whole table on every call.
NEW_ROWS_BY_USER = "SELECT user_id, max(id) FROM events NOT INDEXED WHERE id > ? GROUP BY user_id"


class _Quarantine:
    """Stored rows that break the rules, left in the table but never used.

    Older versions accepted any time, and a person may edit the file by hand; one such row
    must not fail every page that reads it. Each is logged once per process, not per read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged: set[int] = set()

    def usable(self, row_id: int, event_type: object, value: object, sent_at: object) -> bool:
        problem = stored_event_problem(event_type, value, sent_at)
        if problem is None:
            return True
        with self._lock:
            first = row_id not in self._logged
            self._logged.add(row_id)
        if first:
            LOG.warning("events: row %s skipped (left in place): %s", row_id, problem)
        return False


class _WriterLock:
    """An exclusive ``flock`` that serialises this file's writers across processes.

    The lock file is opened per process (a descriptor inherited through ``fork`` would share
    the lock with the parent) and never closed while in use, so no lock is lost early.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None
        self._pid = 0

    def _open(self) -> int:
        if self._descriptor is None or self._pid != os.getpid():
            self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._descriptor

    def __enter__(self) -> None:
        fcntl.flock(self._open(), fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        if self._descriptor is not None:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._descriptor is not None and self._pid == os.getpid():
            os.close(self._descriptor)
        self._descriptor = None


class _UsersWithEvents:
    """The users with at least one event, as of counter value ``seen``; grows, never shrinks.

    A forked child may answer from its parent's copy, which is as true there, but makes its
    own before it takes the lock: a thread that held it at the fork does not exist there.
    """

    __slots__ = ("last_id", "lock", "pid", "seen", "users")

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.users: set[str] = set()
        self.last_id = 0
        self.seen: int | None = None


def _never_reuse_ids(connection: sqlite3.Connection) -> None:
    """Rebuild an events table made before deletes existed as AUTOINCREMENT, keeping its IDs.

    Call holding the writer lock. Without AUTOINCREMENT SQLite gives a new row the largest ID
    plus one, so deleting the newest event would hand its ID to the next one.
    """
    found = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'"
    ).fetchone()
    if found is None or "AUTOINCREMENT" in str(found[0]).upper():
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_TABLE.format(name="events_rebuilt"))
        connection.execute(
            f"INSERT INTO events_rebuilt ({_COLUMNS}) SELECT {_COLUMNS} FROM events ORDER BY id"
        )
        connection.execute("DROP TABLE events")
        connection.execute("ALTER TABLE events_rebuilt RENAME TO events")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


DailyKey = tuple[int, str]
"""A UTC day number (days since 1970-01-01) and an item ID."""


def _daily_keys(rows: Iterable[tuple[object, object, object, object]]) -> Counter[DailyKey]:
    """How many events each (day, item) gains or loses, counting only rows the rules accept,
    so a quarantined row never reaches a chart. Rows are (sent_at, item_id, type, value)."""
    counts: Counter[DailyKey] = Counter()
    for sent_at, item_id, event_type, value in rows:
        if stored_event_problem(event_type, value, sent_at) is None:
            counts[(int(sent_at) // SECONDS_PER_DAY, str(item_id))] += 1  # type: ignore[call-overload]
    return counts


def _add_daily(connection: sqlite3.Connection, counts: Counter[DailyKey]) -> None:
    connection.executemany(_ADD_DAILY, [(day, item, n) for (day, item), n in counts.items()])


def _subtract_daily(connection: sqlite3.Connection, counts: Counter[DailyKey]) -> None:
    if counts:
        connection.executemany(
            _SUBTRACT_DAILY, [(n, day, item) for (day, item), n in counts.items()]
        )
        connection.execute(_DROP_EMPTY_DAILY)


def _backfill_daily(connection: sqlite3.Connection) -> None:
    """Build the daily aggregate once for a database made before it existed.

    Call holding the writer lock. Creating the table and filling it is one transaction, so a
    crash leaves either no table (and the next open tries again) or a complete one.
    """
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_daily'"
    ).fetchone()
    if found is not None:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_DAILY)
        exists = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        ).fetchone()
        if exists is not None:
            cursor = connection.execute(
                "SELECT sent_at, item_id, event_type, event_value FROM events"
            )
            while batch := cursor.fetchmany(100_000):
                _add_daily(connection, _daily_keys(batch))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


@dataclass(frozen=True, slots=True)
class DailyItemCounts:
    """Usable events counted per (UTC day number, item), in parallel arrays."""

    days: npt.NDArray[np.int64]
    item_ids: npt.NDArray[np.object_]
    counts: npt.NDArray[np.int64]


class EventStore:
    """One SQLite file shared by every process; one connection per thread."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._quarantine = _Quarantine()
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_lock = _WriterLock(path.with_name(path.name + WRITER_LOCK_SUFFIX))
        self._changes = ChangeCounter(path.with_name(path.name + CHANGES_SUFFIX))
        self._users_with_events = _UsersWithEvents()
        self._commits = GroupCommit(self._write)
        # The writer lock's flock is held per process, so it does not keep this process's
        # threads apart; this does, for the group commit's leader and for deletes.
        self._writing = threading.Lock()
        with self._writer_lock:
            connection = self._connect()
            _never_reuse_ids(connection)
            _backfill_daily(connection)
            connection.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection; a forked child opens its own rather than share one."""
        opened: tuple[int, sqlite3.Connection] | None = getattr(self._local, "connection", None)
        if opened is not None and opened[0] == os.getpid():
            return opened[1]
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        self._local.connection = (os.getpid(), connection)
        return connection

    def close(self) -> None:
        opened: tuple[int, sqlite3.Connection] | None = getattr(self._local, "connection", None)
        if opened is not None and opened[0] == os.getpid():
            opened[1].close()
        self._local.connection = None
        self._writer_lock.close()
        self._changes.close()

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None:
        """Store a PutEvents call atomically; returns only once it is on disk.

        Fractional times are stored as whole seconds, as ``srs prepare`` does. Raises
        :class:`EventError` for invalid events (nothing is stored) and
        :class:`EventStoreError` when valid events could not be written.
        """
        received = self._clock()
        check_batch(user_id, session_id, events, now=received)
        self._commits.submit(
            [
                (
                    user_id,
                    session_id,
                    e.event_type,
                    e.item_id,
                    float(e.event_value),
                    math.floor(e.sent_at),
                    received,
                )
                for e in events
            ]
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: under the thread and writer locks and inside the change
        counter, so every process re-reads before it answers from memory again; committed
        when the block ends, rolled back if it raises."""
        connection = self._connect()
        with self._writing, self._writer_lock:
            self._changes.begin()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            finally:
                self._changes.end()

    def _write(self, rows: list[Row]) -> None:
        """One transaction for a batch of calls: all of them are stored, or none."""
        with self._transaction() as connection:
            connection.executemany(
                "INSERT INTO events (user_id, session_id, event_type, item_id,"
                " event_value, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            _add_daily(connection, _daily_keys((r[5], r[3], r[2], r[4]) for r in rows))

    def delete_event(self, user_id: str, event_id: int) -> StoredEvent | None:
        """Remove one of ``user_id``'s events (an undo); returns it, or None if there is none.

        The user is part of the key so that a form naming another user's event ID removes
        nothing. A delete is a write like any other (:meth:`_transaction`). The process's set
        of users with events keeps the user, which is safe: it only means "ask SQLite".
        """
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT id, user_id, session_id, event_type, item_id, event_value,"
                " sent_at FROM events WHERE id = ? AND user_id = ?",
                (event_id, user_id),
            ).fetchone()
            if row is not None:
                connection.execute("DELETE FROM events WHERE id = ?", (event_id,))
                _subtract_daily(connection, _daily_keys([(row[6], row[4], row[3], row[5])]))
        return None if row is None else StoredEvent(*row)

    def _may_have_events(self, user_id: str) -> bool:
        """False only when this process can prove the user has no event, without asking SQLite.

        The counter is read before the table: a commit that ends after that read moves the
        counter past the value recorded here, so the next call fetches its rows. Row IDs only
        grow (commits are serialised, and AUTOINCREMENT never hands out a deleted row's ID
        again), so the rows after the last ID seen are all the news, and one statement reads
        them from one snapshot. A delete leaves its user in the set, which only costs a query.
        ``users`` is filled before ``seen`` is set, so the unlocked check never pairs a new
        value with an old set.
        """
        changes = self._changes.value()
        index = self._users_with_events
        if changes == index.seen:
            return user_id in index.users
        if changes % 2:  # a write is under way, or its writer died: only SQLite knows
            return True
        if index.pid != os.getpid():
            index = self._users_with_events = _UsersWithEvents()
        with index.lock:
            if index.seen != changes:
                rows = self._connect().execute(NEW_ROWS_BY_USER, (index.last_id,)).fetchall()
                index.users.update(user for user, _ in rows)
                index.last_id = max((last for _, last in rows), default=index.last_id)
                index.seen = changes
        return user_id in index.users

    def recent(self, user_id: str, limit: int = 200) -> list[StoredEvent]:
        """A user's ``limit`` newest usable events first; cheap thanks to the (user_id, id)
        index. The limit counts usable rows, so a quarantined one never shortens a page."""
        if limit < 1 or not self._may_have_events(user_id):
            return []
        cursor = self._connect().execute(
            "SELECT id, user_id, session_id, event_type, item_id, event_value, sent_at"
            " FROM events WHERE user_id = ? ORDER BY id DESC",
            (user_id,),
        )
        usable = self._quarantine.usable
        kept = (StoredEvent(*row) for row in cursor if usable(row[0], row[3], row[5], row[6]))
        return list(itertools.islice(kept, limit))

    def users_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Sorted IDs of users with events that begin with ``prefix``: users who exist only
        through feedback must be found by the user search too. A range scan of the index."""
        if limit < 1:
            return []
        cursor = self._connect().execute(
            "SELECT DISTINCT user_id FROM events WHERE user_id >= ? AND user_id < ?"
            " ORDER BY user_id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [str(row[0]) for row in cursor]

    def count(self, user_id: str | None = None) -> int:
        """Usable events (of one user, or of all): the rows every read shows, so a history's
        total agrees with its pages. Quarantined rows stay stored but are not counted."""
        if user_id is None:
            cursor = self._connect().execute(
                "SELECT id, event_type, event_value, sent_at FROM events"
            )
        elif not self._may_have_events(user_id):
            return 0
        else:
            cursor = self._connect().execute(
                "SELECT id, event_type, event_value, sent_at FROM events WHERE user_id = ?",
                (user_id,),
            )
        usable = self._quarantine.usable
        return sum(1 for row in cursor if usable(*row))

    def item_log(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
        """Every usable event's timestamp and item ID: a full read, for checks and exports,
        not for page views (:meth:`daily_item_counts` serves those)."""
        usable = self._quarantine.usable
        rows = [
            (sent_at, item_id)
            for row_id, sent_at, item_id, event_type, value in self._connect().execute(
                "SELECT id, sent_at, item_id, event_type, event_value FROM events"
            )
            if usable(row_id, event_type, value, sent_at)
        ]
        return (
            np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            np.asarray([row[1] for row in rows], dtype=object),
        )

    def committed_version(self) -> int | None:
        """A number that changes with every committed write in any process, or None while a
        write is under way: what a reader keys a cache of derived figures on."""
        value = self._changes.value()
        return None if value % 2 else value

    def daily_item_counts(self) -> DailyItemCounts:
        """Usable events per (day, item) from the aggregate the writes keep, so the data page
        costs the same however many events are stored."""
        rows = self._connect().execute("SELECT day, item_id, count FROM event_daily").fetchall()
        return DailyItemCounts(
            days=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            item_ids=np.asarray([row[1] for row in rows], dtype=object),
            counts=np.fromiter((row[2] for row in rows), dtype=np.int64, count=len(rows)),
        )

    def compact(self, older_than_days: int) -> int:
        """Delete events whose own time is more than ``older_than_days`` days old, keep the
        aggregate in step, and give the freed pages back to the file system; returns how many
        rows went. A delete is a write like any other (:meth:`_transaction`)."""
        if older_than_days < 1:
            raise ValueError(f"older_than_days must be >= 1, got {older_than_days}")
        cutoff = math.floor(self._clock()) - older_than_days * SECONDS_PER_DAY
        with self._transaction() as connection:
            doomed = connection.execute(
                "SELECT sent_at, item_id, event_type, event_value FROM events"
                " WHERE typeof(sent_at) = 'integer' AND sent_at < ?",
                (cutoff,),
            )
            counts: Counter[DailyKey] = Counter()
            while batch := doomed.fetchmany(100_000):
                counts.update(_daily_keys(batch))
            removed = connection.execute(
                "DELETE FROM events WHERE typeof(sent_at) = 'integer' AND sent_at < ?", (cutoff,)
            ).rowcount
            _subtract_daily(connection, counts)
        if removed:
            with self._writing, self._writer_lock:
                self._connect().execute("VACUUM")
        return int(removed)

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
            usable = self._quarantine.usable
            rows = [row for row in rows if usable(row[0], row[3], row[4], row[5])]
            if not rows:
                continue
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
        return write_interactions_csv(self.iter_batches(), target)
