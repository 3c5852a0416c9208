"""A user's past interactions, newest first, from the prepared interactions.csv.

The file is read once; rows are then held sorted by user and newest-first time in numpy
arrays with a per-user offset table, so every request is a binary search plus a slice rather
than a scan. The history is immutable after construction, which makes it safe to share between
request threads; events that arrive later live in the EventStore and the service merges them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from srs.activity import LogCounts
from srs.data.store import DataStore
from srs.errors import SRSError

COLUMNS: dict[str, pa.DataType] = {
    "USER_ID": pa.string(),
    "ITEM_ID": pa.string(),
    "EVENT_TYPE": pa.string(),
    "EVENT_VALUE": pa.float64(),
    "TIMESTAMP": pa.int64(),
}
"""Columns of the prepared interactions dataset and the types they are read as."""

_TEXT_COLUMNS = ("USER_ID", "ITEM_ID", "EVENT_TYPE")
_CSV_FIRST_DATA_LINE = 2


class HistoryDataError(SRSError, ValueError):
    """The interactions data cannot be used; the message names the source, line and column."""


@dataclass(frozen=True, slots=True)
class Interaction:
    """One past event of a user, in the prepared dataset's terms."""

    user_id: str
    item_id: str
    event_type: str
    event_value: float
    timestamp: int


def check_columns(present: list[str], source: str) -> None:
    missing = [name for name in COLUMNS if name not in present]
    if missing:
        raise HistoryDataError(
            f"{source}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(COLUMNS)}, found {', '.join(present) or 'none'}"
        )


def reject_empty_values(table: pa.Table, source: str, first_line: int) -> None:
    """Refuse nulls and blank IDs, naming the first offending row as ``first_line`` + index."""
    for name in COLUMNS:
        column = table.column(name)
        bad = pc.is_null(column)
        if name in _TEXT_COLUMNS:
            bad = pc.or_(bad, pc.equal(pc.utf8_trim_whitespace(column), ""))
        if pc.any(bad).as_py():
            index = int(pc.index(bad, True).as_py())
            raise HistoryDataError(f"{source}: line {first_line + index}: {name} is empty")


def _casts(values: pa.Array, kind: pa.DataType) -> bool:
    try:
        pc.cast(values, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def first_uncastable(values: pa.Array, kind: pa.DataType) -> int | None:
    """Index of the first value arrow cannot convert to ``kind``, found by bisection.

    Arrow's CSV conversion error names the column but not the row; this recovers the row with
    about 2n conversions, and only runs on the error path.
    """
    if _casts(values, kind):
        return None
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        if _casts(values.slice(low, middle - low), kind):
            low = middle
        else:
            high = middle
    return low


def _csv_options(types: dict[str, pa.DataType]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=types, include_columns=list(COLUMNS), strings_can_be_null=False
    )


def _describe_bad_csv(
    open_source: Callable[[], AbstractContextManager[Any]], source: str, exc: Exception
) -> HistoryDataError:
    """Re-read the CSV leniently to turn arrow's error into one naming line, column and value."""
    try:
        with open_source() as header_source:
            names = pacsv.open_csv(header_source).schema.names
        check_columns(names, source)
        with open_source() as text_source:
            texts = pacsv.read_csv(
                text_source, convert_options=_csv_options(dict.fromkeys(COLUMNS, pa.string()))
            )
    except (pa.ArrowInvalid, pa.ArrowKeyError):
        return HistoryDataError(f"{source}: {exc}")
    for name, kind in COLUMNS.items():
        values = texts.column(name).combine_chunks()
        index = first_uncastable(values, kind)
        if index is not None:
            return HistoryDataError(
                f"{source}: line {_CSV_FIRST_DATA_LINE + index}: {name} value "
                f"{values[index].as_py()!r} is not a valid {kind}"
            )
    return HistoryDataError(f"{source}: {exc}")


def read_interactions_csv(
    open_source: Callable[[], AbstractContextManager[Any]], source: str
) -> pa.Table:
    """Read the five columns with IDs as text (so '007' stays '007') and numbers typed.

    ``open_source`` yields something pyarrow can read (a path or a binary stream); it is called
    again only when the data is bad, to pinpoint the offending line.
    """
    try:
        with open_source() as csv_source:
            return pacsv.read_csv(csv_source, convert_options=_csv_options(COLUMNS))
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        raise _describe_bad_csv(open_source, source, exc) from exc


def _codes(column: pa.ChunkedArray, sort: bool) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Dictionary-encode a text column in arrow, without a Python object per row.

    With ``sort`` the codes follow code-point order of the values (arrow sorts UTF-8 bytewise,
    which is the same order numpy uses for str arrays) so they can be binary-searched.
    """
    encoded = column.combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    values: list[str] = encoded.dictionary.to_pylist()
    if not sort:
        return codes, values
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes].astype(np.int64), [values[i] for i in order]


def newest_first_order(
    user_codes: npt.NDArray[np.int64], timestamps: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Row order by user code ascending, then time descending, ties keeping the later row first.

    One stable argsort of a combined integer key sorts once where lexsort on two keys sorts
    twice; the reversal makes stability favour later rows. Falls back to lexsort when the
    combined key could overflow int64.
    """
    n = len(timestamps)
    if n == 0:
        return np.arange(0, dtype=np.intp)
    newest = int(timestamps.max())
    span = newest - int(timestamps.min()) + 1
    users = int(user_codes.max()) + 1
    if users * span < 2**62:
        key = user_codes * np.int64(span) + (newest - timestamps)
        return (n - 1) - np.argsort(key[::-1], kind="stable")
    return np.lexsort((-np.arange(n), -timestamps, user_codes))


@dataclass(frozen=True, slots=True)
class UserRows:
    """One user's rows, newest first, as read-only slices of the history's arrays.

    Text columns are codes into ``item_ids`` and ``event_types``, vocabularies the whole
    history shares, so a request reads a user's rows without one Python object per row (the
    filter evaluator takes codes as they are).
    """

    item_codes: npt.NDArray[np.int32]
    event_type_codes: npt.NDArray[np.int32]
    event_values: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.int64]
    item_ids: Sequence[str]
    event_types: Sequence[str]

    def __len__(self) -> int:
        return len(self.timestamps)


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Slices handed to callers are views; freezing the base keeps the history immutable."""
    array.flags.writeable = False
    return array


class InteractionHistory:
    """Per-user interaction lists answered in O(log users) per call from arrays in memory."""

    def __init__(self, table: pa.Table, source: str = "interactions", first_line: int = 0) -> None:
        """Validate and index a table with the COLUMNS; ``from_store``/``from_frame`` are the doors.

        ``first_line`` is the line or row number of the table's first row, for error messages.
        Ties in time keep the later row first, since a later row was appended later.
        """
        check_columns(table.column_names, source)
        reject_empty_values(table, source, first_line)
        user_codes, user_ids = _codes(table.column("USER_ID"), sort=True)
        item_codes, item_ids = _codes(table.column("ITEM_ID"), sort=False)
        type_codes, type_names = _codes(table.column("EVENT_TYPE"), sort=False)
        stamps = table.column("TIMESTAMP").to_numpy().astype(np.int64)
        order = newest_first_order(user_codes, stamps)

        self._item_ids = tuple(item_ids)
        self._type_names = tuple(type_names)
        self._user_ids = _read_only(np.array(user_ids, dtype=str))
        counts = np.bincount(user_codes, minlength=len(user_ids))
        self._offsets = _read_only(np.concatenate(([0], np.cumsum(counts))).astype(np.int64))
        self._item_codes = _read_only(item_codes[order].astype(np.int32))
        self._type_codes = _read_only(type_codes[order].astype(np.int32))
        self._values = _read_only(table.column("EVENT_VALUE").to_numpy().astype(np.float64)[order])
        self._timestamps = _read_only(stamps[order])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "data frame") -> InteractionHistory:
        """Build from a DataFrame with the prepared columns; IDs are taken as their text."""
        check_columns([str(name) for name in frame.columns], source)
        try:
            table = pa.table(
                {
                    name: pa.array(
                        frame[name].astype("string") if name in _TEXT_COLUMNS else frame[name],
                        type=kind,
                        from_pandas=True,
                    )
                    for name, kind in COLUMNS.items()
                }
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise HistoryDataError(f"{source}: {exc}") from exc
        return cls(table, source, first_line=0)

    @classmethod
    def from_store(cls, store: DataStore, key: str = "interactions.csv") -> InteractionHistory:
        """Read the prepared CSV once, straight from disk when the store has a local path."""
        source = store.uri(key)
        path = store.local_path(key)
        if path is not None and path.is_file():
            local = str(path)
            table = read_interactions_csv(lambda: contextlib.nullcontext(local), source)
        else:
            table = read_interactions_csv(lambda: store.open_read(key), source)
        return cls(table, source, first_line=_CSV_FIRST_DATA_LINE)

    def __len__(self) -> int:
        return len(self._timestamps)

    @property
    def user_count(self) -> int:
        return len(self._user_ids)

    def _span(self, user_id: str) -> tuple[int, int]:
        if len(user_id) > self._user_ids.dtype.itemsize // 4:
            return 0, 0  # longer than every ID; numpy would copy the whole array to compare
        position = int(np.searchsorted(self._user_ids, user_id))
        if position == len(self._user_ids) or self._user_ids[position] != user_id:
            return 0, 0
        return int(self._offsets[position]), int(self._offsets[position + 1])

    def span(self, user_id: str) -> tuple[int, int]:
        """Where the user's rows sit among :meth:`all_rows` (empty for an unknown user)."""
        return self._span(user_id)

    def all_rows(self) -> tuple[npt.NDArray[np.intp], UserRows]:
        """Every row, grouped by user, with each row's index into the sorted user IDs: for
        work done once over the whole history rather than per request."""
        users = np.repeat(np.arange(len(self._user_ids)), np.diff(self._offsets))
        rows = UserRows(
            item_codes=self._item_codes,
            event_type_codes=self._type_codes,
            event_values=self._values,
            timestamps=self._timestamps,
            item_ids=self._item_ids,
            event_types=self._type_names,
        )
        return users, rows

    @property
    def user_ids(self) -> npt.NDArray[np.str_]:
        """Every user ID, sorted (read-only)."""
        return self._user_ids

    def count(self, user_id: str) -> int:
        start, end = self._span(user_id)
        return end - start

    def users_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Sorted user IDs that begin with ``prefix``: one binary search, however many users."""
        if len(prefix) > self._user_ids.dtype.itemsize // 4:
            return []
        start = int(np.searchsorted(self._user_ids, prefix, side="left"))
        candidates = self._user_ids[start : start + max(limit, 0)].tolist()
        return [user for user in candidates if user.startswith(prefix)]

    def item_log(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
        """Every row's timestamp and item ID, for aggregate views such as daily counts."""
        item_ids = np.asarray(self._item_ids, dtype=object)[self._item_codes]
        return self._timestamps, item_ids

    @functools.cached_property
    def activity_counts(self) -> LogCounts:
        """The log counted for the data page, once per history: the rows never change, and
        counting them on every view would cost each request time proportional to the log."""
        return LogCounts.from_log(*self.item_log())

    def user_rows(self, user_id: str) -> UserRows:
        """All of a user's rows as array slices (no copy); empty for an unknown user."""
        start, end = self._span(user_id)
        return UserRows(
            item_codes=self._item_codes[start:end],
            event_type_codes=self._type_codes[start:end],
            event_values=self._values[start:end],
            timestamps=self._timestamps[start:end],
            item_ids=self._item_ids,
            event_types=self._type_names,
        )

    def get_user_history(self, user_id: str, limit: int = 50, offset: int = 0) -> list[Interaction]:
        """Newest first; an unknown user gets an empty list (the caller decides if that is 404)."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")
        start, end = self._span(user_id)
        rows = slice(min(start + offset, end), min(start + offset + limit, end))
        return [
            Interaction(
                user_id=user_id,
                item_id=self._item_ids[item],
                event_type=self._type_names[kind],
                event_value=value,
                timestamp=stamp,
            )
            for item, kind, value, stamp in zip(
                self._item_codes[rows].tolist(),
                self._type_codes[rows].tolist(),
                self._values[rows].tolist(),
                self._timestamps[rows].tolist(),
                strict=True,
            )
        ]
