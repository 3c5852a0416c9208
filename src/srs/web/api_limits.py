"""The bounds ``/api/v1`` puts on query parameters beyond Personalize's own.

The handlers enforce them and the OpenAPI document publishes them; both import them from
here, so neither is the other's source.
"""

from __future__ import annotations

from srs.event_rules import MAX_ID_LENGTH

DEFAULT_HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 500
MAX_OFFSET = 1_000_000_000
MAX_FILTER_LENGTH = 2048
MAX_FILTER_VALUES = 5
MAX_FILTER_VALUE_LENGTH = 1000
# The longest filterValues a valid request needs: every entry at its limits, each character
# written as a \uXXXX escape, plus the quotes, colons and commas around them.
MAX_FILTER_VALUES_TEXT = 6 * MAX_FILTER_VALUES * (MAX_ID_LENGTH + MAX_FILTER_VALUE_LENGTH + 8)
