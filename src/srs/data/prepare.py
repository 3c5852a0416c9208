"""Source CSV → Personalize's interactions, items and schema files.

The source can be larger than memory, so it is streamed in blocks with bounded memory:
each block is checked, mapped to stable item IDs and appended to a file in a
staging directory. Only when everything has been written and read back does the
staging directory become the dataset, in one atomic switch (``srs.data.publish``),
so a bad row or a kill anywhere leaves the old dataset whole and untouched.

A team's file says ``Launch`` and ``EC2`` where SRS says ``launched`` and
``Amazon EC2``; each block's event types go through the event vocabulary and its
service names through the catalogue's aliases before any ID is assigned, so one
service never becomes two items and the default filter sees the types it names.
What was rewritten, and what could not be, is reported rather than hidden.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from srs.catalog import CATALOG_COLUMNS, ServiceAliases
from srs.data.mapping import ServiceMapping
from srs.data.publish import PublishedDataset, staged
from srs.data.schemas import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, schema_json
from srs.data.validate import (
    REQUIRED_COLUMNS,
    TIMESTAMP,
    ItemMetadata,
    SourceLayout,
    check_prepared,
    check_rows,
    inspect_source,
    load_item_metadata,
    locate_record_lines,
    locate_unreadable_line,
)
from srs.data.vocabulary import EventVocabulary, normalise_event_type
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
SUGGESTIONS = 3
# Past this many, unknown services are summed up in one warning; the result still lists all.
MAX_SERVICE_WARNINGS = 20
# Suggestions cost a fuzzy match against every catalogue spelling, so only the most used
# unknown services get them; a source of thousands of unknown names is not a typo.
MAX_SUGGESTED_SERVICES = 100

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
class EventTypeSeen:
    """One interaction type as the source wrote it (trimmed), and what it became.

    ``canonical`` is None when the vocabulary does not know the type; it was then
    written normalised, and ``first_line`` says where to look.
    """

    written: str
    canonical: str | None
    rows: int
    first_line: int | None = None


@dataclass(frozen=True)
class AliasedService:
    """A service name the source spelled differently from the catalogue (or --items)."""

    written: str
    name: str
    rows: int


@dataclass(frozen=True)
class UnknownService:
    """A service neither the catalogue nor --items describes, with the closest known names."""

    name: str
    rows: int
    suggestions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrepareResult:
    """What ``prepare_dataset`` produced, for the CLI to report."""

    rows: int
    users: int
    items: int
    new_items: int
    outputs: dict[str, Path]
    version: str = ""
    warnings: list[str] = field(default_factory=list)
    event_types: list[EventTypeSeen] = field(default_factory=list)
    aliased_services: list[AliasedService] = field(default_factory=list)
    unknown_services: list[UnknownService] = field(default_factory=list)


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

    def add(self, users: pa.Array, services: np.ndarray) -> np.ndarray:
        """Record a batch and return each row's 0-based index among its user's rows.

        ``services`` are the mapping positions of the batch's distinct services.
        """
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
        self.services_seen.update(services.tolist())
        self.rows += len(users)
        return np.asarray(earlier[codes] + rank_within_groups(codes), dtype=np.int64)

    @property
    def active_users(self) -> int:
        return int((self.user_counts >= 2).sum())


@dataclass
class _EventTypeCount:
    canonical: str | None
    rows: int = 0
    first_record: int | None = None


class _Recognition:
    """Rewrites each block's event types and service names, counting what it rewrote.

    Both columns hold few distinct values among many rows, so each block is
    dictionary-encoded, the distinct values are looked up in Python (service
    spellings once per run), and the results are spread back by index.
    """

    def __init__(self, vocabulary: EventVocabulary, aliases: ServiceAliases) -> None:
        self.vocabulary = vocabulary
        self.aliases = aliases
        self.event_types: dict[str, _EventTypeCount] = {}
        self.service_of: dict[str, str] = {}
        self.service_rows: dict[str, int] = {}

    def event_types_of(self, raw: pa.Array, first_record: int) -> pa.Array:
        mapped = self.vocabulary.map_array(raw)
        for written, canonical, rows, first_row in zip(
            mapped.written, mapped.canonical, mapped.rows, mapped.first_rows, strict=True
        ):
            count = self.event_types.setdefault(written, _EventTypeCount(canonical))
            count.rows += int(rows)
            if count.first_record is None and first_row >= 0:
                count.first_record = first_record + int(first_row)
        return mapped.event_types

    def services_of(self, raw: pa.Array) -> tuple[pa.Array, np.ndarray]:
        """The block's distinct service names, resolved, and each row's index into them."""
        encoded = pc.dictionary_encode(raw)
        written: list[str] = encoded.dictionary.to_pylist()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        for value, rows in zip(written, np.bincount(codes, minlength=len(written)), strict=True):
            if value not in self.service_of:
                self.service_of[value] = self.aliases.resolve(value) or value
            self.service_rows[value] = self.service_rows.get(value, 0) + int(rows)
        names = pa.array([self.service_of[value] for value in written], pa.string())
        return names, codes

    def event_type_report(self, source: Path) -> list[EventTypeSeen]:
        """Every type seen; unknown ones with the line they first appear on in ``source``."""
        records = [
            count.first_record
            for count in self.event_types.values()
            if count.first_record is not None
        ]
        lines = locate_record_lines(source, records)
        seen = [
            EventTypeSeen(
                written,
                count.canonical,
                count.rows,
                None if count.first_record is None else lines[count.first_record],
            )
            for written, count in self.event_types.items()
        ]
        return sorted(seen, key=lambda entry: (-entry.rows, entry.written))

    def aliased_services(self) -> list[AliasedService]:
        aliased = [
            AliasedService(written, name, self.service_rows[written])
            for written, name in self.service_of.items()
            if name != written
        ]
        return sorted(aliased, key=lambda entry: (-entry.rows, entry.written))

    def rows_per_service(self) -> dict[str, int]:
        rows: dict[str, int] = {}
        for written, name in self.service_of.items():
            rows[name] = rows.get(name, 0) + self.service_rows[written]
        return rows


def _batches(layout: SourceLayout, handle: BinaryIO, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """The source in blocks, its columns named as ``layout`` read them.

    The header row is skipped rather than parsed again: Arrow would keep each name as
    written, spaces included, and then not find the trimmed names the layout holds.
    """
    wanted = [
        layout.columns[name] for name in (*REQUIRED_COLUMNS, TIMESTAMP) if name in layout.columns
    ]
    try:
        reader = pcsv.open_csv(
            handle,
            read_options=pcsv.ReadOptions(
                block_size=block_bytes, column_names=list(layout.header), skip_rows=1
            ),
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
    recognition: _Recognition,
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
            rows = check_rows(frame, layout, first_record=tally.rows)
            event_types = recognition.event_types_of(rows.event_types, tally.rows)
            names, codes = recognition.services_of(rows.services)
            services = mapping.assign(names)
            sequence = tally.add(rows.users, services)
            timestamps = (
                rows.timestamps if rows.timestamps is not None else _synthetic_timestamps(sequence)
            )
            item_ids = pc.take(
                pc.take(pa.array(mapping.item_ids, pa.string()), services), pa.array(codes)
            )
            writer.write_table(
                pa.Table.from_arrays(
                    [
                        rows.users,
                        item_ids,
                        event_types,
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
        known = pd.DataFrame(columns=list(CATALOG_COLUMNS))
    else:
        known = catalog[list(CATALOG_COLUMNS)]
    merged = items.merge(known, how="left", left_on="SERVICE_NAME", right_on="name")
    return pd.DataFrame(
        {
            "ITEM_ID": merged["ITEM_ID"],
            "SERVICE_NAME": merged["SERVICE_NAME"],
            "CATEGORY": merged["category"].fillna(UNKNOWN_CATEGORY),
            "DESCRIPTION": merged["description"].fillna(""),
        }
    )


def _described_services(
    catalog: pd.DataFrame, aliases: ServiceAliases, items: ItemMetadata | None
) -> tuple[pd.DataFrame, list[str]]:
    """The catalogue with a team's own rows laid over it, and the names those rows took.

    A row of --items naming a catalogue service (in any spelling) replaces that
    service's metadata under the catalogue's name; any other row adds a service.
    """
    if items is None:
        return catalog[list(CATALOG_COLUMNS)], []
    names: list[str] = []
    line_of: dict[str, int] = {}
    for written, line in zip(items.names, items.lines, strict=True):
        name = aliases.resolve(written) or written
        if name in line_of:
            raise SourceError(
                f"{items.path}: line {line}: field {items.name_column!r}: names {name!r} "
                f"again, already described on line {line_of[name]} (value {written!r})"
            )
        line_of[name] = line
        names.append(name)
    own = pd.DataFrame(
        {"name": names, "category": items.categories, "description": items.descriptions}
    )
    kept = catalog.loc[~catalog["name"].isin(line_of), list(CATALOG_COLUMNS)]
    return pd.concat([kept, own], ignore_index=True), names


def _unknown_services(
    rows_per_service: dict[str, int], described: set[str], aliases: ServiceAliases
) -> list[UnknownService]:
    unknown = sorted(
        ((name, rows) for name, rows in rows_per_service.items() if name not in described),
        key=lambda entry: (-entry[1], entry[0]),
    )
    return [
        UnknownService(
            name,
            rows,
            tuple(aliases.suggest(name, SUGGESTIONS)) if rank < MAX_SUGGESTED_SERVICES else (),
        )
        for rank, (name, rows) in enumerate(unknown)
    ]


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _quoted_choice(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _recognition_warnings(
    event_types: list[EventTypeSeen],
    unknown: list[UnknownService],
    undescribed_earlier: list[str],
) -> list[str]:
    warnings = []
    for seen in event_types:
        if seen.canonical is None:
            kept = normalise_event_type(seen.written)
            warnings.append(
                f"event type {seen.written!r} ({_rows(seen.rows)}, first on line "
                f"{seen.first_line}) is not one SRS knows: kept as {kept!r}; say what it means "
                f"in the event_types setting (e.g. SRS_EVENT_TYPES={kept}=launched)"
            )
    for service in unknown[:MAX_SERVICE_WARNINGS]:
        hint = (
            f"; did you mean {_quoted_choice(service.suggestions)}?" if service.suggestions else ""
        )
        warnings.append(
            f"service {service.name!r} ({_rows(service.rows)}) is neither in the catalogue "
            f"nor in --items: its item has category {UNKNOWN_CATEGORY!r} and no "
            f"description{hint}"
        )
    if len(unknown) > MAX_SERVICE_WARNINGS:
        warnings.append(
            f"{len(unknown) - MAX_SERVICE_WARNINGS:,} more services are neither in the "
            "catalogue nor in --items"
        )
    if undescribed_earlier:
        shown = ", ".join(repr(name) for name in undescribed_earlier[:5])
        more = f" and {len(undescribed_earlier) - 5:,} more" if len(undescribed_earlier) > 5 else ""
        warnings.append(
            f"{len(undescribed_earlier):,} services kept in {MAPPING_FILE} from earlier runs "
            f"have no category or description: {shown}{more}"
        )
    return warnings


def _strict_refusal(source: Path, event_types: list[EventTypeSeen]) -> SourceError | None:
    unmapped = [seen for seen in event_types if seen.canonical is None]
    if not unmapped:
        return None
    listed = ", ".join(
        f"{seen.written!r} ({_rows(seen.rows)}, first on line {seen.first_line})"
        for seen in unmapped
    )
    example = normalise_event_type(unmapped[0].written)
    return SourceError(
        f"{source}: event types SRS does not know (strict): {listed}; say what each means "
        f"in the event_types setting (e.g. SRS_EVENT_TYPES={example}=launched)"
    )


def prepare_dataset(
    source: Path,
    out_dir: Path,
    catalog: pd.DataFrame | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    progress: Callable[[int], None] | None = None,
    vocabulary: EventVocabulary | None = None,
    items: Path | None = None,
    strict: bool = False,
    on_publish: Callable[[PublishedDataset], None] | None = None,
) -> PrepareResult:
    """Validate ``source`` and write the Personalize-format dataset into ``out_dir``.

    ``progress`` is called with the number of source bytes consumed since its last call.
    ``vocabulary`` maps event types (the built-in synonyms when None); ``items`` is a
    team's own item metadata; ``strict`` refuses event types the vocabulary lacks
    instead of keeping them. ``on_publish`` copies the published dataset elsewhere (an
    object store) while the dataset's lock is still held, so two runs cannot interleave there.
    """
    layout = inspect_source(source)
    item_metadata = load_item_metadata(items) if items is not None else None
    catalogue = catalog if catalog is not None else pd.DataFrame(columns=list(CATALOG_COLUMNS))
    catalogue_aliases = ServiceAliases.from_catalog(catalogue)
    described, own_names = _described_services(catalogue, catalogue_aliases, item_metadata)
    recognition = _Recognition(
        vocabulary or EventVocabulary(), catalogue_aliases.with_names(own_names)
    )
    with staged(out_dir, OUTPUT_FILES) as pending:
        mapping_path = out_dir / MAPPING_FILE
        mapping = ServiceMapping.load(mapping_path) if mapping_path.exists() else ServiceMapping()
        known_before = len(mapping)
        tally = _write_interactions(
            layout, pending.path(INTERACTIONS_FILE), mapping, recognition, block_bytes, progress
        )
        if tally.rows == 0:
            raise SourceError(f"{source}: has a header but no data rows")
        if len(tally.services_seen) < 2:
            only = mapping.names[next(iter(tally.services_seen))]
            raise SourceError(
                f"{source}: found 1 unique service ({only!r}); at least 2 are required"
            )
        event_types = recognition.event_type_report(source)
        refusal = _strict_refusal(source, event_types) if strict else None
        if refusal is not None:
            raise refusal
        users = len(tally.users)
        warnings = check_prepared(
            source,
            rows=tally.rows,
            users=users,
            items=len(tally.services_seen),
            active_users=tally.active_users,
        )
        _verify(pending.path(INTERACTIONS_FILE), tally.rows)

        if own_names:
            mapping.assign(pa.array(own_names, pa.string()))
        known_names = set(described["name"])
        rows_per_service = recognition.rows_per_service()
        unknown = _unknown_services(rows_per_service, known_names, catalogue_aliases)
        accounted = known_names | rows_per_service.keys()
        undescribed_earlier = [name for name in mapping.names if name not in accounted]
        warnings += _recognition_warnings(event_types, unknown, undescribed_earlier)

        items_table = items_frame(mapping, described)
        items_table.to_csv(pending.path(ITEMS_FILE), index=False)
        _verify(pending.path(ITEMS_FILE), len(items_table))
        mapping.to_frame().to_csv(pending.path(MAPPING_FILE), index=False)
        _verify(pending.path(MAPPING_FILE), len(mapping))
        pending.write_text(INTERACTIONS_SCHEMA_FILE, schema_json(INTERACTIONS_SCHEMA))
        pending.write_text(ITEMS_SCHEMA_FILE, schema_json(ITEMS_SCHEMA))
        published = pending.publish()
        if on_publish is not None:
            on_publish(published)

    return PrepareResult(
        rows=tally.rows,
        users=users,
        items=len(tally.services_seen),
        new_items=len(mapping) - known_before,
        outputs=published.files,
        version=published.version,
        warnings=warnings,
        event_types=event_types,
        aliased_services=recognition.aliased_services(),
        unknown_services=unknown,
    )
