"""What goes wrong with a filter, shared by the parser, the values parser and the evaluator.

Callers (the web layer, named filters) answer every :class:`FilterError` the same way,
whichever stage found the fault, so all three raise one family; the subclasses carry where
the fault is, for messages that point at it.
"""

from __future__ import annotations

from srs.errors import SRSError


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
