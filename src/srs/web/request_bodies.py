"""The JSON bodies ``/api/v1`` accepts, and the recommendations query, each defined once as a
msgspec Struct.

The OpenAPI document's request schemas are generated from these definitions and the
handlers check bodies against them, so what is published is what is enforced. The check
walks the definitions itself instead of letting msgspec decode, so that every problem keeps
the API's own message and status: 400 for a malformed body (not an object, a wrong type, a
missing or unknown field), 422 for a well-formed value outside its range.

The recommendations route, the hottest, reads its query by hand; :func:`check_query` is the
definition's own reading, and the tests hold the two to the same answers.

In a body every checked string is an ID, and an ID of spaces counts as blank. Numbers are
checked for type and finiteness here; their ranges depend on the clock or on the event's
type, so the rules that judge them (:mod:`srs.event_rules`) are passed in by the caller,
while the bounds the document shows come from the same constants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from msgspec import inspect as types

from srs.engine.request_limits import DEFAULT_RESULTS, MAX_RESULTS
from srs.event_rules import (
    EARLIEST_TIMESTAMP,
    MAX_ABS_EVENT_VALUE,
    MAX_ID_LENGTH,
    RATING_MAX,
    RATING_MIN,
    id_too_long,
    is_blank_id,
)
from srs.events import MAX_EVENTS_PER_CALL, MIN_EVENTS_PER_CALL
from srs.serving.service import MAX_RANKING_INPUTS
from srs.web.api_limits import MAX_FILTER_LENGTH, MAX_FILTER_VALUES
from srs.web.errors import ApiError

NOUN = "noun"
"""A list's ``Meta.extra`` key: what its entries are called in messages."""
IGNORED = "ignored"
"""A field's ``Meta.extra`` key: clients send it for attribution; it is accepted unchecked."""
READER = "reader"
"""A query parameter's ``Meta.extra`` key: its text goes as it is to the reader named here,
which refuses what it cannot read; the bounds the document shows are that reader's."""
_ECHO_LIMIT = 40

Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
_IGNORED = Meta(description="Accepted and ignored.", extra={IGNORED: True})


class Event(Struct, forbid_unknown_fields=True):
    """One PutEvents eventList entry."""

    eventType: Annotated[Id, Meta(examples=["liked", "not_interested", "launched", "rated"])]
    itemId: Id
    sentAt: Annotated[
        float,
        Meta(
            ge=EARLIEST_TIMESTAMP,
            description=(
                "Unix seconds, whole or fractional: from 2000-01-01 to one day after the"
                " server's clock (a value in milliseconds is refused)."
            ),
        ),
    ]
    eventValue: (
        Annotated[
            float,
            Meta(
                ge=-MAX_ABS_EVENT_VALUE,
                le=MAX_ABS_EVENT_VALUE,
                description=(
                    f"A rating from {RATING_MIN:g} to {RATING_MAX:g} for 'rated' events, a"
                    " finite weight otherwise; 3.0 (neutral) when absent."
                ),
            ),
        ]
        | UnsetType
    ) = UNSET
    eventId: Annotated[str, _IGNORED] | UnsetType = UNSET
    recommendationId: Annotated[str, _IGNORED] | UnsetType = UNSET
    impression: Annotated[list[str], _IGNORED] | UnsetType = UNSET
    properties: Annotated[str, _IGNORED] | UnsetType = UNSET


class RankingRequest(Struct, forbid_unknown_fields=True):
    """POST /rankings."""

    userId: Id
    inputList: Annotated[
        list[Id], Meta(min_length=1, max_length=MAX_RANKING_INPUTS, extra={NOUN: "item IDs"})
    ]


class PutEventsRequest(Struct, forbid_unknown_fields=True):
    """POST /events."""

    userId: Id
    sessionId: Id
    eventList: Annotated[
        list[Event],
        Meta(
            min_length=MIN_EVENTS_PER_CALL, max_length=MAX_EVENTS_PER_CALL, extra={NOUN: "events"}
        ),
    ]


BODIES: tuple[type[Struct], ...] = (RankingRequest, Event, PutEventsRequest)


class RecommendationsQuery(Struct):
    """GET /users/{userId}/recommendations' query parameters."""

    numResults: Annotated[
        int, Meta(ge=1, le=MAX_RESULTS, description="How many items to return.")
    ] = DEFAULT_RESULTS
    filter: (
        Annotated[
            str, Meta(max_length=MAX_FILTER_LENGTH, description="A Personalize filter expression.")
        ]
        | UnsetType
    ) = UNSET
    filterArn: (
        Annotated[
            str,
            Meta(
                max_length=MAX_ID_LENGTH,
                description=(
                    "A named filter (srs filters create), as an ARN ending in "
                    "filter/NAME; instead of filter. An unknown name is a 404."
                ),
                extra={READER: "named_filter_expression"},
            ),
        ]
        | UnsetType
    ) = UNSET
    filterValues: (
        Annotated[
            str,
            Meta(
                description=(
                    "JSON object of placeholder values, e.g. "
                    '{"CATEGORY": "\\"Compute\\""}; at most '
                    f"{MAX_FILTER_VALUES} entries."
                ),
                extra={READER: "parse_filter_values"},
            ),
        ]
        | UnsetType
    ) = UNSET


def query_parameters(query: type[Struct]) -> dict[str, dict[str, Any]]:
    """OpenAPI's query parameter objects for the fields of ``query``, by name."""
    _, components = msgspec.json.schema_components([query])
    parameters = {}
    for name, field in components[query.__name__]["properties"].items():
        field = dict(field)
        description = field.pop("description")
        parameters[name] = {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": field,
        }
    return parameters


NumberRule = Callable[[float, Mapping[str, Any]], str | None]
"""Why a number is refused given the fields checked before it, or None."""


def schemas(ref_template: str) -> dict[str, Any]:
    """The OpenAPI component schemas of :data:`BODIES`, under their class names; without the
    title and description msgspec takes from the class, as the operations describe them."""
    _, components = msgspec.json.schema_components(BODIES, ref_template=ref_template)
    return {name: _bare(schema) for name, schema in components.items()}


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in {"title", "description"}}


@dataclass(frozen=True, slots=True)
class _Field:
    """One checked field of a body, read once from its definition."""

    name: str
    kind: type[types.Type]
    required: bool
    max_length: int | None = None
    noun: str = ""
    low: int = 0
    high: int | None = None
    entry: type[Struct] | None = None
    """A list's entry definition; None for a list of IDs."""


@dataclass(frozen=True, slots=True)
class _Plan:
    names: frozenset[str]
    fields: tuple[_Field, ...]


@cache
def _plan(body: type[Struct]) -> _Plan:
    """What :func:`check_object` checks of ``body``, worked out once per definition."""
    info = _fields(body)
    fields = []
    for field in info.fields:
        kind, extra = _unwrap(field.type)
        if extra.get(IGNORED):
            continue
        if isinstance(kind, types.ListType):
            entry, _ = _unwrap(kind.item_type)
            fields.append(
                _Field(
                    field.encode_name,
                    types.ListType,
                    field.required,
                    max_length=entry.max_length if isinstance(entry, types.StrType) else None,
                    noun=extra[NOUN],
                    low=kind.min_length or 0,
                    high=kind.max_length,
                    entry=entry.cls if isinstance(entry, types.StructType) else None,
                )
            )
        elif isinstance(kind, types.StrType):
            fields.append(_Field(field.encode_name, types.StrType, field.required, kind.max_length))
        else:
            assert isinstance(kind, types.FloatType)
            fields.append(_Field(field.encode_name, types.FloatType, field.required))
    return _Plan(frozenset(field.encode_name for field in info.fields), tuple(fields))


def _unwrap(kind: types.Type) -> tuple[types.Type, Mapping[str, Any]]:
    """The type under its metadata, with the metadata's ``extra`` (msgspec already leaves
    ``UNSET`` out of an optional field's type)."""
    if isinstance(kind, types.Metadata):
        return kind.type, kind.extra or {}
    return kind, {}


def check_object(
    raw: Mapping[str, Any],
    body: type[Struct],
    where: str,
    rules: Mapping[str, NumberRule] | None = None,
) -> dict[str, Any]:
    """The fields of ``raw`` that ``body`` defines and does not ignore, checked in the order
    it defines them; ``rules`` judge number fields by name once their type is right."""
    plan = _plan(body)
    if not plan.names.issuperset(raw):
        unknown = sorted(set(raw) - plan.names)
        raise ApiError(400, f"{where}: unknown field(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for field in plan.fields:
        name = field.name
        if field.kind is types.ListType:
            values[name] = _check_list(raw.get(name), field, where, rules)
            continue
        if name not in raw:
            if field.required:
                raise ApiError(400, f"{where}: missing required field {name}")
            continue
        value = raw[name]
        if field.kind is types.StrType:
            if not isinstance(value, str):
                raise ApiError(400, f"{where}.{name} must be a string, got {type(value).__name__}")
            values[name] = check_id(f"{where}.{name}", value, field.max_length)
            continue
        number = _check_number(value, where, name)
        rule = None if rules is None else rules.get(name)
        problem = None if rule is None else rule(number, values)
        if problem is not None:
            raise ApiError(422, f"{where}.{name} {problem} (value {number!r})")
        values[name] = number
    return values


def check_query(params: Mapping[str, str], query: type[Struct]) -> dict[str, Any]:
    """The query's parameters by name, checked as ``query`` defines them: an integer's
    default when it is absent or blank, None for an absent or empty text. A text with a
    reader is handed over unchecked."""
    values: dict[str, Any] = {}
    for field in _fields(query).fields:
        name = field.encode_name
        kind, extra = _unwrap(field.type)
        if isinstance(kind, types.IntType):
            assert kind.ge is not None and kind.le is not None
            values[name] = query_int(params, name, field.default, kind.ge, kind.le)
            continue
        assert isinstance(kind, types.StrType)
        text = params.get(name) or None
        limit = None if READER in extra else kind.max_length
        if text is not None and limit is not None and len(text) > limit:
            raise ApiError(422, f"{name} is longer than {limit} characters")
        values[name] = text
    return values


@cache
def _fields(body: type[Struct]) -> types.StructType:
    info = types.type_info(body)
    assert isinstance(info, types.StructType)
    return info


def echo(raw: str) -> str:
    """A user-sent value quoted in a message, cut short so errors stay small."""
    return repr(raw if len(raw) <= _ECHO_LIMIT else raw[:_ECHO_LIMIT] + "…")


def query_int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name} must be an integer, got {echo(raw)}") from None
    if not low <= value <= high:
        raise ApiError(422, f"query parameter {name} must be between {low} and {high}, got {value}")
    return value


def check_entry(
    item: Any, body: type[Struct], at: str, rules: Mapping[str, NumberRule] | None = None
) -> dict[str, Any]:
    """One object of a list, as :func:`check_object` checks it."""
    if not isinstance(item, dict):
        raise ApiError(400, f"{at} must be an object, got {type(item).__name__}")
    return check_object(item, body, at, rules)


def check_id(name: str, value: str, max_length: int | None = MAX_ID_LENGTH) -> str:
    """An ID given in the path or a body: not blank, and not longer than ``max_length``."""
    if is_blank_id(value):
        raise ApiError(422, f"{name} must not be blank")
    if id_too_long(value, max_length):
        raise ApiError(422, f"{name} is longer than {max_length} characters")
    return value


def _check_number(value: Any, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{where}.{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ApiError(422, f"{where}.{name} must be a finite number")
    return float(value)


def _check_list(
    value: Any, field: _Field, where: str, rules: Mapping[str, NumberRule] | None
) -> list[Any]:
    name, noun = field.name, field.noun
    if not isinstance(value, list):
        raise ApiError(400, f"{where}.{name} must be an array of {noun}")
    if len(value) < field.low or (field.high is not None and len(value) > field.high):
        raise ApiError(
            422, f"{name} must hold {field.low} to {field.high} {noun}, got {len(value)}"
        )
    if field.entry is not None:
        return [
            check_entry(item, field.entry, f"{name}[{index}]", rules)
            for index, item in enumerate(value)
        ]
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ApiError(400, f"{name}[{index}] must be a string")
        if is_blank_id(item) or id_too_long(item, field.max_length):
            check_id(f"{name}[{index}]", item, field.max_length)
    return value
