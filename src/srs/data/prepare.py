"""Source CSV → Personalize's interactions, items and schema files.

The source can be several GB, so it is streamed in blocks with bounded memory:
each block is checked, mapped to stable item IDs and appended to a temp file.
Only when everything has been written and read back do the temp files replace
the previous outputs, so a bad row anywhere leaves the old dataset untouched.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from srs.data.mapping import ServiceMapping
from srs.data.schemas import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, schema_json
from srs.data.validate import (
    REQUIRED_COLUMNS,
    TIMESTAMP,
    SourceLayout,
    check_prepared,
    check_rows,
    inspect_source,
    locate_unreadable_line,
)
from srs.errors import SourceError

INTERACTIONS_FILE = "interactions.csv"
ITEMS_FILE = "items.csv"
MAPPING_FILE = "service_mapping.csv"
INTERACTIONS_SCHEMA_FILE = "interactions_schema.json"
ITEMS_SCHEMA_FILE = "items_schema.json"
OUTPUT_FILES = (
    INTERACTIONS_FILE,
    ITEMS_FILE,
    MAPPING_FILE,
    INTERACTIONS_SCHEMA_FILE,
    ITEMS_SCHEMA_FILE,
)

# Sources without timestamps get synthetic ones: a fixed start (2024-01-01 UTC) plus
# one minute per earlier row of the same user, so order within a user is kept and a
# re-run produces the same file.
SYNTHETIC_TIMESTAMP_START = 1_704_067_200
SYNTHETIC_TIMESTAMP_STEP = 60
DEFAULT_BLOCK_BYTES = 4 << 20
UNKNOWN_CATEGORY = "Other"

INTERACTIONS_ARROW_SCHEMA = pa.schema(
    [
        ("USER_ID", pa.string()),
        ("ITEM_ID", pa.string()),
        ("EVENT_TYPE", pa.string()),
        ("EVENT_VALUE", pa.float64()),
        ("TIMESTAMP", pa.int64()),
    ]
)
_WRITE_OPTIONS = pcsv.WriteOptions(quoting_style="needed")


@dataclass(frozen=True)
class PrepareResult:
    """What ``prepare_dataset`` produced, for the CLI to report."""

    rows: int
    users: int
    items: int
    new_items: int
    outputs: dict[str, Path]
    warnings: list[str] = field(default_factory=list)


def rank_within_groups(codes: np.ndarray) -> np.ndarray:
    """0-based position of each element among equal codes, in array order."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    lengths = np.diff(np.r_[starts, len(codes)])
    ranks = np.empty(len(codes), dtype=np.int64)
    ranks[order] = np.arange(len(codes)) - np.repeat(starts, lengths)
    return ranks


@dataclass
class _Tally:
    """Running counts over the stream; one entry per user, not per row, all in Arrow/numpy."""

    rows: int = 0
    users: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    user_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    services_seen: set[int] = field(default_factory=set)

    def add(self, users: pa.Array, positions: np.ndarray) -> np.ndarray:
        """Record a batch and return each row's 0-based index among its user's rows."""
        encoded = pc.dictionary_encode(users)
        codes = encoded.indices.to_numpy()
        known = pc.fill_null(pc.index_in(encoded.dictionary, value_set=self.users), -1)
        slots = known.to_numpy().astype(np.int64)
        new = slots < 0
        slots[new] = len(self.users) + np.arange(int(new.sum()))
        self.users = pa.concat_arrays([self.users, pc.filter(encoded.dictionary, pa.array(new))])
        self.user_counts = np.concatenate([self.user_counts, np.zeros(int(new.sum()), np.int64)])
        earlier = self.user_counts[slots]
        self.user_counts[slots] += np.bincount(codes, minlength=len(slots))
        self.services_seen.update(np.unique(positions).tolist())
        self.rows += len(users)
        return np.asarray(earlier[codes] + rank_within_groups(codes), dtype=np.int64)

    @property
    def active_users(self) -> int:
        return int((self.user_counts >= 2).sum())


class _PendingOutputs:
    """Temp files beside their targets, renamed into place only on success."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.temps: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        handle, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        os.close(handle)
        self.temps[name] = Path(temp)
        return self.temps[name]

    def write_text(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def publish(self) -> dict[str, Path]:
        umask = os.umask(0)
        os.umask(umask)
        published = {}
        for name, temp in self.temps.items():
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
            temp.chmod(0o666 & ~umask)
            target = self.directory / name
            os.replace(temp, target)
            published[name] = target
        self.temps.clear()
        return published

    def discard(self) -> None:
        for temp in self.temps.values():
            temp.unlink(missing_ok=True)
        self.temps.clear()


@contextlib.contextmanager
def _pending(directory: Path) -> Iterator[_PendingOutputs]:
    pending = _PendingOutputs(directory)
    try:
        yield pending
    finally:
        pending.discard()


def _batches(layout: SourceLayout, handle: BinaryIO, block_bytes: int) -> Iterator[pd.DataFrame]:
    wanted = [
        layout.columns[name] for name in (*REQUIRED_COLUMNS, TIMESTAMP) if name in layout.columns
    ]
    try:
        reader = pcsv.open_csv(
            handle,
            read_options=pcsv.ReadOptions(block_size=block_bytes),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in layout.header},
                include_columns=wanted,
                strings_can_be_null=False,
            ),
        )
        yield from reader
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise SourceError(locate_unreadable_line(layout.path, len(layout.header))) from None


def _synthetic_timestamps(sequence: np.ndarray) -> np.ndarray:
    return SYNTHETIC_TIMESTAMP_START + sequence * SYNTHETIC_TIMESTAMP_STEP


def _write_interactions(
    layout: SourceLayout,
    target: Path,
    mapping: ServiceMapping,
    block_bytes: int,
    progress: Callable[[int], None] | None,
) -> _Tally:
    tally = _Tally()
    with (
        layout.path.open("rb") as source,
        pcsv.CSVWriter(
            str(target), INTERACTIONS_ARROW_SCHEMA, write_options=_WRITE_OPTIONS
        ) as writer,
    ):
        position = 0
        for frame in _batches(layout, source, block_bytes):
            rows = check_rows(frame, layout, first_line=tally.rows + 2)
            services = mapping.assign(rows.services)
            sequence = tally.add(rows.users, services)
            timestamps = (
                rows.timestamps if rows.timestamps is not None else _synthetic_timestamps(sequence)
            )
            item_ids = pc.take(pa.array(mapping.item_ids, pa.string()), services)
            writer.write_table(
                pa.Table.from_arrays(
                    [
                        rows.users,
                        item_ids,
                        rows.event_types,
                        pa.array(rows.ratings, pa.float64()),
                        pa.array(timestamps, pa.int64()),
                    ],
                    schema=INTERACTIONS_ARROW_SCHEMA,
                )
            )
            if progress is not None:
                now = source.tell()
                progress(now - position)
                position = now
    return tally


def count_csv_rows(path: Path) -> int:
    """Data rows of a written CSV, parsed back block by block (every cell read as text)."""
    with path.open("rb") as handle:
        header = next(csv.reader([handle.readline().decode("utf-8-sig")]), [])
        handle.seek(0)
        # A Python file object, not the path: Arrow's own file reader keeps its read
        # buffers in a pool whose footprint grows with the file.
        with pcsv.open_csv(
            handle,
            read_options=pcsv.ReadOptions(block_size=DEFAULT_BLOCK_BYTES),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
        ) as reader:
            return sum(batch.num_rows for batch in reader)


def _verify(path: Path, expected_rows: int) -> None:
    """Read a written file back; a mismatch is a bug or a full disk, never ignored."""
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: written file is empty")
    rows = count_csv_rows(path)
    if rows != expected_rows:
        raise SourceError(f"{path}: read back {rows} rows, wrote {expected_rows}")


def items_frame(mapping: ServiceMapping, catalog: pd.DataFrame | None) -> pd.DataFrame:
    """Items dataset: every mapped service with its catalogue category and description."""
    items = mapping.to_frame()
    if catalog is None:
        known = pd.DataFrame(columns=["name", "category", "description"])
    else:
        known = catalog[["name", "category", "description"]]
    merged = items.merge(known, how="left", left_on="SERVICE_NAME", right_on="name")
    return pd.DataFrame(
        {
            "ITEM_ID": merged["ITEM_ID"],
            "SERVICE_NAME": merged["SERVICE_NAME"],
            "CATEGORY": merged["category"].fillna(UNKNOWN_CATEGORY),
            "DESCRIPTION": merged["description"].fillna(""),
        }
    )


def prepare_dataset(
    source: Path,
    out_dir: Path,
    catalog: pd.DataFrame | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    progress: Callable[[int], None] | None = None,
) -> PrepareResult:
    """Validate ``source`` and write the Personalize-format dataset into ``out_dir``.

    ``progress`` is called with the number of source bytes consumed since its last call.
    """
    layout = inspect_source(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    mapping_path = out_dir / MAPPING_FILE
    mapping = ServiceMapping.load(mapping_path) if mapping_path.exists() else ServiceMapping()
    known_before = len(mapping)

    with _pending(out_dir) as pending:
        tally = _write_interactions(
            layout, pending.path(INTERACTIONS_FILE), mapping, block_bytes, progress
        )
        if tally.rows == 0:
            raise SourceError(f"{source}: has a header but no data rows")
        if len(tally.services_seen) < 2:
            only = mapping.names[next(iter(tally.services_seen))]
            raise SourceError(
                f"{source}: found 1 unique service ({only!r}); at least 2 are required"
            )
        users = len(tally.users)
        warnings = check_prepared(
            source,
            rows=tally.rows,
            users=users,
            items=len(tally.services_seen),
            active_users=tally.active_users,
        )
        _verify(pending.temps[INTERACTIONS_FILE], tally.rows)

        items = items_frame(mapping, catalog)
        items.to_csv(pending.path(ITEMS_FILE), index=False)
        _verify(pending.temps[ITEMS_FILE], len(items))
        mapping.to_frame().to_csv(pending.path(MAPPING_FILE), index=False)
        _verify(pending.temps[MAPPING_FILE], len(mapping))
        pending.write_text(INTERACTIONS_SCHEMA_FILE, schema_json(INTERACTIONS_SCHEMA))
        pending.write_text(ITEMS_SCHEMA_FILE, schema_json(ITEMS_SCHEMA))
        outputs = pending.publish()

    return PrepareResult(
        rows=tally.rows,
        users=users,
        items=len(tally.services_seen),
        new_items=len(mapping) - known_before,
        outputs=outputs,
        warnings=warnings,
    )
