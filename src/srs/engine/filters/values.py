"""GetRecommendations' ``filterValues``: the values a filter's ``$PARAMETER`` placeholders take.

Each arrives as parameter name (case-sensitive) to a string of double-quoted, comma-separated
values, ``{"CATEGORY": '"Storage","Compute"'}``, quoted the way expressions quote strings. They
change with every request while the filter stays parsed and cached, so they are parsed apart
from it, with errors that point at the character where a value goes wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, TypeAlias

from srs.engine.filters.errors import FilterValueError
from srs.engine.filters.syntax import unescape

FilterValues: TypeAlias = Mapping[str, str]

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
        values.append(unescape(match.group(1)))
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
