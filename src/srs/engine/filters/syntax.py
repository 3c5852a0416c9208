"""The syntax of Amazon Personalize filter expressions: tokens, a parser and the syntax tree.

The embedded engine must honour the same ``filter`` strings that a Personalize campaign takes, so
a team can move from one to the other without rewriting filters. Parsing is separate from
evaluation because a filter is parsed once (and its faults reported with their position) but
evaluated on every request.

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

All conditions of one expression use one dataset; chain expressions with ``|`` to combine them.
Unstructured textual item fields (``"textual": true`` in the Items schema, e.g. DESCRIPTION)
are rejected, as Personalize rejects them.

Not supported, with a clear :class:`FilterError`: ``IF CurrentUser`` clauses and the ``Users``
dataset (SRS has no user metadata), ``CurrentItem`` (related-items filters), ``Actions`` and
``UserID``/``ActionID`` targets.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from srs.data.schemas import ITEMS_SCHEMA
from srs.engine.filters.errors import FilterError, FilterSyntaxError

DEFAULT_EXCLUDE_LAUNCHED: Final = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")'

MAX_DISTINCT_FIELDS: Final = 5  # Personalize's limit per filter, across chained expressions
TEXTUAL_ITEM_FIELDS: Final = frozenset(
    str(field["name"]).upper() for field in ITEMS_SCHEMA["fields"] if field.get("textual")
)

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


def leaves(condition: Condition) -> Iterator[Membership | Comparison]:
    """The single-field conditions under ``condition``: what names fields and values."""
    if isinstance(condition, AllOf | AnyOf):
        for part in condition.conditions:
            yield from leaves(part)
    else:
        yield condition


def placeholders_of(condition: Condition) -> Iterator[Placeholder]:
    """Every ``$PARAMETER`` use under ``condition``, in order, repeats included."""
    for leaf in leaves(condition):
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
        names = tuple(dict.fromkeys(p.name for p in placeholders_of(self.condition)))
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


def unescape(quoted_body: str) -> str:
    """A quoted string's contents; filter values quote the way expressions do."""
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
                value = unescape(text[1:-1])
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
    conditions = list(leaves(condition))
    first = conditions[0].field
    for leaf in conditions[1:]:
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
        for leaf in leaves(expression.condition):
            fields.setdefault((leaf.field.dataset, leaf.field.name.upper()), leaf.field)
    if len(fields) > MAX_DISTINCT_FIELDS:
        names = ", ".join(str(field) for field in fields.values())
        raise FilterError(
            f"filter uses {len(fields)} distinct fields ({names}); Personalize allows at most "
            f"{MAX_DISTINCT_FIELDS} per filter"
        )


def parse_expressions(expression: str) -> tuple[Expression, ...]:
    """The ``|``-chained expressions of a filter; raise :class:`FilterError` if it is unusable."""
    if not isinstance(expression, str):
        raise FilterError(f"filter expression must be a string, not {type(expression).__name__}")
    expressions = _Parser(tokenize(expression)).parse_filter()
    _check_field_count(expressions)
    return expressions
