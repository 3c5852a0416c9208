"""Service name → stable ITEM_ID.

IDs must survive re-preparation: models, events and Personalize datasets all
refer to them, so a service keeps the ID it was first given and new services
get fresh numbers after the highest one in use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from srs.errors import SourceError

MAPPING_COLUMNS = ["ITEM_ID", "SERVICE_NAME"]
_ID_PATTERN = re.compile(r"^svc-(\d+)$")


def format_item_id(number: int) -> str:
    return f"svc-{number:04d}"


@dataclass
class ServiceMapping:
    """Growing, order-preserving mapping; IDs are never reused or renumbered."""

    item_ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _next_number: int = 1
    _value_set: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))

    @classmethod
    def load(cls, path: Path) -> ServiceMapping:
        """Read an existing mapping; a damaged one is an error, never silently replaced."""
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise SourceError(f"{path}: existing service mapping is unreadable: {exc}") from None
        if list(frame.columns) != MAPPING_COLUMNS:
            raise SourceError(
                f"{path}: existing service mapping must have columns "
                f"{', '.join(MAPPING_COLUMNS)}, found {', '.join(map(str, frame.columns))}"
            )
        for column in MAPPING_COLUMNS:
            duplicated = frame[column].duplicated()
            if duplicated.any():
                row = int(np.flatnonzero(duplicated.to_numpy())[0])
                raise SourceError(
                    f"{path}: line {row + 2}: field {column}: "
                    f"duplicate value {frame[column].iat[row]!r}"
                )
        numbers = [int(m.group(1)) for m in map(_ID_PATTERN.match, frame["ITEM_ID"]) if m]
        return cls(
            item_ids=frame["ITEM_ID"].tolist(),
            names=frame["SERVICE_NAME"].tolist(),
            _next_number=max(numbers, default=0) + 1,
            _value_set=pa.array(frame["SERVICE_NAME"].tolist(), pa.string()),
        )

    def __len__(self) -> int:
        return len(self.names)

    def assign(self, names: pa.Array) -> np.ndarray:
        """Positions of ``names`` in the mapping, adding unseen names (sorted) at the end."""
        positions = pc.index_in(names, value_set=self._value_set)
        missing = pc.is_null(positions)
        if pc.any(missing).as_py():
            for name in sorted(pc.unique(pc.filter(names, missing)).to_pylist()):
                self.item_ids.append(format_item_id(self._next_number))
                self.names.append(name)
                self._next_number += 1
            self._value_set = pa.array(self.names, pa.string())
            positions = pc.index_in(names, value_set=self._value_set)
        return np.asarray(positions.to_numpy(zero_copy_only=False), dtype=np.int64)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"ITEM_ID": self.item_ids, "SERVICE_NAME": self.names})
