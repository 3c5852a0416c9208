"""Query strings: parsed like werkzeug's request.args, read-only, remembered per parser."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from srs.web.query import NO_PARAMS, QueryParser, parse_query


@pytest.mark.parametrize(
    "raw",
    [
        b"numResults=25",
        b"a=1&a=2&b=&c",
        b"x=%C3%A9+y&filter=EXCLUDE+ItemID+WHERE+Items.CATEGORY+IN+(%24CATS)",
        b"filterValues=%7B%22CATS%22%3A%22%5C%22Storage%5C%22%22%7D",
        b"numResults=%FF",
        b"k=v;w=z&=empty-name",
    ],
)
def test_parses_as_werkzeug_request_args_with_the_first_value_winning(raw: bytes) -> None:
    args: MultiDict[str, str] = Request(
        EnvironBuilder(query_string=raw.decode("latin-1")).get_environ()
    ).args
    assert dict(parse_query(raw)) == {name: args[name] for name in args}


def test_bytes_that_are_not_utf8_stay_percent_encoded() -> None:
    assert parse_query(b"numResults=\xff")["numResults"] == "%FF"


def test_results_are_read_only() -> None:
    params = parse_query(b"numResults=25")
    with pytest.raises(TypeError):
        params["numResults"] = "500"  # type: ignore[index]


def test_the_parser_remembers_recent_query_strings_within_its_bound() -> None:
    parser = QueryParser(memo_size=2)
    first = parser(b"numResults=25")
    assert parser(b"numResults=25") is first
    parser(b"numResults=3")
    parser(b"numResults=4")
    again = parser(b"numResults=25")
    assert again is not first and again == first
    assert parser(b"") is NO_PARAMS
