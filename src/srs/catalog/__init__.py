"""The AWS service catalogue SRS recommends from.

The catalogue ships as package data (``services.csv``) so every part of SRS —
generator, data preparation, engine, web UI — agrees on one set of service
names and categories without a network call. A different catalogue can be
loaded from a path, so deployments with their own service list reuse the same
validation.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pandas as pd

from srs.errors import SRSError

CATALOG_COLUMNS: tuple[str, str, str] = ("name", "category", "description")
CATALOG_RESOURCE = "services.csv"


class CatalogError(SRSError, ValueError):
    """The catalogue file is unusable; the message names the file, line and field."""


def load_catalog(path: Path | None = None) -> pd.DataFrame:
    """Load and validate the service catalogue.

    Returns a frame with columns ``name, category, description`` (all ``str``),
    in file order. Without ``path`` the catalogue shipped with SRS is read
    through ``importlib.resources`` so it works from a wheel or zip as well as
    from a source checkout.
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

    rows: list[tuple[str, str, str]] = []
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
        rows.append((name, category, description))

    if not rows:
        raise CatalogError(f"{source}: catalogue has a header but no services")
    return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))
