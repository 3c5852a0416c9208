"""The JSON bodies of the Personalize protocol's operations, each defined once as a msgspec
Struct with the field names botocore sends, and the readers that check a body's fields as
its definition says.

A handler reads the fields it needs in its own order through the readers of its definition
(:func:`readers`), since some rules span fields (a campaign's recipe says whether ``userId``
or ``itemId`` is needed) and the first problem found is the one reported. Each message is
Personalize's kind ("userId is required"), not ``/api/v1``'s: the protocol answers a team's
boto3 code as AWS would. A refused value raises :class:`ApiError` with status 400, which the
protocol answers as ``InvalidInputException``.

An ID with ``min_length`` may not be blank when given; one without may be empty, where an
empty value means "not given" (an anonymous PutEvents, a popularity campaign's user).
PutEvents' entries are checked by :mod:`srs.web.request_bodies`' walker, as ``/api/v1``'s are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any, Literal

from msgspec import NODEFAULT, UNSET, Meta, Struct, UnsetType
from msgspec import inspect as types

from srs.engine.request_limits import DEFAULT_RESULTS
from srs.event_rules import MAX_ID_LENGTH, id_too_long, is_blank_id
from srs.events import MAX_EVENTS_PER_CALL, MIN_EVENTS_PER_CALL
from srs.web.errors import ApiError
from srs.web.request_bodies import IGNORED, NOUN, Event, Id

MAX_PUT_RECORDS = 10
"""PutItems' and PutUsers' limit."""
MAX_METADATA_RESULTS = 50
"""GetRecommendations' limit on numResults when metadata columns are asked for."""
METADATA_COLUMNS = {"ITEM_ID", "SERVICE_NAME", "CATEGORY", "DESCRIPTION"}
"""The Items dataset's columns metadataColumns may name, in any case."""

OptionalId = Annotated[str, Meta(max_length=MAX_ID_LENGTH)]
StringMap = dict[str, str]
MetadataColumns = dict[Literal["ITEMS"], list[str]]
_IGNORED = Meta(description="Accepted and ignored.", extra={IGNORED: True})


class PromotionEntry(Struct):
    """One of GetRecommendations' promotions: the share of the slots, in percent, that items
    the named filter selects fill."""

    percentPromotedItems: Annotated[int, Meta(ge=1, le=100)]
    filterArn: Id
    filterValues: StringMap | UnsetType = UNSET
    name: Annotated[str, Meta(min_length=1, max_length=63)] | UnsetType = UNSET


class GetRecommendationsRequest(Struct):
    """POST /recommendations: a campaign's or a recommender's, not both; its recipe says
    whether userId or itemId is needed."""

    campaignArn: Id | UnsetType = UNSET
    recommenderArn: Id | UnsetType = UNSET
    metadataColumns: MetadataColumns | UnsetType = UNSET
    numResults: int = DEFAULT_RESULTS
    context: StringMap | UnsetType = UNSET
    promotions: (
        Annotated[list[PromotionEntry], Meta(max_length=1, extra={NOUN: "promotions"})] | UnsetType
    ) = UNSET
    filterArn: Id | UnsetType = UNSET
    filterValues: StringMap | UnsetType = UNSET
    itemId: OptionalId | UnsetType = UNSET
    userId: OptionalId | UnsetType = UNSET


class GetPersonalizedRankingRequest(Struct):
    """POST /personalize-ranking."""

    campaignArn: Id
    userId: Id
    inputList: Annotated[list[Id], Meta(extra={NOUN: "item IDs"})]
    metadataColumns: MetadataColumns | UnsetType = UNSET
    context: StringMap | UnsetType = UNSET
    filterArn: Id | UnsetType = UNSET
    filterValues: StringMap | UnsetType = UNSET


class ProtocolEvent(Event, forbid_unknown_fields=True):
    """One PutEvents eventList entry: ``/api/v1``'s, and a field SRS has no use for."""

    metricAttribution: Annotated[dict[str, str], _IGNORED] | UnsetType = UNSET


class PutEventsRequest(Struct):
    """POST /events; without a userId the session stands for the user."""

    trackingId: Id
    sessionId: Id
    eventList: Annotated[
        list[ProtocolEvent],
        Meta(
            min_length=MIN_EVENTS_PER_CALL, max_length=MAX_EVENTS_PER_CALL, extra={NOUN: "events"}
        ),
    ]
    userId: OptionalId | UnsetType = UNSET


class ItemProperties(Struct, rename="camel"):
    """An item record's properties (sent as JSON text): the Items schema's fields, named as
    :class:`srs.serving.service.ItemInfo` names them."""

    service_name: str | UnsetType = UNSET
    category: str | UnsetType = UNSET
    description: str | UnsetType = UNSET


class ItemRecord(Struct):
    itemId: Id
    properties: Annotated[str, Meta(description="ItemProperties as JSON.")] | UnsetType = UNSET


class UserRecord(Struct):
    userId: Id
    properties: Annotated[str, Meta(description="A JSON object.")] | UnsetType = UNSET


_RECORDS = Meta(min_length=1, max_length=MAX_PUT_RECORDS, extra={NOUN: "records"})


class PutItemsRequest(Struct):
    """POST /items."""

    datasetArn: Id
    items: Annotated[list[ItemRecord], _RECORDS]


class PutUsersRequest(Struct):
    """POST /users."""

    datasetArn: Id
    users: Annotated[list[UserRecord], _RECORDS]


Reader = Callable[[Mapping[str, Any]], Any]
"""A field's value in a body, checked; raises :class:`ApiError` when it is refused."""


def readers(definition: type[Struct]) -> dict[str, Reader]:
    """A reader per field of ``definition``, by the name botocore sends."""
    info = types.type_info(definition)
    assert isinstance(info, types.StructType)
    return {field.encode_name: _reader(field) for field in info.fields}


def property_fields(definition: type[Struct]) -> dict[str, str]:
    """The names a properties object may hold, each with the attribute it fills."""
    info = types.type_info(definition)
    assert isinstance(info, types.StructType)
    return {field.encode_name: field.name for field in info.fields}


def _reader(field: types.Field) -> Reader:
    kind, extra = _under_metadata(field.type)
    name = field.encode_name
    if isinstance(kind, types.StrType):
        return partial(
            _text,
            name=name,
            required=field.required,
            not_blank=bool(kind.min_length),
            max_length=kind.max_length,
        )
    if isinstance(kind, types.IntType):
        return partial(_integer, name=name, default=field.default, low=kind.ge, high=kind.le)
    if isinstance(kind, types.ListType):
        item, _ = _under_metadata(kind.item_type)
        if isinstance(item, types.StrType):
            return partial(_ids, name=name, noun=extra[NOUN], max_length=item.max_length)
        return partial(
            _list,
            name=name,
            noun=extra[NOUN],
            low=kind.min_length,
            high=kind.max_length,
            required=field.required,
        )
    if isinstance(kind, types.DictType) and isinstance(kind.key_type, types.LiteralType):
        return partial(_metadata_columns, name=name, dataset=str(kind.key_type.values[0]))
    if isinstance(kind, types.DictType):
        return partial(_string_map, name=name)
    return lambda body: body.get(name)


def _under_metadata(kind: types.Type) -> tuple[types.Type, Mapping[str, Any]]:
    if isinstance(kind, types.Metadata):
        return kind.type, kind.extra or {}
    return kind, {}


def _invalid(message: str) -> ApiError:
    return ApiError(400, message)


def _text(
    body: Mapping[str, Any], name: str, required: bool, not_blank: bool, max_length: int | None
) -> str:
    """The field's text; "" when an optional field is absent."""
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(f"{name} is required")
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if id_too_long(value, max_length):
        raise _invalid(f"{name} is longer than {max_length} characters")
    if not_blank and is_blank_id(value):
        raise _invalid(f"{name} must not be blank")
    return value


def _integer(
    body: Mapping[str, Any], name: str, default: Any, low: int | None, high: int | None
) -> int:
    value = body.get(name, default)
    if value is NODEFAULT:
        raise _invalid(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        raise _invalid(f"{name} must be from {low} to {high}")
    return int(value)


def _string_map(body: Mapping[str, Any], name: str) -> dict[str, str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise _invalid(f"{name} must be a map of strings")
    return value


def _ids(body: Mapping[str, Any], name: str, noun: str, max_length: int | None) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(f"{name} must be a list of {noun}")
    for index, item in enumerate(value):
        if is_blank_id(item) or id_too_long(item, max_length):
            raise _invalid(f"{name}[{index}] must be 1 to {max_length} characters")
    return value


def _list(
    body: Mapping[str, Any],
    name: str,
    noun: str,
    low: int | None,
    high: int | None,
    required: bool,
) -> list[Any]:
    """The field's entries, counted; each entry is its definition's to check. An optional
    list that is absent has none."""
    value = body.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not (low or 0) <= len(value) <= (high or len(value)):
        raise _invalid(f"{name} must hold {low or 0} to {high} {noun}")
    return value


def _metadata_columns(body: Mapping[str, Any], name: str, dataset: str) -> list[str]:
    columns = body.get(name)
    if not columns:
        return []
    if not isinstance(columns, dict) or set(columns) != {dataset}:
        raise _invalid(f"{name} takes one key, {dataset}")
    names = columns[dataset]
    if not isinstance(names, list) or not all(isinstance(column, str) for column in names):
        raise _invalid(f"{name}.{dataset} must be a list of column names")
    unknown = [column for column in names if column.upper() not in METADATA_COLUMNS]
    if unknown:
        raise _invalid(
            f"{name}: {', '.join(unknown)} not in the {dataset.capitalize()} dataset "
            f"({', '.join(sorted(METADATA_COLUMNS))})"
        )
    return names
