"""Amazon Personalize filter expressions, parsed once and evaluated on every request.

The embedded engine must honour the same ``filter`` strings that a Personalize campaign takes, so
a team can move from one to the other without rewriting filters. This module is a tokenizer and a
recursive-descent parser for the subset below, and a vectorised evaluator that turns a parsed
filter into a boolean mask over the item catalogue.

Use: ``parse_filter(text)`` once per filter (the result is immutable and hashable, so it can be
cached), ``IndexedFrame(items)`` once per catalogue, then ``filter.allowed(table,
user_interactions, filter_values)`` on every request, with the user's rows as
:class:`InteractionRows` (numpy columns; a DataFrame is accepted and converted).

Grammar (keywords, dataset names and field names are case-insensitive, as in Personalize's own
examples such as ``EXCLUDE itemId WHERE INTERACTIONS.EVENT_TYPE in ("Purchase")``)::

    filter      := expression ("|" expression)*
    expression  := (INCLUDE | EXCLUDE) ItemID WHERE disjunction
    disjunction := conjunction (OR conjunction)*          -- AND binds tighter than OR
    conjunction := condition (AND condition)*
    condition   := field (IN | NOT IN) "(" value ("," value)* ")"
                 | field ("=" | "<" | "<=" | ">" | ">=") (number | $PARAMETER)
    field       := (Items | Interactions) "." NAME
    value       := "double-quoted string" | $PARAMETER

Semantics follow Personalize's documentation:

* ``Items.<field>`` tests item metadata columns. Text matches exactly (case-sensitive); the
  comparison operators need a numeric column; boolean columns cannot be filtered; unstructured
  textual fields (``"textual": true`` in the Items schema, e.g. DESCRIPTION) are rejected.
* ``Interactions.<field>`` tests the *current user's* interactions: an item matches when one of
  the user's interaction rows for it meets the whole condition. EVENT_TYPE matches ignore case and
  ``"*"`` stands for every event type. Personalize itself only filters on EVENT_TYPE; SRS also
  accepts the other interaction columns (EVENT_VALUE, TIMESTAMP) as an extension.
* All conditions of one expression use one dataset; chain expressions with ``|`` to combine them.
* Chained expressions are evaluated independently and combined as Personalize documents:
  ``INCLUDE A | INCLUDE B`` keeps items in A or B, ``EXCLUDE C | EXCLUDE D`` drops items in C or
  D, and a mix keeps ``(A or B) - (C or D)`` whatever the order.
* Filter values arrive as GetRecommendations' ``filterValues``: parameter name (case-sensitive)
  to a string of double-quoted, comma-separated values: ``{"CATEGORY": '"Storage","Compute"'}``.
  An INCLUDE expression needs all its parameters; an EXCLUDE expression whose parameters are not
  all given is skipped, exactly as Personalize does.

Not supported, with a clear :class:`FilterError`: ``IF CurrentUser`` clauses and the ``Users``
dataset (SRS has no user metadata), ``CurrentItem`` (related-items filters), ``Actions`` and
``UserID``/``ActionID`` targets. Multi-valued categorical fields ("a|b") match as whole strings.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.extensions import ExtensionDtype

from srs.data.schemas import ITEMS_SCHEMA
from srs.errors import SRSError

DEFAULT_EXCLUDE_LAUNCHED: Final = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")'

INTERACTION_COLUMNS: Final = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP")
ITEM_ID: Final = "ITEM_ID"
EVENT_TYPE: Final = "EVENT_TYPE"
ANY_EVENT_TYPE: Final = "*"
MAX_DISTINCT_FIELDS: Final = 5  # Personalize's limit per filter, across chained expressions
TEXTUAL_ITEM_FIELDS: Final = frozenset(
    str(field["name"]).upper() for field in ITEMS_SCHEMA["fields"] if field.get("textual")
)

Mask: TypeAlias = npt.NDArray[np.bool_]
ColumnType: TypeAlias = np.dtype[Any] | ExtensionDtype
FilterValues: TypeAlias = Mapping[str, str]


class FilterError(SRSError, ValueError):
    """A filter that cannot be used; ``position`` is the 1-based offset in the expression."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class FilterSyntaxError(FilterError):
    """The expression does not follow the grammar at ``position``."""

    def __init__(self, position: int, expected: str, found: str, hint: str = "") -> None:
        message = f"filter syntax error at position {position}: expected {expected}, found {found}"
        super().__init__(f"{message} ({hint})" if hint else message, position)
        self.expected = expected
        self.found = found


class FilterValueError(FilterError):
    """The filter values do not fit the filter.

    ``parameter`` names the placeholder concerned; ``position`` is where it appears in the
    expression (when that is the point); ``value_position`` is the 1-based character in that
    parameter's value string where a malformed value goes wrong (None otherwise).
    """

    def __init__(
        self,
        message: str,
        parameter: str,
        *,
        position: int | None = None,
        value_position: int | None = None,
    ) -> None:
        super().__init__(message, position)
        self.parameter = parameter
        self.value_position = value_position


# --------------------------------------------------------------------------- syntax tree


class Action(enum.Enum):
    INCLUDE = "INCLUDE"
    EXCLUDE = "EXCLUDE"


class Dataset(enum.Enum):
    ITEMS = "Items"
    INTERACTIONS = "Interactions"


class ComparisonOperator(enum.Enum):
    EQ = "="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True, slots=True)
class FieldRef:
    dataset: Dataset
    name: str  # as written; resolved against the frame's columns at evaluation time
    position: int

    def __str__(self) -> str:
        return f"{self.dataset.value}.{self.name}"


@dataclass(frozen=True, slots=True)
class StringValue:
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class NumberValue:
    number: float
    position: int


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Membership:
    """``field IN (...)``, or ``NOT IN`` when ``negated``."""

    field: FieldRef
    values: tuple[StringValue | Placeholder, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    field: FieldRef
    operator: ComparisonOperator
    value: NumberValue | Placeholder


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


Condition: TypeAlias = Membership | Comparison | AllOf | AnyOf


def _leaves(condition: Condition) -> Iterator[Membership | Comparison]:
    if isinstance(condition, AllOf | AnyOf):
        for part in condition.conditions:
            yield from _leaves(part)
    else:
        yield condition


def _placeholders_of(condition: Condition) -> Iterator[Placeholder]:
    for leaf in _leaves(condition):
        values = leaf.values if isinstance(leaf, Membership) else (leaf.value,)
        yield from (value for value in values if isinstance(value, Placeholder))


@dataclass(frozen=True, slots=True)
class Expression:
    """One ``INCLUDE``/``EXCLUDE`` expression of a ``|`` chain."""

    action: Action
    dataset: Dataset
    condition: Condition
    position: int
    placeholders: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)
    """Parameter names in order of first use; worked out once, read on every request."""

    def __post_init__(self) -> None:
        names = tuple(dict.fromkeys(p.name for p in _placeholders_of(self.condition)))
        object.__setattr__(self, "placeholders", names)


# --------------------------------------------------------------------------- tokenizer


class TokenKind(enum.Enum):
    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    PARAMETER = "parameter"
    OPERATOR = "operator"
    PUNCTUATION = "punctuation"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # exactly as written
    value: str  # decoded: string contents, parameter name without "$", word in upper case
    position: int  # 1-based

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is TokenKind.END:
            return "end of expression"
        if self.kind is TokenKind.STRING:
            return f"string {self.text}"
        if self.kind is TokenKind.NUMBER:
            return f"number {self.text}"
        if self.kind is TokenKind.PARAMETER:
            return f"parameter {self.text}"
        return f'"{self.text}"'

    def is_word(self, *words: str) -> bool:
        return self.kind is TokenKind.WORD and self.value in words

    def is_punctuation(self, mark: str) -> bool:
        return self.kind is TokenKind.PUNCTUATION and self.text == mark


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<parameter>\$[A-Za-z0-9_]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<operator><=|>=|=|<|>)
  | (?P<punctuation>[.,()|])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(quoted_body: str) -> str:
    return _ESCAPE.sub(r"\1", quoted_body)


def _scan_error(expression: str, offset: int) -> FilterSyntaxError:
    char = expression[offset]
    position = offset + 1
    if char == '"':
        return FilterSyntaxError(
            position,
            'a closing "',
            "end of expression",
            "unterminated string: the quote at this position is never closed",
        )
    if char == "'":
        return FilterSyntaxError(
            position, "a double-quoted string", '"\'"', 'Personalize quotes values with "'
        )
    if char == "$":
        return FilterSyntaxError(
            position,
            "a parameter name after $ (letters, digits, _)",
            f'"{expression[offset : offset + 2]}"',
        )
    return FilterSyntaxError(position, "a keyword, field, value or operator", f'"{char}"')


def tokenize(expression: str) -> list[Token]:
    """Split ``expression`` into tokens, the last one END; raise at the first bad character."""
    tokens: list[Token] = []
    offset = 0
    while offset < len(expression):
        match = _TOKEN.match(expression, offset)
        if match is None:
            raise _scan_error(expression, offset)
        kind_name = match.lastgroup
        text = match.group()
        if kind_name != "space":
            kind = TokenKind(kind_name)
            if kind is TokenKind.STRING:
                value = _unescape(text[1:-1])
            elif kind is TokenKind.PARAMETER:
                value = text[1:]
            elif kind is TokenKind.WORD:
                value = text.upper()
            else:
                value = text
            tokens.append(Token(kind, text, value, offset + 1))
        offset = match.end()
    tokens.append(Token(TokenKind.END, "", "", len(expression) + 1))
    return tokens


# --------------------------------------------------------------------------- parser

_DATASETS: Final = {"ITEMS": Dataset.ITEMS, "INTERACTIONS": Dataset.INTERACTIONS}
_UNSUPPORTED_DATASETS: Final = {
    "USERS": "the Users dataset is not supported: SRS keeps no user metadata",
    "CURRENTUSER": "CurrentUser conditions are not supported: SRS keeps no user metadata",
    "CURRENTITEM": "CurrentItem applies only to related-items recommendations, which SRS "
    "filters do not support",
    "ACTIONS": "the Actions dataset is not supported: SRS recommends items, not actions",
    "ACTION_INTERACTIONS": "the Action interactions dataset is not supported: SRS recommends "
    "items, not actions",
}
_COMPARISONS: Final = {op.value: op for op in ComparisonOperator}
_FIELD_EXPECTED: Final = "a field such as Items.CATEGORY or Interactions.EVENT_TYPE"
_AFTER_FIELD_EXPECTED: Final = "IN, NOT IN or a comparison operator (=, <, <=, >, >=)"
_AFTER_CONDITION_EXPECTED: Final = "AND, OR, | or end of expression"


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self._tokens = tokens
        self._index = 0

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        if token.kind is not TokenKind.END:
            self._index += 1
        return token

    def _fail(self, expected: str, hint: str = "") -> FilterSyntaxError:
        token = self._peek()
        return FilterSyntaxError(token.position, expected, token.describe(), hint)

    def _expect_word(self, word: str) -> Token:
        if not self._peek().is_word(word.upper()):
            raise self._fail(word)
        return self._advance()

    def _expect_punctuation(self, mark: str) -> Token:
        if not self._peek().is_punctuation(mark):
            raise self._fail(f'"{mark}"')
        return self._advance()

    def parse_filter(self) -> tuple[Expression, ...]:
        expressions = [self._expression()]
        while self._peek().is_punctuation("|"):
            self._advance()
            expressions.append(self._expression())
        token = self._peek()
        if token.is_word("IF"):
            raise FilterError(
                f"IF at position {token.position} tests CurrentUser fields of a Users dataset, "
                "which SRS does not have; remove the IF clause",
                token.position,
            )
        if token.kind is not TokenKind.END:
            raise self._fail(_AFTER_CONDITION_EXPECTED)
        return tuple(expressions)

    def _expression(self) -> Expression:
        start = self._peek()
        if start.is_word("INCLUDE", "EXCLUDE"):
            action = Action(start.value)
        else:
            raise self._fail("INCLUDE or EXCLUDE")
        self._advance()
        target = self._peek()
        if target.is_word("USERID", "ACTIONID"):
            raise FilterError(
                f"{target.text} at position {target.position} is not supported: SRS filters "
                "items, so write ItemID",
                target.position,
            )
        self._expect_word("ItemID")
        self._expect_word("WHERE")
        condition = self._disjunction()
        return Expression(action, _single_dataset(condition), condition, start.position)

    def _disjunction(self) -> Condition:
        parts = [self._conjunction()]
        while self._peek().is_word("OR"):
            self._advance()
            parts.append(self._conjunction())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def _conjunction(self) -> Condition:
        parts: list[Condition] = [self._condition()]
        while self._peek().is_word("AND"):
            self._advance()
            parts.append(self._condition())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _condition(self) -> Condition:
        field = self._field()
        token = self._peek()
        if token.is_word("IN"):
            self._advance()
            return Membership(field, self._value_list(), negated=False)
        if token.is_word("NOT"):
            self._advance()
            self._expect_word("IN")
            return Membership(field, self._value_list(), negated=True)
        if token.kind is TokenKind.OPERATOR:
            self._advance()
            return Comparison(field, _COMPARISONS[token.text], self._scalar())
        raise self._fail(_AFTER_FIELD_EXPECTED)

    def _field(self) -> FieldRef:
        token = self._peek()
        if token.kind is not TokenKind.WORD:
            raise self._fail(_FIELD_EXPECTED)
        _reject_unsupported_dataset(token)
        dataset = _DATASETS.get(token.value)
        if dataset is None:
            raise self._fail(_FIELD_EXPECTED, "datasets are Items and Interactions")
        self._advance()
        self._expect_punctuation(".")
        name = self._peek()
        if name.kind is not TokenKind.WORD:
            raise self._fail(f"a field name after {token.text}.")
        self._advance()
        if dataset is Dataset.ITEMS and name.value in TEXTUAL_ITEM_FIELDS:
            raise FilterError(
                f"{token.text}.{name.text} at position {token.position} is unstructured text; "
                "Personalize cannot filter on textual item fields",
                token.position,
            )
        return FieldRef(dataset, name.text, token.position)

    def _value_list(self) -> tuple[StringValue | Placeholder, ...]:
        token = self._peek()
        if token.kind is TokenKind.WORD:
            _reject_unsupported_dataset(token)
        if not token.is_punctuation("("):
            raise self._fail('"(" to open the list of values')
        self._advance()
        values = [self._list_value()]
        while self._peek().is_punctuation(","):
            self._advance()
            values.append(self._list_value())
        if not self._peek().is_punctuation(")"):
            raise self._fail('"," or ")"')
        self._advance()
        return tuple(values)

    def _list_value(self) -> StringValue | Placeholder:
        token = self._peek()
        if token.kind is TokenKind.STRING:
            self._advance()
            return StringValue(token.value, token.position)
        if token.kind is TokenKind.PARAMETER:
            self._advance()
            return Placeholder(token.value, token.position)
        hint = (
            'IN compares text: quote numbers too, as in ("10")'
            if token.kind is TokenKind.NUMBER
            else ""
        )
        raise self._fail("a double-quoted value or $PARAMETER", hint)

    def _scalar(self) -> NumberValue | Placeholder:
        token = self._peek()
        if token.kind is TokenKind.NUMBER:
            self._advance()
            return NumberValue(float(token.text), token.position)
        if token.kind is TokenKind.PARAMETER:
            self._advance()
            return Placeholder(token.value, token.position)
        if token.kind is TokenKind.WORD:
            _reject_unsupported_dataset(token)
        hint = (
            "comparison operators test numbers; use IN (...) for text"
            if token.kind is TokenKind.STRING
            else ""
        )
        raise self._fail("a number or $PARAMETER", hint)


def _reject_unsupported_dataset(token: Token) -> None:
    reason = _UNSUPPORTED_DATASETS.get(token.value)
    if reason is not None:
        raise FilterError(f"{token.text} at position {token.position}: {reason}", token.position)


def _single_dataset(condition: Condition) -> Dataset:
    """Personalize lets AND/OR chain only fields of the first condition's dataset."""
    leaves = list(_leaves(condition))
    first = leaves[0].field
    for leaf in leaves[1:]:
        if leaf.field.dataset is not first.dataset:
            raise FilterError(
                f"{leaf.field} at position {leaf.field.position} cannot join {first} in one "
                f"expression: one expression uses one dataset; chain another expression with |",
                leaf.field.position,
            )
    return first.dataset


def _check_field_count(expressions: Sequence[Expression]) -> None:
    fields: dict[tuple[Dataset, str], FieldRef] = {}
    for expression in expressions:
        for leaf in _leaves(expression.condition):
            fields.setdefault((leaf.field.dataset, leaf.field.name.upper()), leaf.field)
    if len(fields) > MAX_DISTINCT_FIELDS:
        names = ", ".join(str(field) for field in fields.values())
        raise FilterError(
            f"filter uses {len(fields)} distinct fields ({names}); Personalize allows at most "
            f"{MAX_DISTINCT_FIELDS} per filter"
        )


# --------------------------------------------------------------------------- filter values

_QUOTED_VALUE = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*', re.DOTALL)
_A_VALUE: Final = "a double-quoted value"
_VALUES_EXAMPLE = 'write each value in double quotes, separated by commas, e.g. "Storage","Compute"'


def parse_filter_value(parameter: str, text: str) -> tuple[str, ...]:
    """Split one ``filterValues`` entry, e.g. ``'"Storage","Compute"'``, into its values."""
    if not isinstance(text, str):
        raise FilterValueError(
            f"filter value for ${parameter} must be a string ({_VALUES_EXAMPLE}), "
            f"not {type(text).__name__}",
            parameter,
        )
    values: list[str] = []
    offset = 0
    while True:
        match = _QUOTED_VALUE.match(text, offset)
        if match is None:
            raise _malformed_value(parameter, text, offset, _A_VALUE)
        values.append(_unescape(match.group(1)))
        offset = match.end()
        if offset == len(text):
            return tuple(values)
        if text[offset] != ",":
            raise _malformed_value(parameter, text, offset, '"," or end of value')
        offset += 1


def _malformed_value(parameter: str, text: str, offset: int, expected: str) -> FilterValueError:
    while offset < len(text) and text[offset].isspace():
        offset += 1
    if offset >= len(text):
        found = "end of value"
    elif text[offset] == '"' and expected == _A_VALUE:
        found = 'a " that is never closed'
    elif text[offset] == '"':
        found = 'another quoted value (a "," is missing)'
    else:
        found = f'"{text[offset]}"'
    return FilterValueError(
        f"filter value for ${parameter} is malformed at character {offset + 1} of {text!r}: "
        f"expected {expected}, found {found}; {_VALUES_EXAMPLE}",
        parameter,
        value_position=offset + 1,
    )


def parse_filter_values(values: FilterValues) -> dict[str, tuple[str, ...]]:
    """Parse a whole ``filterValues`` mapping; raise :class:`FilterValueError` on a fault."""
    return {name: parse_filter_value(name, text) for name, text in values.items()}


# --------------------------------------------------------------------------- evaluation


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
        """Cost: one pass over the few wanted codes, then one vectorised gather over the rows."""
        hits = np.zeros(len(self.distinct) + 1, dtype=bool)  # the last slot stays False
        hits[np.fromiter(codes, dtype=np.intp)] = True
        return hits[self.codes]

    def rows_with_values(self, values: Iterable[object]) -> Mask:
        return self.rows_with_codes(
            self.code_of[value] for value in values if value in self.code_of
        )


class IndexedFrame:
    """A frame encoded once for repeated filtering.

    Testing 10,000 item strings with ``isin`` on every request costs most of a millisecond. Encoding
    each text column once (codes plus a map from distinct value to code) turns a later IN test into
    a few dictionary probes and one gather, and matching "items this user launched" into probes
    for a handful of ids. Build one per catalogue, ``IndexedFrame(items)``, and pass it to
    :meth:`FilterExpression.allowed` on every request; encodings are made on first use and kept,
    so the frame must not change afterwards.

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
        return _is_numeric_dtype(self._dtype(column))

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


def _is_numeric_dtype(dtype: ColumnType) -> bool:
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
    on them (about 0.5 ms against tens of microseconds). A user has a handful of rows, so plain
    numpy columns serve, and a history that keeps its text columns as codes hands them over as
    slices, without copying.
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
            elif _is_numeric_dtype(series.dtype):
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
        for leaf in _leaves(expression.condition):  # still report misspelt fields
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
            for p in _placeholders_of(expression.condition)
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
    if not isinstance(expression, str):
        raise FilterError(f"filter expression must be a string, not {type(expression).__name__}")
    expressions = _Parser(tokenize(expression)).parse_filter()
    _check_field_count(expressions)
    return FilterExpression(expression, expressions)
