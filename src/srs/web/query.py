"""Query strings as read-only dicts, parsed the way werkzeug parses ``request.args``.

Why not ``request.args``: the API reads each parameter once, and werkzeug's ``MultiDict``
with a proxy lookup per parameter cost a recommendation request more than its score lookup.
Why remember parses: clients send a handful of query strings over and over
(``numResults=25``), so each app keeps the latest few, parsed, in a bounded memo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401 (registers the "werkzeug.url_quote" codec error handler)

QUERY_MEMO_SIZE = 256
NO_PARAMS: Mapping[str, str] = MappingProxyType({})


def parse_query(raw: bytes) -> Mapping[str, str]:
    """``raw`` as name -> value, the first value of a repeated name winning as with
    ``request.args``; bytes that are not UTF-8 stay percent-encoded, as werkzeug leaves them,
    so a bad value reaches validation (and a 400) instead of failing to decode (a 500)."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(
        raw.decode(errors="werkzeug.url_quote"), keep_blank_values=True, errors="werkzeug.url_quote"
    ):
        params.setdefault(name, value)
    return MappingProxyType(params)


class QueryParser:
    """:func:`parse_query` with a memo of the latest ``memo_size`` query strings; the results
    are shared between requests, hence read-only."""

    def __init__(self, memo_size: int = QUERY_MEMO_SIZE) -> None:
        self.parse: Callable[[bytes], Mapping[str, str]] = lru_cache(maxsize=memo_size)(parse_query)

    def __call__(self, raw: bytes) -> Mapping[str, str]:
        return self.parse(raw) if raw else NO_PARAMS
