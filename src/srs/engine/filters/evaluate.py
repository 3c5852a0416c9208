"""Evaluating a parsed Personalize filter on every request: a boolean mask over the catalogue.

Use: ``parse_filter(text)`` once per filter (the result is immutable and hashable, so it can be
cached), ``IndexedFrame(items)`` once per catalogue, then ``filter.allowed(table,
user_interactions, filter_values)`` on every request, with the user's rows as
:class:`InteractionRows` (numpy columns; a DataFrame is accepted and converted). Every test is
vectorised over the catalogue or the user's rows, since the filter runs on each request.

Semantics follow Personalize's documentation:

* ``Items.<field>`` tests item metadata columns. Text matches exactly (case-sensitive); the
  comparison operators need a numeric column; boolean columns cannot be filtered.
* ``Interactions.<field>`` tests the *current user's* interactions: an item matches when one of
  the user's interaction rows for it meets the whole condition. EVENT_TYPE matches ignore case and
  ``"*"`` stands for every event type. Personalize itself only filters on EVENT_TYPE; SRS also
  accepts the other interaction columns (EVENT_VALUE, TIMESTAMP) as an extension.
* Chained expressions are evaluated independently and combined as Personalize documents:
  ``INCLUDE A | INCLUDE B`` keeps items in A or B, ``EXCLUDE C | EXCLUDE D`` drops items in C or
  D, and a mix keeps ``(A or B) - (C or D)`` whatever the order.
* An INCLUDE expression needs all its parameters; an EXCLUDE expression whose parameters are not
  all given is skipped, exactly as Personalize does. Multi-valued categorical fields ("a|b")
  match as whole strings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from srs.data.interaction_rows import ColumnType, InteractionRows, Mask, holds_numbers
from srs.engine.filters.errors import FilterError, FilterValueError
from srs.engine.filters.syntax import (
    Action,
    AllOf,
    AnyOf,
    Comparison,
    ComparisonOperator,
    Condition,
    Dataset,
    Expression,
    FieldRef,
    Membership,
    NumberValue,
    Placeholder,
    StringValue,
    leaves,
    parse_expressions,
    placeholders_of,
)
from srs.engine.filters.values import FilterValues, parse_filter_values
from srs.engine.matrix import EVENT_TYPE, INTERACTION_COLUMNS, ITEM_ID

ANY_EVENT_TYPE: Final = "*"


class FilterTable(Protocol):
    """What the evaluator reads from a table of rows, items or the user's interactions.

    Two kinds provide it: :class:`IndexedFrame`, a pandas catalogue encoded once and reused on
    every request, and :class:`InteractionRows`, one user's rows as numpy arrays made per request.
    """

    @property
    def columns(self) -> tuple[str, ...]: ...

    def __len__(self) -> int: ...

    def is_boolean(self, column: str) -> bool: ...

    def is_numeric(self, column: str) -> bool: ...

    def numbers(self, column: str) -> npt.NDArray[np.float64]: ...

    def rows_in(self, column: str, values: Sequence[object]) -> Mask: ...

    def rows_in_ignoring_case(self, column: str, texts: Sequence[str]) -> Mask: ...

    def rows_present(self, column: str) -> Mask: ...


@dataclass(frozen=True, slots=True)
class _EncodedColumn:
    """A column as codes into its distinct values; a missing value's code is a pad slot."""

    codes: npt.NDArray[np.intp]
    distinct: tuple[object, ...]
    code_of: Mapping[object, int]

    @classmethod
    def of(cls, values: npt.NDArray[Any]) -> _EncodedColumn:
        codes, distinct = pd.factorize(values)
        codes = np.where(codes < 0, len(distinct), codes).astype(np.intp)
        distinct_values = tuple(distinct)
        return cls(
            codes, distinct_values, {value: code for code, value in enumerate(distinct_values)}
        )

    def rows_with_codes(self, codes: Iterator[int]) -> Mask:
        """A lookup table over the distinct values, so the rows are read in one vectorised
        gather however many codes are wanted."""
        hits = np.zeros(len(self.distinct) + 1, dtype=bool)  # the last slot stays False
        hits[np.fromiter(codes, dtype=np.intp)] = True
        return hits[self.codes]

    def rows_with_values(self, values: Iterable[object]) -> Mask:
        return self.rows_with_codes(
            self.code_of[value] for value in values if value in self.code_of
        )


class IndexedFrame:
    """A frame encoded once for repeated filtering.

    Testing every item's string with ``isin`` would compare strings across the whole catalogue on
    every request. Encoding each text column once (codes plus a map from distinct value to code)
    turns a later IN test into a few dictionary probes and one gather, and matching "items this
    user launched" into probes for a handful of ids. Build one per catalogue,
    ``IndexedFrame(items)``, and pass it to :meth:`FilterExpression.allowed` on every request;
    encodings are made on first use and kept, so the frame must not change afterwards.

    With ``reused=False`` (how a plain DataFrame is wrapped for a single call) item columns are not
    encoded: one ``isin`` is cheaper than encoding a column that will be read only once.
    """

    def __init__(self, frame: pd.DataFrame, *, reused: bool = True) -> None:
        self.frame = frame
        self.reused = reused
        self.columns: tuple[str, ...] = tuple(str(column) for column in frame.columns)
        self._dtypes: dict[str, ColumnType] = {}
        self._encoded: dict[str, _EncodedColumn] = {}
        self._numbers: dict[str, npt.NDArray[np.float64]] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def _dtype(self, column: str) -> ColumnType:
        dtype = self._dtypes.get(column)
        if dtype is None:
            dtype = self._dtypes[column] = self.frame[column].dtype
        return dtype

    def is_boolean(self, column: str) -> bool:
        return pd.api.types.is_bool_dtype(self._dtype(column))

    def is_numeric(self, column: str) -> bool:
        return holds_numbers(self._dtype(column))

    def _encoded_column(self, column: str) -> _EncodedColumn:
        encoded = self._encoded.get(column)
        if encoded is None:
            encoded = self._encoded[column] = _EncodedColumn.of(self.frame[column].to_numpy())
        return encoded

    def numbers(self, column: str) -> npt.NDArray[np.float64]:
        cached = self._numbers.get(column)
        if cached is None:
            cached = self.frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
            self._numbers[column] = cached
        return cached

    def rows_in(self, column: str, values: Sequence[object]) -> Mask:
        """Rows whose value is exactly one of ``values``; missing values match nothing."""
        if not self.reused:
            return self.frame[column].isin(values).to_numpy(dtype=bool)
        return self._encoded_column(column).rows_with_values(values)

    def rows_in_ignoring_case(self, column: str, texts: Sequence[str]) -> Mask:
        """Like :meth:`rows_in` without regard to case (for EVENT_TYPE, which has few values)."""
        encoded = self._encoded_column(column)
        lowered = {text.lower() for text in texts}
        return encoded.rows_with_codes(
            code for code, value in enumerate(encoded.distinct) if str(value).lower() in lowered
        )

    def rows_present(self, column: str) -> Mask:
        return self.frame[column].notna().to_numpy(dtype=bool)

    def rows_with_ids(self, item_ids: Sequence[object]) -> Mask:
        """Mask of the rows whose ITEM_ID is one of ``item_ids``."""
        if ITEM_ID not in self.columns:
            raise FilterError(f"items have no {ITEM_ID} column to match interactions against")
        return self.rows_in(ITEM_ID, item_ids)


@dataclass(frozen=True, slots=True)
class _Evaluation:
    """What one call of :meth:`FilterExpression.allowed` reads."""

    items: IndexedFrame
    interactions: InteractionRows | None
    bound: Mapping[str, tuple[str, ...]]

    @property
    def interaction_columns(self) -> Sequence[str]:
        return INTERACTION_COLUMNS if self.interactions is None else self.interactions.columns


def _resolve_column(field: FieldRef, columns: Sequence[str]) -> str:
    """Exact name first, then a unique case-insensitive match (Items.category -> CATEGORY)."""
    if field.name in columns:
        return field.name
    matches = [column for column in columns if column.upper() == field.name.upper()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise FilterError(
            f"{field} at position {field.position} is ambiguous: it matches columns "
            f"{', '.join(matches)}; write the exact name",
            field.position,
        )
    raise FilterError(
        f"unknown field {field} at position {field.position}: {field.dataset.value} has "
        f"{', '.join(columns)}",
        field.position,
    )


def _to_number(text: str, field: FieldRef, source: StringValue | Placeholder) -> float:
    try:
        return float(text)
    except ValueError:
        where = f"${source.name} ({text!r})" if isinstance(source, Placeholder) else repr(text)
        message = (
            f"{field} at position {field.position} is numeric, but value {where} at position "
            f"{source.position} is not a number"
        )
        if isinstance(source, Placeholder):
            raise FilterValueError(message, source.name, position=source.position) from None
        raise FilterError(message, source.position) from None


def _value_sources(
    condition: Membership, bound: Mapping[str, tuple[str, ...]]
) -> list[tuple[str, StringValue | Placeholder]]:
    """Each text the list stands for, with the literal or placeholder it came from."""
    sources: list[tuple[str, StringValue | Placeholder]] = []
    for value in condition.values:
        if isinstance(value, StringValue):
            sources.append((value.text, value))
        else:
            sources.extend((text, value) for text in bound[value.name])
    return sources


def _membership_mask(
    condition: Membership, table: FilterTable, column: str, evaluation: _Evaluation
) -> Mask:
    field = condition.field
    sources = _value_sources(condition, evaluation.bound)
    texts = [text for text, _ in sources]
    if table.is_boolean(column):
        raise FilterError(
            f"{field} at position {field.position} is boolean; Personalize cannot filter on "
            'boolean fields (store "True"/"False" strings or 0/1)',
            field.position,
        )
    if field.dataset is Dataset.INTERACTIONS and column.upper() == EVENT_TYPE:
        if ANY_EVENT_TYPE in texts:
            mask = table.rows_present(column)
        else:
            mask = table.rows_in_ignoring_case(column, texts)
    elif table.is_numeric(column):
        numbers = [_to_number(text, field, source) for text, source in sources]
        mask = np.isin(table.numbers(column), numbers)
    else:
        mask = table.rows_in(column, texts)
    return ~mask if condition.negated else mask


_OPERATORS: Final[dict[ComparisonOperator, np.ufunc]] = {
    ComparisonOperator.EQ: np.equal,
    ComparisonOperator.LT: np.less,
    ComparisonOperator.LE: np.less_equal,
    ComparisonOperator.GT: np.greater,
    ComparisonOperator.GE: np.greater_equal,
}


def _comparison_number(condition: Comparison, bound: Mapping[str, tuple[str, ...]]) -> float:
    value = condition.value
    if isinstance(value, NumberValue):
        return value.number
    texts = bound[value.name]
    if len(texts) != 1:
        raise FilterValueError(
            f"${value.name} at position {value.position} follows "
            f"{condition.operator.value} and takes exactly one number; got {len(texts)} values",
            value.name,
            position=value.position,
        )
    return _to_number(texts[0], condition.field, value)


def _comparison_mask(
    condition: Comparison, table: FilterTable, column: str, evaluation: _Evaluation
) -> Mask:
    field = condition.field
    if not table.is_numeric(column):
        kind = "boolean" if table.is_boolean(column) else "text"
        raise FilterError(
            f"{field} at position {field.position} holds {kind}; "
            f"{condition.operator.value} compares numbers only (use IN or NOT IN for text)",
            field.position,
        )
    number = _comparison_number(condition, evaluation.bound)
    compare = _OPERATORS[condition.operator]
    return np.asarray(compare(table.numbers(column), number), dtype=bool)  # NaN compares False


def _condition_mask(
    condition: Condition, table: FilterTable, dataset: Dataset, evaluation: _Evaluation
) -> Mask:
    if isinstance(condition, AllOf | AnyOf):
        masks = [_condition_mask(part, table, dataset, evaluation) for part in condition.conditions]
        combine = np.logical_and if isinstance(condition, AllOf) else np.logical_or
        return np.asarray(combine.reduce(masks), dtype=bool)
    column = _resolve_column(condition.field, table.columns)
    if isinstance(condition, Membership):
        return _membership_mask(condition, table, column, evaluation)
    return _comparison_mask(condition, table, column, evaluation)


def _matching_items(expression: Expression, evaluation: _Evaluation) -> Mask:
    """Which items the expression's condition selects, before INCLUDE/EXCLUDE is applied."""
    if expression.dataset is Dataset.ITEMS:
        return _condition_mask(expression.condition, evaluation.items, Dataset.ITEMS, evaluation)
    interactions = evaluation.interactions
    if interactions is None or len(interactions) == 0:
        for leaf in leaves(expression.condition):  # still report misspelt fields
            _resolve_column(leaf.field, evaluation.interaction_columns)
        return np.zeros(len(evaluation.items), dtype=bool)
    rows = _condition_mask(expression.condition, interactions, Dataset.INTERACTIONS, evaluation)
    if ITEM_ID not in interactions.columns:
        raise FilterError(f"interactions have no {ITEM_ID} column")
    return evaluation.items.rows_with_ids(interactions.values_where(ITEM_ID, rows))


# --------------------------------------------------------------------------- public filter


@dataclass(frozen=True, slots=True)
class FilterExpression:
    """A parsed filter: immutable and hashable, so callers can parse once and cache it."""

    text: str
    expressions: tuple[Expression, ...]
    # Derived once at parse time, since a cached filter is evaluated on every request.
    placeholders: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)
    """Every parameter name the filter uses, in order of first use."""
    required_placeholders: tuple[str, ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    """Parameters that must have values: those of INCLUDE expressions."""
    uses_interactions: bool = dataclasses.field(init=False, repr=False, compare=False)
    """Whether evaluation needs the user's interactions (callers may skip loading them)."""

    def __post_init__(self) -> None:
        expressions = self.expressions
        every = (name for expression in expressions for name in expression.placeholders)
        required = (
            name
            for expression in expressions
            if expression.action is Action.INCLUDE
            for name in expression.placeholders
        )
        uses = any(e.dataset is Dataset.INTERACTIONS for e in expressions)
        object.__setattr__(self, "placeholders", tuple(dict.fromkeys(every)))
        object.__setattr__(self, "required_placeholders", tuple(dict.fromkeys(required)))
        object.__setattr__(self, "uses_interactions", uses)

    def __str__(self) -> str:
        return self.text

    def bind(self, values: FilterValues | None) -> dict[str, tuple[str, ...]]:
        """Parse and check ``filterValues`` against this filter's parameters."""
        given = dict(values or {})
        for name in self.required_placeholders:
            if name not in given:
                raise self._missing(name, given)
        unknown = sorted(set(given) - set(self.placeholders))
        if unknown:
            uses = ", ".join(f"${name}" for name in self.placeholders) or "no parameters"
            raise FilterValueError(
                f"filter values name {', '.join(unknown)}, which the filter does not use "
                f"(it uses {uses}); parameter names are case-sensitive",
                unknown[0],
            )
        return parse_filter_values(given)

    def _missing(self, name: str, given: Mapping[str, str]) -> FilterValueError:
        position = next(
            p.position
            for expression in self.expressions
            for p in placeholders_of(expression.condition)
            if p.name == name
        )
        near = [key for key in given if key.upper() == name.upper()]
        hint = f"; filter values have {near[0]!r}, but names are case-sensitive" if near else ""
        return FilterValueError(
            f"missing filter value for ${name} (used at position {position} in an INCLUDE "
            f'expression); pass filter values such as {{"{name}": "\\"value\\""}}{hint}',
            name,
            position=position,
        )

    @property
    def row_wise(self) -> bool:
        """Whether a user's exclusions are the union of what each of their rows excludes.

        True for a chain of EXCLUDE expressions without parameters: each Interactions
        expression then removes exactly the items of the rows it matches, whoever else's rows
        are evaluated alongside, so :meth:`excluding_rows` can run once over every user.
        """
        return not self.placeholders and all(e.action is Action.EXCLUDE for e in self.expressions)

    def excluding_rows(self, interactions: InteractionRows) -> Mask:
        """Rows (of any number of users) whose own item the Interactions expressions exclude.

        Items expressions are left out: they do not depend on the user, and
        ``allowed(items, None)`` covers them. Only for :attr:`row_wise` filters.
        """
        if not self.row_wise:
            raise FilterError(
                f"filter {self.text!r} is not a parameter-free chain of EXCLUDE expressions"
            )
        evaluation = _Evaluation(IndexedFrame(pd.DataFrame()), interactions, {})
        excluding = np.zeros(len(interactions), dtype=bool)
        for expression in self.expressions:
            if expression.dataset is Dataset.INTERACTIONS and len(interactions):
                excluding |= _condition_mask(
                    expression.condition, interactions, Dataset.INTERACTIONS, evaluation
                )
        return excluding

    def allowed(
        self,
        items: pd.DataFrame | IndexedFrame,
        user_interactions: InteractionRows | pd.DataFrame | None,
        values: FilterValues | None = None,
    ) -> Mask:
        """Boolean mask over ``items`` rows (by position, not index): True = may be recommended.

        ``items`` is best an :class:`IndexedFrame` built once per catalogue. ``user_interactions``
        holds only the current user's rows (None or empty for a user without history), best as
        :class:`InteractionRows`. EXCLUDE expressions whose parameters are not all given are
        skipped.
        """
        bound = self.bind(values)
        if isinstance(user_interactions, pd.DataFrame):
            user_interactions = InteractionRows.from_frame(user_interactions)
        evaluation = _Evaluation(
            items if isinstance(items, IndexedFrame) else IndexedFrame(items, reused=False),
            user_interactions,
            bound,
        )
        included: Mask | None = None
        excluded = np.zeros(len(items), dtype=bool)
        for expression in self.expressions:
            if not all(name in bound for name in expression.placeholders):
                continue
            matched = _matching_items(expression, evaluation)
            if expression.action is Action.EXCLUDE:
                excluded |= matched
            else:
                included = matched if included is None else included | matched
        if included is None:
            return ~excluded
        return included & ~excluded


def parse_filter(expression: str) -> FilterExpression:
    """Parse a Personalize filter expression; raise :class:`FilterError` if it is unusable."""
    return FilterExpression(expression, parse_expressions(expression))
