"""Stored events as the interactions CSV that Personalize imports as is.

The export carries feedback recorded by the embedded engine over to Personalize, so it uses
the prepared interactions' own columns and types.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

from srs.data.prepare import INTERACTIONS_ARROW_SCHEMA
from srs.data.store import atomic_file


def write_interactions_csv(tables: Iterable[pa.Table], target: Path) -> int:
    """Write the tables' rows to ``target`` in one go, never half-written; returns rows."""
    rows = 0
    with (
        atomic_file(target, str(target)) as stream,
        pcsv.CSVWriter(
            stream,
            INTERACTIONS_ARROW_SCHEMA,
            write_options=pcsv.WriteOptions(quoting_style="needed"),
        ) as writer,
    ):
        for table in tables:
            writer.write_table(table.cast(INTERACTIONS_ARROW_SCHEMA))
            rows += table.num_rows
    return rows
