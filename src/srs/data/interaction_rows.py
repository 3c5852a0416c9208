"""A few interaction rows as named numpy columns, text kept as codes into its values.

The serving side hands a user's rows to the filter evaluator on every request: slices of the
stored history (:mod:`srs.data.history`, whose text columns are already codes) joined with the
events recorded since, and, to work out the default filter's exclusions once, every stored row
at the same time. Building a DataFrame for that costs far more than the evaluation itself, so
the rows travel as plain arrays that a history hands over without copying.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.extensions import ExtensionDtype

Mask: TypeAlias = npt.NDArray[np.bool_]
ColumnType: TypeAlias = np.dtype[Any] | ExtensionDtype


def holds_numbers(dtype: ColumnType) -> bool:
    """Numeric but not boolean: filters compare numbers, and cannot filter on booleans."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


class CodedText(NamedTuple):
    """A text column as integer codes into a list of values, the way a categorical holds it.

    A user's rows sliced out of an interaction history arrive like this, with no Python string
    per row: tests then run once per distinct value, not once per row. A code of -1 is a missing
    value; ``values`` may repeat a value (vocabularies joined by :meth:`InteractionRows.concat`).
    A named tuple because requests build several of them.
    """

    codes: npt.NDArray[np.integer[Any]]
    values: Sequence[object]

    def rows_where(self, keep: Callable[[object], bool]) -> Mask:
        hits = np.zeros(len(self.values) + 1, dtype=bool)  # code -1 reads the last slot: False
        hits[:-1] = [keep(value) for value in self.values]
        matched: Mask = hits[self.codes]
        return matched


InteractionColumn: TypeAlias = CodedText | npt.NDArray[Any]
"""Text as :class:`CodedText`; numbers as a float or integer array; booleans as a bool array."""


def _rows_of(column: InteractionColumn) -> int:
    return len(column.codes) if isinstance(column, CodedText) else len(column)


def _coded(column: InteractionColumn) -> CodedText:
    if isinstance(column, CodedText):
        return column
    codes, distinct = pd.factorize(column)
    return CodedText(codes, tuple(distinct))


class InteractionRows:
    """The current user's interactions as named arrays, the evaluator's per-request input.

    Building a DataFrame of the user's rows costs several times more than evaluating a filter
    on them. A user has a handful of rows, so plain numpy columns serve, and a history that
    keeps its text columns as codes hands them over as slices, without copying.
    """

    def __init__(self, columns: Mapping[str, InteractionColumn]) -> None:
        self._columns = dict(columns)
        self.columns: tuple[str, ...] = tuple(self._columns)
        lengths = [_rows_of(column) for column in self._columns.values()]
        if lengths and min(lengths) != max(lengths):
            sizes = dict(zip(self.columns, lengths, strict=True))
            raise ValueError(f"interaction columns differ in length: {sizes}")
        self._length = lengths[0] if lengths else 0

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> InteractionRows:
        """Columns of a DataFrame: numbers as floats (NaN when missing), the rest as text."""
        columns: dict[str, InteractionColumn] = {}
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_bool_dtype(series.dtype):
                columns[str(name)] = series.to_numpy(dtype=bool, na_value=False)
            elif holds_numbers(series.dtype):
                columns[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                codes, distinct = pd.factorize(series)
                columns[str(name)] = CodedText(codes, tuple(distinct))
        return cls(columns)

    @classmethod
    def concat(cls, parts: Sequence[InteractionRows]) -> InteractionRows:
        """The rows of every part, in order (e.g. recent events, then the stored history)."""
        if len(parts) == 1:
            return parts[0]
        names = parts[0].columns
        for part in parts[1:]:
            if set(part.columns) != set(names):
                raise ValueError(
                    f"cannot join interaction rows with columns {names} and {part.columns}"
                )
        return cls({name: _joined([part._columns[name] for part in parts]) for name in names})

    def __len__(self) -> int:
        return self._length

    def is_boolean(self, column: str) -> bool:
        values = self._columns[column]
        return not isinstance(values, CodedText) and values.dtype.kind == "b"

    def is_numeric(self, column: str) -> bool:
        values = self._columns[column]
        return not isinstance(values, CodedText) and values.dtype.kind in "iuf"

    def numbers(self, column: str) -> npt.NDArray[np.float64]:
        values = self._columns[column]
        if isinstance(values, CodedText):
            raise TypeError(f"interaction column {column} holds text, not numbers")
        return np.asarray(values, dtype=np.float64)

    def rows_in(self, column: str, values: Sequence[object]) -> Mask:
        wanted = set(values)
        return _coded(self._columns[column]).rows_where(wanted.__contains__)

    def rows_in_ignoring_case(self, column: str, texts: Sequence[str]) -> Mask:
        lowered = {text.lower() for text in texts}
        return _coded(self._columns[column]).rows_where(lambda value: str(value).lower() in lowered)

    def rows_present(self, column: str) -> Mask:
        values = self._columns[column]
        if isinstance(values, CodedText):
            return np.asarray(values.codes >= 0)
        if values.dtype.kind == "f":
            return ~np.isnan(values)
        return np.ones(len(values), dtype=bool)

    def values_where(self, column: str, rows: Mask) -> list[object]:
        """The column's values on the selected rows, missing values left out."""
        values = self._columns[column]
        if isinstance(values, CodedText):
            return [values.values[code] for code in values.codes[rows].tolist() if code >= 0]
        picked: list[object] = values[rows].tolist()
        return picked


def _joined(pieces: Sequence[InteractionColumn]) -> InteractionColumn:
    coded = [piece for piece in pieces if isinstance(piece, CodedText)]
    if not coded:
        return np.concatenate([np.asarray(piece) for piece in pieces])
    if len(coded) != len(pieces):
        raise ValueError("cannot join a text column with a numeric one")
    codes: list[npt.NDArray[np.integer[Any]]] = []
    values: list[object] = []
    for piece in coded:
        codes.append(np.where(piece.codes >= 0, piece.codes + len(values), -1))
        values.extend(piece.values)
    return CodedText(np.concatenate(codes), values)
