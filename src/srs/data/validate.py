"""The rules a source CSV and a prepared dataset must meet.

Each check raises :class:`SourceError` with one message naming the file, the rule
and, where it applies, the first offending line, field and value, so a person can
fix the file without reading code. Checks are pure functions over a header or a
batch of rows; the streaming in :mod:`srs.data.prepare` feeds them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import io
import re
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from srs.catalog import alias_key
from srs.errors import SourceError
from srs.event_rules import (
    MAX_ID_LENGTH,
    is_rating,
    rating_rule,
    timestamp_problem,
    timestamps_outside,
    value_problem,
    values_outside,
)

USER, SERVICE, EVENT_TYPE, RATING, TIMESTAMP = (
    "User ID",
    "AWS Service",
    "Interaction Type",
    "Rating",
    "Timestamp",
)
REQUIRED_COLUMNS = (USER, SERVICE, EVENT_TYPE, RATING)
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
# C0 control characters other than tab: a NUL or an escape in an ID makes a new user or
# service that nobody can type, and several of them break the CSV written for Personalize.
CONTROL_CHARACTERS = "[\\x00-\\x08\\x0a-\\x1f]"
_CONTROL = re.compile(CONTROL_CHARACTERS)

PERSONALIZE_MIN_INTERACTIONS = 1000
PERSONALIZE_MIN_ACTIVE_USERS = 25


@dataclass(frozen=True)
class SourceLayout:
    """Where the columns SRS needs sit in one particular source file."""

    path: Path
    header: tuple[str, ...]
    columns: dict[str, str]  # canonical name -> name as written in the file

    @property
    def has_timestamp(self) -> bool:
        return TIMESTAMP in self.columns


def _first_line(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.readline(1 << 20)


def inspect_source(path: Path) -> SourceLayout:
    """Check that ``path`` is a readable, comma-separated CSV with the required header."""
    if not path.exists():
        raise SourceError(f"{path}: source file does not exist")
    if not path.is_file():
        raise SourceError(f"{path}: source path is not a file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: source file is empty (expected a header and data rows)")
    raw = _first_line(path)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: line 1: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
            f"{exc.start + 1}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise SourceError(
            f"{path}: line 1: header is blank (expected {', '.join(REQUIRED_COLUMNS)})"
        )
    header = tuple(cell.strip() for cell in next(csv.reader([text.rstrip("\r\n")])))
    _refuse_repeated_columns(path, header)
    return SourceLayout(path=path, header=header, columns=_locate_columns(path, header, text))


def _refuse_repeated_columns(path: Path, header: tuple[str, ...]) -> None:
    """Two columns of one name (spaces and case aside) leave it to chance which one is read.

    Blank names are not names, so trailing commas in a header stay harmless.
    """
    first: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            continue
        key = name.casefold()
        if key in first:
            earlier = first[key]
            raise SourceError(
                f"{path}: line 1: column {position} ({name!r}) repeats the name of column "
                f"{earlier} ({header[earlier - 1]!r}); give each column its own name"
            )
        first[key] = position


def _locate_columns(path: Path, header: tuple[str, ...], text: str) -> dict[str, str]:
    found = {name: name for name in (*REQUIRED_COLUMNS, TIMESTAMP) if name in header}
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if not missing:
        return found
    for delimiter, label in OTHER_DELIMITERS.items():
        cells = {cell.strip() for cell in text.rstrip("\r\n").split(delimiter)}
        if len(cells) > 1 and all(name in cells for name in REQUIRED_COLUMNS):
            raise SourceError(
                f"{path}: line 1: columns are separated by {label} ({delimiter!r}); "
                "SRS expects comma-separated values"
            )
    name = missing[0]
    unused = [cell for cell in header if cell not in found.values()]
    lowered = {cell.lower(): cell for cell in unused}
    close = (
        [lowered[name.lower()]]
        if name.lower() in lowered
        else difflib.get_close_matches(name, unused, n=1, cutoff=0.6)
    )
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise SourceError(
        f"{path}: line 1: missing required column {name!r} (header has: {', '.join(header)}){hint}"
    )


def _fail(layout: SourceLayout, line: int, field: str, value: object, rule: str) -> SourceError:
    return SourceError(f"{layout.path}: line {line}: field {field!r}: {rule} (value {value!r})")


def _first(mask: pa.Array | pa.ChunkedArray) -> int | None:
    """Index of the first true value, without leaving Arrow."""
    found = pc.index(mask, True).as_py()
    return None if found < 0 else int(found)


@dataclass(frozen=True)
class CheckedRows:
    """One batch of source rows, cleaned and typed; text stays in Arrow for speed."""

    users: pa.Array
    services: pa.Array
    event_types: pa.Array
    ratings: np.ndarray
    timestamps: np.ndarray | None


def _control_rows(values: pa.Array) -> pa.Array | None:
    """Which values hold a control character, or None when none can.

    The bytes of the whole array are scanned with numpy first: almost every batch has no
    byte below 0x20 at all, and that scan costs a fraction of a regular expression run
    over each value, which is kept for the batches that do (tabs included).
    """
    data = values.buffers()[2]
    if data is None or data.size == 0 or np.frombuffer(data, np.uint8).min() >= 0x20:
        return None
    return pc.match_substring_regex(values, CONTROL_CHARACTERS)


def _control_rule(value: str) -> str:
    code = next(ord(char) for char in value if ord(char) < 0x20 and char != "\t")
    return f"contains control character U+{code:04X}"


class _Batch:
    """A batch with the layout that says which of its columns is which.

    Rows are known by their position among the file's data records; the line an editor
    shows is looked up only when a row fails, so the fast path never counts lines.
    """

    def __init__(self, batch: pa.RecordBatch, layout: SourceLayout, first_record: int) -> None:
        self.batch, self.layout, self.first_record = batch, layout, first_record

    def raw(self, name: str) -> pa.Array:
        return self.batch.column(self.layout.columns[name])

    def fail(self, name: str, row: int, rule: str) -> SourceError:
        value = self.raw(name)[row].as_py()
        record = self.first_record + row
        line = locate_record_lines(self.layout.path, [record])[record]
        return _fail(self.layout, line, name, value, rule)

    def text(self, name: str, check_length: bool = True) -> pa.Array:
        values = pc.utf8_trim_whitespace(self.raw(name))
        row = _first(pc.equal(values, ""))
        if row is not None:
            raise self.fail(name, row, "blank")
        controls = _control_rows(values)
        row = None if controls is None else _first(controls)
        if row is not None:
            raise self.fail(name, row, _control_rule(values[row].as_py()))
        if check_length:
            row = _first(pc.greater(pc.utf8_length(values), MAX_ID_LENGTH))
            if row is not None:
                raise self.fail(name, row, f"longer than {MAX_ID_LENGTH} characters")
        return values

    def numbers(self, name: str) -> tuple[pa.Array, np.ndarray]:
        """Trimmed text and its float values (NaN where the text is not a number)."""
        values = self.text(name, check_length=False)
        try:
            return values, pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            coerced = pd.to_numeric(values.to_pandas(), errors="coerce")
            return values, coerced.to_numpy(dtype=np.float64)

    def ratings(self, event_types: pa.Array) -> np.ndarray:
        """The Rating column's numbers. A rating event's lies on the rating scale; any other
        event's is its value (hours played, a count) within the bound PutEvents applies, so
        a team's play log goes through as the same events sent one by one would."""
        _, numbers = self.numbers(RATING)
        row = _first(pa.array(~np.isfinite(numbers)))
        if row is not None:
            raise self.fail(RATING, row, "not a number")
        rated = rating_rows(event_types)
        row = _first(pa.array(values_outside(numbers, rated)))
        if row is not None:
            problem = value_problem(event_types[row].as_py(), float(numbers[row]))
            raise self.fail(RATING, row, rating_rule() if rated[row] else str(problem))
        return numbers

    def timestamps(self) -> np.ndarray:
        """Unix seconds, floored, each within :mod:`srs.event_rules`' window as of now: the
        same window the API applies to events sent to it."""
        now = time.time()
        text, seconds = self.numbers(TIMESTAMP)
        textual = np.isnan(seconds)
        if textual.any():
            seconds[textual] = parse_iso_timestamps(text.to_pandas()[textual])
        row = _first(pa.array(np.isnan(seconds)))
        if row is not None:
            raise self.fail(TIMESTAMP, row, "neither Unix seconds nor ISO 8601")
        row = _first(pa.array(timestamps_outside(seconds, now)))
        if row is not None:
            problem = timestamp_problem(float(seconds[row]), now)
            raise self.fail(TIMESTAMP, row, problem or "out of range for Unix seconds")
        return np.asarray(np.floor(seconds), dtype=np.int64)


def parse_iso_timestamps(text: pd.Series) -> np.ndarray:
    """Unix seconds from ISO 8601 text; NaN where it does not parse."""
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    seconds = (parsed.astype("int64") // 10**9).to_numpy(dtype=np.float64)
    return np.where(parsed.isna().to_numpy(), np.nan, seconds)


def check_rows(batch: pa.RecordBatch, layout: SourceLayout, first_record: int) -> CheckedRows:
    """Validate and type one batch; ``first_record`` is the 0-based data record of its first row."""
    rows = _Batch(batch, layout, first_record)
    event_types = rows.text(EVENT_TYPE, check_length=False)
    return CheckedRows(
        users=rows.text(USER),
        services=rows.text(SERVICE),
        event_types=event_types,
        ratings=rows.ratings(event_types),
        timestamps=rows.timestamps() if layout.has_timestamp else None,
    )


def rating_rows(event_types: pa.Array) -> np.ndarray:
    """Which rows are ratings, judging each distinct event type once (a block has few)."""
    distinct = pc.unique(event_types)
    rating_types = [name for name in distinct.to_pylist() if is_rating(name)]
    mask = pc.is_in(event_types, value_set=pa.array(rating_types, pa.string()))
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


def locate_record_lines(path: Path, records: Collection[int]) -> dict[int, int]:
    """The line on which each 0-based data record of a source CSV starts.

    The CSV reader skips blank lines and lets quoted values span lines, so a record's
    position is not its line. The file is re-read with the csv module up to the last
    record asked for; that is slow, so it runs only for an error or a warning. Should
    the re-read fail, a record keeps the line it would have without blank lines.
    """
    wanted = set(records)
    found = {record: record + 2 for record in wanted}
    if not wanted:
        return found
    last = max(wanted)
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        with contextlib.suppress(csv.Error):
            next(reader, None)
            line, record = reader.line_num, 0
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not cells:
                    continue
                if record in wanted:
                    found[record] = start
                if record == last:
                    break
                record += 1
    return found


def locate_unreadable_line(path: Path, expected_fields: int) -> str:
    """Find why a CSV reader gave up, with the line number; only run after a failure."""
    for number, raw in _numbered_lines(path):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"{path}: line {number}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                f"column {exc.start + 1}); save the file as UTF-8"
            )
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for record in reader:
            if record and len(record) != expected_fields:
                return (
                    f"{path}: line {reader.line_num}: expected {expected_fields} fields, found "
                    f"{len(record)} (value {','.join(record)[:80]!r}); quote values that "
                    "contain commas"
                )
    return f"{path}: the CSV could not be parsed"


def check_prepared(path: Path, rows: int, users: int, items: int, active_users: int) -> list[str]:
    """Hard rules for a prepared dataset, and Personalize's training minimums as warnings."""
    if users < 2:
        raise SourceError(f"{path}: prepared data has {users} user(s); at least 2 are required")
    if items < 2:
        raise SourceError(f"{path}: prepared data has {items} item(s); at least 2 are required")
    warnings = []
    if rows < PERSONALIZE_MIN_INTERACTIONS:
        warnings.append(
            f"{rows} interactions: Amazon Personalize needs at least "
            f"{PERSONALIZE_MIN_INTERACTIONS} to train"
        )
    if active_users < PERSONALIZE_MIN_ACTIVE_USERS:
        warnings.append(
            f"{active_users} users with 2 or more interactions: Amazon Personalize needs at "
            f"least {PERSONALIZE_MIN_ACTIVE_USERS}"
        )
    return warnings


ITEM_NAME, ITEM_CATEGORY, ITEM_DESCRIPTION = "name", "category", "description"
ITEM_COLUMNS = {
    ITEM_NAME: ITEM_NAME,
    ITEM_CATEGORY: ITEM_CATEGORY,
    ITEM_DESCRIPTION: ITEM_DESCRIPTION,
}
PERSONALIZE_ITEM_COLUMNS = {
    "service_name": ITEM_NAME,
    "category": ITEM_CATEGORY,
    "description": ITEM_DESCRIPTION,
}


@dataclass(frozen=True)
class ItemMetadata:
    """A team's own service descriptions, as read from ``prepare --items``.

    ``lines`` keeps each row's line in the file so a later conflict (two rows
    naming one catalogue service) can still point at both.
    """

    path: Path
    name_column: str
    names: list[str]
    categories: list[str]
    descriptions: list[str]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.names)


def _item_columns(path: Path, header: list[str]) -> dict[str, int]:
    """Position of name, category and (optionally) description in either accepted layout."""
    folded = [cell.strip().casefold() for cell in header]
    wanted = PERSONALIZE_ITEM_COLUMNS if "service_name" in folded else ITEM_COLUMNS
    positions = {role: folded.index(column) for column, role in wanted.items() if column in folded}
    for role in (ITEM_NAME, ITEM_CATEGORY):
        if role not in positions:
            column = next(column for column, meant in wanted.items() if meant == role)
            raise SourceError(
                f"{path}: line 1: missing column {column!r} (expected name, category and "
                "optionally description, or Personalize's ITEM_ID, SERVICE_NAME, CATEGORY, "
                f"DESCRIPTION; header has: {', '.join(header)})"
            )
    return positions


def load_item_metadata(path: Path) -> ItemMetadata:
    """Read a team's item metadata: ``name, category[, description]`` or Personalize's items.

    Personalize's ITEM_ID is not kept: SRS gives every service its own stable ID
    in the service mapping, and the source names services, not IDs.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{path}: items file does not exist") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: items path is not a file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"{path}: line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise SourceError(f"{path}: items file is empty (expected a header and rows)")
    header = [cell.strip() for cell in header]
    positions = _item_columns(path, header)
    metadata = ItemMetadata(path, header[positions[ITEM_NAME]], [], [], [], [])
    first_line_of: dict[str, int] = {}
    line = reader.line_num
    for record in reader:
        record_line, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise SourceError(
                f"{path}: line {record_line}: expected {len(header)} fields, found "
                f"{len(record)} (value {','.join(record)[:80]!r}); quote values that contain "
                "commas"
            )
        cells = {role: record[position].strip() for role, position in positions.items()}
        for role, value in cells.items():
            if _CONTROL.search(value):
                raise SourceError(
                    f"{path}: line {record_line}: field {header[positions[role]]!r}: "
                    f"{_control_rule(value)} (value {value!r})"
                )
        for role in (ITEM_NAME, ITEM_CATEGORY):
            if not cells[role]:
                column = header[positions[role]]
                raise SourceError(
                    f"{path}: line {record_line}: field {column!r}: blank "
                    f"(value {record[positions[role]]!r})"
                )
        name = cells[ITEM_NAME]
        column = header[positions[ITEM_NAME]]
        if len(name) > MAX_ID_LENGTH:
            raise SourceError(
                f"{path}: line {record_line}: field {column!r}: longer than {MAX_ID_LENGTH} "
                f"characters (value {name[:40] + '…'!r})"
            )
        key = alias_key(name)
        if key in first_line_of:
            raise SourceError(
                f"{path}: line {record_line}: field {column!r}: names the service of line "
                f"{first_line_of[key]} again (value {name!r})"
            )
        first_line_of[key] = record_line
        metadata.names.append(name)
        metadata.categories.append(cells[ITEM_CATEGORY])
        metadata.descriptions.append(cells.get(ITEM_DESCRIPTION, ""))
        metadata.lines.append(record_line)
    if not metadata:
        raise SourceError(f"{path}: items file has a header but no rows")
    return metadata
