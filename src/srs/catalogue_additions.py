"""Items and users added while the server runs (Personalize's PutItems and PutUsers).

The catalogue a worker serves comes from the prepared ``items.csv`` and the active model;
neither changes while the server runs. Items a client adds go to a SQLite file beside the
events, so every worker sees them, and ``srs train`` folds them into the next model's
catalogue. Workers learn that something was added the way they learn of new events: each
write moves a :class:`srs.events.change_counter.ChangeCounter` (a small file all workers
map), and a worker reads the table again only when that value moved, so a request pays a
memory read, not a query. Writers hold an exclusive ``flock`` around the transaction and the
counter, so two writers in different processes cannot both move it to the same value.

An item's properties are its Items-schema fields in camelCase, as PutItems sends them
(``serviceName``, ``category``, ``description``); a user's are kept as sent: SRS has no user
metadata to filter on, and a user added this way is found by the user search.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from srs.engine.filters.evaluate import IndexedFrame
from srs.events.change_counter import ChangeCounter
from srs.serving.service import ItemInfo

ADDITIONS_FILE = "catalogue_additions.sqlite"
BUSY_TIMEOUT_SECONDS = 30.0
ITEM_PROPERTIES = {
    "serviceName": "SERVICE_NAME",
    "category": "CATEGORY",
    "description": "DESCRIPTION",
}
"""PutItems' property names (the Items schema's fields in camelCase) and their columns."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id      TEXT PRIMARY KEY,
    service_name TEXT NOT NULL,
    category     TEXT NOT NULL,
    description  TEXT NOT NULL,
    added_at     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    user_id    TEXT PRIMARY KEY,
    properties TEXT NOT NULL,
    added_at   REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class AddedUser:
    user_id: str
    properties: str
    """The properties JSON as the client sent it ("" for none)."""


class CatalogueAdditions:
    """The additions file of one data directory; one instance per process is enough."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._counter = ChangeCounter(path.with_name(path.name + ".changes"))
        self._lock_path = path.with_name(path.name + ".writer-lock")
        self._local = threading.local()

    @classmethod
    def in_directory(cls, data_dir: Path) -> CatalogueAdditions:
        return cls(data_dir / ADDITIONS_FILE)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
            self._local.connection = connection
        return connection

    def version(self) -> int:
        """A value that moves whenever an addition is committed (see the module docstring)."""
        return self._counter.value()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self._counter.begin()
            try:
                with connection:
                    yield connection
            finally:
                self._counter.end()
        finally:
            os.close(descriptor)

    def put_items(self, items: Sequence[ItemInfo]) -> None:
        """Add ``items``, or replace the properties of those added before, in one commit."""
        now = time.time()
        with self._writing() as connection:
            connection.executemany(
                "INSERT INTO items (item_id, service_name, category, description, added_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE SET"
                " service_name = excluded.service_name, category = excluded.category,"
                " description = excluded.description, added_at = excluded.added_at",
                [
                    (item.item_id, item.service_name, item.category, item.description, now)
                    for item in items
                ],
            )

    def put_users(self, users: Sequence[AddedUser]) -> None:
        now = time.time()
        with self._writing() as connection:
            connection.executemany(
                "INSERT INTO users (user_id, properties, added_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET properties = excluded.properties,"
                " added_at = excluded.added_at",
                [(user.user_id, user.properties, now) for user in users],
            )

    def items(self) -> list[ItemInfo]:
        """Every added item, newest first: the order a recommendation lists them in."""
        if not self.path.exists():
            return []
        rows = self._connection().execute(
            "SELECT item_id, service_name, category, description FROM items"
            " ORDER BY added_at DESC, item_id"
        )
        return [ItemInfo(*row) for row in rows]

    def users_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        if not self.path.exists():
            return []
        rows = self._connection().execute(
            "SELECT user_id FROM users WHERE substr(user_id, 1, ?) = ? ORDER BY user_id LIMIT ?",
            (len(prefix), prefix, limit),
        )
        return [str(row[0]) for row in rows]

    def user(self, user_id: str) -> AddedUser | None:
        if not self.path.exists():
            return None
        row = (
            self._connection()
            .execute("SELECT user_id, properties FROM users WHERE user_id = ?", (user_id,))
            .fetchone()
        )
        return None if row is None else AddedUser(str(row[0]), str(row[1]))


@dataclass(frozen=True, slots=True)
class AddedItems:
    """The added items a worker serves that its catalogue lacks, and their filter table."""

    items: list[ItemInfo]
    by_id: dict[str, ItemInfo]
    table: IndexedFrame | None
    """The items' metadata as the filter evaluator reads it (None when there are none)."""

    @classmethod
    def of(cls, items: Sequence[ItemInfo]) -> AddedItems:
        listed = list(items)
        table = (
            IndexedFrame(
                pd.DataFrame(listed, columns=list(ItemInfo.__dataclass_fields__)).rename(
                    columns=str.upper
                )
            )
            if listed
            else None
        )
        return cls(listed, {item.item_id: item for item in listed}, table)


NO_ADDED_ITEMS = AddedItems([], {}, None)


class AddedItemsView:
    """One worker's copy of the added items, read again only after the counter moved.

    ``known`` is the catalogue the worker loaded: an added item with one of its IDs is left
    to the next ``srs train`` (the model and its tables already hold that item)."""

    def __init__(self, additions: CatalogueAdditions | None, known: Mapping[str, ItemInfo]) -> None:
        self._additions = additions
        self._known = known
        self._version: int | None = None
        self._current = NO_ADDED_ITEMS
        self._lock = threading.Lock()

    def current(self) -> AddedItems:
        additions = self._additions
        if additions is None:
            return NO_ADDED_ITEMS
        version = additions.version()
        if version == self._version and version % 2 == 0:
            return self._current
        with self._lock:
            items = [item for item in additions.items() if item.item_id not in self._known]
            self._current = AddedItems.of(items)
            self._version = version
        return self._current

    def users_starting_with(self, prefix: str, limit: int) -> list[str]:
        if self._additions is None:
            return []
        return self._additions.users_starting_with(prefix, limit)
