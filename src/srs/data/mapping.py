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
    _index: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object))
    _next_number: int = 1

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
        mapping = cls()
        mapping.item_ids = frame["ITEM_ID"].tolist()
        mapping.names = frame["SERVICE_NAME"].tolist()
        mapping._index = pd.Index(mapping.names, dtype=object)
        numbers = [int(m.group(1)) for m in map(_ID_PATTERN.match, mapping.item_ids) if m]
        mapping._next_number = max(numbers, default=0) + 1
        return mapping

    def __len__(self) -> int:
        return len(self.names)

    def assign(self, names: pd.Series) -> np.ndarray:
        """Positions of ``names`` in the mapping, adding unseen names (sorted) at the end."""
        positions = self._index.get_indexer(pd.Index(names))
        missing = positions < 0
        if missing.any():
            new_names = sorted(pd.unique(names[missing]))
            for name in new_names:
                self.item_ids.append(format_item_id(self._next_number))
                self.names.append(name)
                self._next_number += 1
            self._index = pd.Index(self.names, dtype=object)
            positions = self._index.get_indexer(pd.Index(names))
        return positions

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"ITEM_ID": self.item_ids, "SERVICE_NAME": self.names})
