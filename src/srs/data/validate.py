"""The rules a source CSV and a prepared dataset must meet.

Each check raises :class:`SourceError` with one message naming the file, the rule
and, where it applies, the first offending line, field and value, so a person can
fix the file without reading code. Checks are pure functions over a header or a
batch of rows; the streaming in :mod:`srs.data.prepare` feeds them.
"""

from __future__ import annotations

import codecs
import csv
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from srs.errors import SourceError

USER, SERVICE, EVENT_TYPE, RATING, TIMESTAMP = (
    "User ID",
    "AWS Service",
    "Interaction Type",
    "Rating",
    "Timestamp",
)
REQUIRED_COLUMNS = (USER, SERVICE, EVENT_TYPE, RATING)
RATING_MIN, RATING_MAX = 1.0, 5.0
MAX_ID_LENGTH = 256  # Personalize's limit for USER_ID and ITEM_ID
TIMESTAMP_MAX = 4_102_444_800  # 2100-01-01: later values are almost surely milliseconds
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}

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
    return SourceLayout(path=path, header=header, columns=_locate_columns(path, header, text))


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


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


@dataclass(frozen=True)
class CheckedRows:
    """One batch of source rows, cleaned and typed."""

    users: pd.Series
    services: pd.Series
    event_types: pd.Series
    ratings: np.ndarray
    timestamps: np.ndarray | None


def _text_column(
    frame: pd.DataFrame, layout: SourceLayout, name: str, first_line: int
) -> pd.Series:
    values = frame[layout.columns[name]].fillna("").str.strip()
    row = _first(values.eq("").to_numpy())
    if row is not None:
        raise _fail(layout, first_line + row, name, frame[layout.columns[name]].iat[row], "blank")
    if name != EVENT_TYPE:
        row = _first((values.str.len() > MAX_ID_LENGTH).to_numpy())
        if row is not None:
            raise _fail(
                layout,
                first_line + row,
                name,
                values.iat[row],
                f"longer than {MAX_ID_LENGTH} characters",
            )
    return values


def _ratings(frame: pd.DataFrame, layout: SourceLayout, first_line: int) -> np.ndarray:
    raw = frame[layout.columns[RATING]].fillna("").str.strip()
    blank = raw.eq("").to_numpy()
    row = _first(blank)
    if row is not None:
        raise _fail(layout, first_line + row, RATING, raw.iat[row], "blank")
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    row = _first(~np.isfinite(numbers))
    if row is not None:
        raise _fail(layout, first_line + row, RATING, raw.iat[row], "not a number")
    row = _first((numbers < RATING_MIN) | (numbers > RATING_MAX))
    if row is not None:
        raise _fail(
            layout,
            first_line + row,
            RATING,
            raw.iat[row],
            f"out of range {RATING_MIN:g}–{RATING_MAX:g}",
        )
    return numbers


def parse_timestamps(raw: pd.Series) -> np.ndarray:
    """Unix seconds from Unix seconds or ISO 8601 text; NaN where neither parses."""
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    textual = np.isnan(numbers)
    if textual.any():
        parsed = pd.to_datetime(raw[textual], format="ISO8601", utc=True, errors="coerce")
        seconds = parsed.astype("int64").to_numpy() // 10**9
        numbers[textual] = np.where(parsed.isna().to_numpy(), np.nan, seconds)
    return numbers


def _timestamps(frame: pd.DataFrame, layout: SourceLayout, first_line: int) -> np.ndarray:
    raw = frame[layout.columns[TIMESTAMP]].fillna("").str.strip()
    row = _first(raw.eq("").to_numpy())
    if row is not None:
        raise _fail(layout, first_line + row, TIMESTAMP, raw.iat[row], "blank")
    seconds = parse_timestamps(raw)
    row = _first(np.isnan(seconds))
    if row is not None:
        raise _fail(
            layout, first_line + row, TIMESTAMP, raw.iat[row], "neither Unix seconds nor ISO 8601"
        )
    row = _first((seconds < 0) | (seconds >= TIMESTAMP_MAX))
    if row is not None:
        raise _fail(
            layout,
            first_line + row,
            TIMESTAMP,
            raw.iat[row],
            "out of range for Unix seconds (milliseconds?)",
        )
    return np.asarray(np.floor(seconds), dtype=np.int64)


def check_rows(frame: pd.DataFrame, layout: SourceLayout, first_line: int) -> CheckedRows:
    """Validate and type one batch; ``first_line`` is the file line of its first row."""
    return CheckedRows(
        users=_text_column(frame, layout, USER, first_line),
        services=_text_column(frame, layout, SERVICE, first_line),
        event_types=_text_column(frame, layout, EVENT_TYPE, first_line),
        ratings=_ratings(frame, layout, first_line),
        timestamps=_timestamps(frame, layout, first_line) if layout.has_timestamp else None,
    )


def _numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


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
