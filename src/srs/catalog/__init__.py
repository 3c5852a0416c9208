"""The AWS service catalogue SRS recommends from.

The catalogue ships as package data (``services.csv``) so every part of SRS —
generator, data preparation, engine, web UI — agrees on one set of service
names and categories without a network call. A different catalogue can be
loaded from a path, so deployments with their own service list reuse the same
validation.

Teams write services the way they say them (``EC2``, ``amazon s3``, ``Amazon
Simple Storage Service``), so each service may list aliases, and
:class:`ServiceAliases` resolves any of those spellings to the catalogue name.
It never guesses: a spelling two services could claim resolves to neither.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from srs.errors import SRSError

CATALOG_COLUMNS: tuple[str, str, str] = ("name", "category", "description")
ALIASES_COLUMN = "aliases"
ALIAS_SEPARATOR = ";"
CATALOG_RESOURCE = "services.csv"
VENDOR_PREFIXES: tuple[str, ...] = ("amazon ", "aws ")
SUGGESTION_CUTOFF = 0.6

_WHITESPACE = re.compile(r"\s+")


class CatalogError(SRSError, ValueError):
    """The catalogue file is unusable; the message names the file, line and field."""


def load_catalog(path: Path | None = None) -> pd.DataFrame:
    """Load and validate the service catalogue.

    Returns a frame with columns ``name, category, description, aliases`` (all
    ``str``; ``aliases`` is the file's cell, empty when it has none), in file
    order. Without ``path`` the catalogue shipped with SRS is read through
    ``importlib.resources`` so it works from a wheel or zip as well as from a
    source checkout.
    """
    if path is None:
        resource = resources.files("srs.catalog").joinpath(CATALOG_RESOURCE)
        source = f"srs/catalog/{CATALOG_RESOURCE}"
        text = resource.read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogError(f"{source}: cannot read catalogue: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CatalogError(f"{source}: catalogue is not UTF-8 text: {exc}") from exc
    return parse_catalog(text, source)


def parse_catalog(text: str, source: str = "<catalogue>") -> pd.DataFrame:
    """Parse catalogue CSV text, naming ``source`` and the line in every error.

    The csv module (rather than pandas) reads the rows so each record keeps its
    physical line number for error messages, even when a quoted description
    spans lines.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogError(f"{source}: catalogue is empty (expected a header row)") from None
    header = [column.strip() for column in header]
    missing = [column for column in CATALOG_COLUMNS if column not in header]
    if missing:
        raise CatalogError(
            f"{source}, line 1: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(CATALOG_COLUMNS)}, found {', '.join(header)}"
        )
    positions = [header.index(column) for column in CATALOG_COLUMNS]
    alias_position = header.index(ALIASES_COLUMN) if ALIASES_COLUMN in header else None

    rows: list[tuple[str, str, str, str]] = []
    entries: list[_AliasEntry] = []
    first_line_of: dict[str, int] = {}
    line = reader.line_num
    for record in reader:
        record_line = line + 1
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise CatalogError(
                f"{source}, line {record_line}: expected {len(header)} fields, found {len(record)}"
            )
        name, category, description = (record[position].strip() for position in positions)
        for column, value in zip(CATALOG_COLUMNS, (name, category, description), strict=True):
            if not value:
                raise CatalogError(f"{source}, line {record_line}: field '{column}' is blank")
        if name in first_line_of:
            raise CatalogError(
                f"{source}, line {record_line}: field 'name' value '{name}' duplicates "
                f"line {first_line_of[name]}"
            )
        first_line_of[name] = record_line
        aliases = record[alias_position].strip() if alias_position is not None else ""
        rows.append((name, category, description, aliases))
        entries.append(_AliasEntry(name, split_aliases(aliases), f"line {record_line}"))

    if not rows:
        raise CatalogError(f"{source}: catalogue has a header but no services")
    _alias_keys(entries, source)
    return pd.DataFrame(rows, columns=[*CATALOG_COLUMNS, ALIASES_COLUMN])


def alias_key(name: str) -> str:
    """The form spellings are compared in: case-folded, runs of whitespace made one space."""
    return _WHITESPACE.sub(" ", name.strip()).casefold()


def split_aliases(cell: str) -> list[str]:
    """The aliases of one ``aliases`` cell; empty pieces (a trailing ';') are dropped."""
    return [alias.strip() for alias in cell.split(ALIAS_SEPARATOR) if alias.strip()]


def _without_vendor(key: str) -> str | None:
    for prefix in VENDOR_PREFIXES:
        if key.startswith(prefix) and key[len(prefix) :].strip():
            return key[len(prefix) :].strip()
    return None


@dataclass(frozen=True)
class _AliasEntry:
    name: str
    aliases: list[str]
    where: str  # "line 7" or "row 3", for messages


def _alias_keys(entries: Iterable[_AliasEntry], source: str) -> dict[str, str]:
    """Alias key → catalogue name, refusing any spelling two services claim outright.

    Names come first, then explicit aliases, then each name without its vendor
    prefix; that last kind is derived, not written by anyone, so one that two
    services would share (or that a name or alias already holds) is left out.
    """
    entries = list(entries)
    keys: dict[str, str] = {}
    where_of: dict[str, str] = {}
    for entry in entries:
        key = alias_key(entry.name)
        if key in keys:
            raise CatalogError(
                f"{source}, {entry.where}: field 'name' value {entry.name!r} is the same "
                f"name as {keys[key]!r} ({where_of[key]}) but for case or spacing"
            )
        keys[key], where_of[key] = entry.name, entry.where
    for entry in entries:
        for alias in entry.aliases:
            key = alias_key(alias)
            owner = keys.get(key)
            if owner is None:
                keys[key], where_of[key] = entry.name, entry.where
            elif owner != entry.name:
                raise CatalogError(
                    f"{source}, {entry.where}: field 'aliases' value {alias!r} already "
                    f"stands for {owner!r} ({where_of[key]})"
                )
    derived: dict[str, set[str]] = {}
    for entry in entries:
        stripped = _without_vendor(alias_key(entry.name))
        if stripped is not None and stripped not in keys:
            derived.setdefault(stripped, set()).add(entry.name)
    keys.update({key: next(iter(names)) for key, names in derived.items() if len(names) == 1})
    return keys


@dataclass(frozen=True)
class ServiceAliases:
    """Any spelling of a service → its catalogue name; unknown spellings → None.

    Besides the keys themselves, a spelling with a vendor prefix the catalogue
    does not use is tried without it, so ``AWS S3`` finds Amazon S3 through ``S3``.
    """

    keys: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, catalog: pd.DataFrame, source: str = "catalogue") -> ServiceAliases:
        """The resolver of a catalogue frame; its ``aliases`` column is optional."""
        aliases = (
            catalog[ALIASES_COLUMN].tolist()
            if ALIASES_COLUMN in catalog.columns
            else [""] * len(catalog)
        )
        entries = [
            _AliasEntry(str(name), split_aliases(str(cell)), f"row {row}")
            for row, (name, cell) in enumerate(zip(catalog["name"], aliases, strict=True), 1)
        ]
        return cls(_alias_keys(entries, source))

    def with_names(self, names: Iterable[str]) -> ServiceAliases:
        """These names added as spellings of themselves, where no service holds them yet."""
        keys = dict(self.keys)
        for name in names:
            keys.setdefault(alias_key(name), name)
        return ServiceAliases(keys)

    def resolve(self, name: str) -> str | None:
        """The catalogue name ``name`` stands for, or None when it stands for none."""
        key = alias_key(name)
        found = self.keys.get(key)
        if found is None:
            stripped = _without_vendor(key)
            found = self.keys.get(stripped) if stripped is not None else None
        return found

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` catalogue names whose spellings come closest to ``name``."""
        key = alias_key(name)
        queries = [key] + [stripped for stripped in [_without_vendor(key)] if stripped]
        best: dict[str, float] = {}
        candidates = list(self.keys)
        for query in queries:
            for close in difflib.get_close_matches(
                query, candidates, n=4 * limit, cutoff=SUGGESTION_CUTOFF
            ):
                score = difflib.SequenceMatcher(None, query, close).ratio()
                target = self.keys[close]
                best[target] = max(score, best.get(target, 0.0))
        ranked = sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))
        return [target for target, _ in ranked[:limit]]
