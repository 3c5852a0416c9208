"""Concurrent writers of one process share a transaction, so one sync acknowledges them all.

With ``synchronous=FULL`` every commit waits for the disk; committing each call on its own
would let the request rate, not the sync, set the pace. Each caller still returns only after
the commit holding its events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from srs.events.event import EventStoreError

Row = tuple[str, str, str, str, float, int, float]
"""One events-table row: user, session, event type, item, value, sent at, received at."""


class _Batch:
    """Rows that go into one transaction, and how it ended, for the callers waiting on it."""

    __slots__ = ("done", "error", "rows")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    """Concurrent writers of one process share transactions, so one sync serves many calls.

    A caller adds its rows to the pending batch. If no commit is running it leads: it takes
    the batch and writes it in one transaction. Callers that arrive meanwhile fill the next
    batch and wait; when the commit ends, one of them leads that batch. Nobody returns
    before the commit that holds its rows has returned, and a failed commit fails exactly
    the calls it held. There is no background thread: the callers themselves take turns.
    """

    def __init__(self, write: Callable[[list[Row]], None]) -> None:
        self._write = write
        self._changed = threading.Condition()
        self._pending = _Batch()
        self._committing = False

    @property
    def waiting_rows(self) -> int:
        """Rows queued for the next commit (while one is running), e.g. for monitoring."""
        with self._changed:
            return len(self._pending.rows)

    def submit(self, rows: Sequence[Row]) -> None:
        with self._changed:
            batch = self._pending
            batch.rows.extend(rows)
            while self._committing and not batch.done:
                self._changed.wait()
            if not batch.done:  # nothing is committing and this batch is still pending: lead
                self._committing = True
                self._pending = _Batch()
        if batch.done:
            if batch.error is not None:
                raise EventStoreError(f"events not stored: {batch.error}") from batch.error
            return
        try:
            self._write(batch.rows)
        except Exception as exc:
            batch.error = exc
            raise EventStoreError(f"events not stored: {exc}") from exc
        except BaseException as exc:  # interrupted: the waiting calls fail, this one unwinds
            batch.error = exc
            raise
        finally:
            with self._changed:
                batch.done = True
                self._committing = False
                self._changed.notify_all()
