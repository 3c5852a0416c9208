"""Amazon Personalize's own wire protocol under ``/personalize``: boto3 clients work unchanged.

A team's code that calls ``personalize-runtime`` and ``personalize-events`` runs against SRS by
giving its clients ``endpoint_url=http://HOST:PORT/personalize``: botocore joins each
operation's request URI (``/recommendations``, ``/personalize-ranking``, ``/events``,
``/items``, ``/users``, all POST with a JSON body, the restJson1 protocol) onto that path.

Handlers only translate, as ``/api/v1`` does: the body's fields into the
``RecommendationService`` calls the rest of the app makes, the answer back into Personalize's
shapes. Each operation's body is defined once in :mod:`srs.web.protocol_bodies`, whose readers
check its fields in the order the handler needs them. The rules a value must meet are the
ones ``/api/v1`` applies (events through ``api.parse_event`` and the service's
``check_batch``, filters through the engine's parser).
Errors take Personalize's form, the ``x-amzn-errortype`` header and a ``__type``/``message``
body, so botocore raises the same ``ClientError`` subclasses as against AWS.

Which recipe answers follows the campaign's (or recommender's) name, since a local server has
no campaigns of its own to look up: see :func:`recipe_for`. Requests are SigV4-signed; the
signature is not checked (the server is local), but with access keys configured
(``personalize_access_keys``) a request whose key ID is not listed is refused.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from srs.catalogue_additions import AddedUser, CatalogueAdditions
from srs.config import Settings
from srs.engine.filters import FilterError
from srs.engine.request_limits import DEFAULT_RESULTS
from srs.errors import SRSError
from srs.events import EventError
from srs.named_filters import (
    NAME_PATTERN,
    NamedFilters,
    UnknownFilterError,
    name_from_arn,
    personalize_resource,
)
from srs.serving.promotion import Promotion, place_promoted, promoted_slots
from srs.serving.service import (
    ItemInfo,
    NotFoundError,
    NotReadyError,
    Recommendations,
    RecommendedItem,
    RequestError,
)
from srs.web.api import parse_event
from srs.web.context import web_context
from srs.web.encoding import ItemListEncoder
from srs.web.errors import ApiError
from srs.web.protocol_bodies import (
    MAX_METADATA_RESULTS,
    GetPersonalizedRankingRequest,
    GetRecommendationsRequest,
    ItemProperties,
    ItemRecord,
    PromotionEntry,
    ProtocolEvent,
    PutEventsRequest,
    PutItemsRequest,
    PutUsersRequest,
    Reader,
    UserRecord,
    property_fields,
    readers,
)

MOUNT = "/personalize"
EXTENSION_KEY = "srs-personalize"
ITEM_PROPERTIES = property_fields(ItemProperties)
"""PutItems' property names (the Items schema's fields in camelCase) and ItemInfo's fields."""
RECOMMENDATIONS = readers(GetRecommendationsRequest)
RANKING = readers(GetPersonalizedRankingRequest)
EVENTS = readers(PutEventsRequest)
ITEMS = readers(PutItemsRequest)
USERS = readers(PutUsersRequest)
ITEM_RECORD = readers(ItemRecord)
USER_RECORD = readers(UserRecord)
PROMOTION = readers(PromotionEntry)
"""Each operation's fields, checked as its definition in :mod:`srs.web.protocol_bodies` says."""

personalize = Blueprint("personalize", __name__, url_prefix=MOUNT)


class Recipe(enum.Enum):
    USER_PERSONALIZATION = "user-personalization"
    SIMILAR_ITEMS = "similar-items"
    PERSONALIZED_RANKING = "personalized-ranking"
    POPULARITY = "popularity-count"


RECIPE_WORDS: tuple[tuple[tuple[str, ...], Recipe], ...] = (
    (("similar-items", "sims", "more-like", "related-items"), Recipe.SIMILAR_ITEMS),
    (("personalized-ranking", "ranking"), Recipe.PERSONALIZED_RANKING),
    (("popularity", "most-popular", "most-viewed", "best-sellers"), Recipe.POPULARITY),
)
"""Words in a campaign's or recommender's name and the recipe that answers it; any other name
is user-personalization, the active model's own recipe."""


RECIPE_CACHE_SIZE = 256
_RECIPES: dict[str, Recipe] = {}
"""Recipes of campaign ARNs seen, per process (see :func:`_solution_recipe`)."""


@runtime_checkable
class FilteringService(Protocol):
    """A service that answers as a popularity-count campaign and applies filters to
    rankings and similar items too: the local engine. Other backends answer those without
    filters (a filter there is refused)."""

    def popular(
        self,
        user_id: str | None,
        num_results: int = DEFAULT_RESULTS,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations: ...

    def rank(
        self,
        user_id: str,
        item_ids: Sequence[str],
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations: ...

    def similar(
        self,
        item_id: str,
        num_results: int = DEFAULT_RESULTS,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
        user_id: str | None = None,
    ) -> Recommendations: ...


class ProtocolError(Exception):
    """An answer in Personalize's error shape."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def invalid(message: str) -> ProtocolError:
    return ProtocolError(400, "InvalidInputException", message)


def not_found(message: str) -> ProtocolError:
    return ProtocolError(404, "ResourceNotFoundException", message)


@dataclass(frozen=True)
class ProtocolContext:
    additions: CatalogueAdditions | None
    """Where PutItems and PutUsers write; None when the backend keeps no catalogue here."""
    access_keys: frozenset[str]
    """Access key IDs allowed to call; empty: any."""
    encoder: ItemListEncoder = field(
        default_factory=lambda: ItemListEncoder(predicted_prefix, predicted_suffix, predicted_item)
    )


def attach_personalize_protocol(
    app: Flask, settings: Settings | None, local_catalogue: bool
) -> None:
    """Mount the protocol on ``app``; ``local_catalogue`` says PutItems has a catalogue to
    extend here (the local backends), rather than a remote one."""
    context = ProtocolContext(
        additions=(
            CatalogueAdditions.in_directory(settings.data_dir)
            if settings is not None and local_catalogue
            else None
        ),
        access_keys=access_keys(settings.personalize_access_keys) if settings else frozenset(),
    )
    app.extensions[EXTENSION_KEY] = context
    app.register_blueprint(personalize)


def access_keys(setting: str) -> frozenset[str]:
    """The key IDs of the comma-separated ``personalize_access_keys`` setting."""
    return frozenset(key.strip() for key in setting.split(",") if key.strip())


def _context() -> ProtocolContext:
    context: ProtocolContext = current_app.extensions[EXTENSION_KEY]
    return context


# ---- resource names -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceName:
    kind: str
    name: str


def parse_arn(arn: str, field: str) -> ResourceName:
    """``arn:PARTITION:personalize:REGION:ACCOUNT:KIND/NAME``; any region and account."""
    resource = personalize_resource(arn)
    if resource is None:
        raise invalid(f"{field} {arn!r} is not a Personalize ARN (…:personalize:…:KIND/NAME)")
    return ResourceName(*resource)


def recipe_for(name: str) -> Recipe:
    """The recipe a campaign or recommender named ``name`` answers with (``RECIPE_WORDS``)."""
    lowered = name.lower()
    for words, recipe in RECIPE_WORDS:
        if any(word in lowered for word in words):
            return recipe
    return Recipe.USER_PERSONALIZATION


def _solution_recipe(body: Mapping[str, Any]) -> Recipe:
    """The recipe of the request's campaign or recommender; remembered per ARN, since a
    client sends the same one or two ARNs on every call."""
    campaign, recommender = body.get("campaignArn"), body.get("recommenderArn")
    if campaign.__class__ is str and recommender is None:
        known = _RECIPES.get(campaign)
        if known is not None:
            return known
    if campaign and recommender:
        raise invalid("give campaignArn or recommenderArn, not both")
    if not campaign and not recommender:
        raise invalid("campaignArn or recommenderArn is required")
    field, arn, kind = (
        ("campaignArn", campaign, "campaign")
        if campaign
        else ("recommenderArn", recommender, "recommender")
    )
    text = RECOMMENDATIONS[field](body)
    resource = parse_arn(text, field)
    if resource.kind != kind:
        raise not_found(f"{field} {arn!r} names a {resource.kind}, not a {kind}")
    recipe = recipe_for(resource.name)
    if field == "campaignArn":
        if len(_RECIPES) >= RECIPE_CACHE_SIZE:
            _RECIPES.clear()
        _RECIPES[text] = recipe
    return recipe


def named_filter(arn: str, filters: NamedFilters) -> str:
    """The expression a ``…:filter/NAME`` ARN selects (``srs filters create``)."""
    name = name_from_arn(arn)
    if name is None:
        raise invalid(f"filterArn {arn!r} is not a filter ARN (…:filter/NAME)")
    try:
        return filters.expression(name)
    except UnknownFilterError:
        raise not_found(
            f"filter {name!r} does not exist; create it with 'srs filters create {name} EXPRESSION'"
        ) from None


# ---- request values -------------------------------------------------------------------------


def _body(raw: bytes) -> dict[str, Any]:
    """The JSON body; botocore always sends an object (``{}`` at least)."""
    try:
        body = orjson.loads(raw) if raw else {}
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise invalid(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


def _raw_body(environ: Mapping[str, Any]) -> bytes:
    """The body's bytes, read straight from the server's stream when it declares its length,
    as botocore's requests do: werkzeug's wrapped stream is a visible share of a small
    request's cost, so the hot operations (GetRecommendations, PutEvents) read it this way and
    the others through ``request.get_data``. The body limit is the app's (413), as werkzeug
    would apply it."""
    declared = environ.get("CONTENT_LENGTH")
    if not declared or not declared.isdigit():
        return request.get_data(cache=False)
    length = int(declared)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and length > limit:
        raise RequestEntityTooLarge()
    data: bytes = environ["wsgi.input"].read(length) if length else b""
    return data


def _promotion(body: Mapping[str, Any]) -> Promotion | None:
    """GetRecommendations' promotion, its filter resolved; None without one."""
    entries = RECOMMENDATIONS["promotions"](body)
    if not entries:
        return None
    entry = entries[0]
    if not isinstance(entry, dict):
        raise invalid("promotions[0] must be an object")
    try:
        percent = PROMOTION["percentPromotedItems"](entry)
        name = PROMOTION["name"](entry) or "promotion"
        if not NAME_PATTERN.fullmatch(name):
            raise invalid("name must be letters, digits, '-' or '_', from a letter or digit")
        expression, values = _filter(entry, PROMOTION)
    except ProtocolError as exc:
        raise ProtocolError(exc.status, exc.error_type, f"promotions[0].{exc.message}") from None
    except ApiError as exc:
        raise invalid(f"promotions[0].{exc.message}") from None
    if expression is None:
        raise invalid("promotions[0].filterArn is required")
    return Promotion(name, percent, expression, values)


def _filter(
    body: Mapping[str, Any], fields: Mapping[str, Reader]
) -> tuple[str | None, dict[str, str] | None]:
    values = fields["filterValues"](body)
    if not body.get("filterArn"):
        if values:
            raise invalid("filterValues needs a filterArn")
        return None, None
    return named_filter(fields["filterArn"](body), web_context().filters), values


# ---- answers --------------------------------------------------------------------------------


def _metadata(item: RecommendedItem, columns: Sequence[str]) -> dict[str, str]:
    values = {
        "ITEM_ID": item.item_id,
        "SERVICE_NAME": item.service_name,
        "CATEGORY": item.category,
        "DESCRIPTION": item.description,
    }
    return {column: values[column.upper()] for column in columns}


def predicted_item(item: RecommendedItem) -> dict[str, Any]:
    """A PredictedItem: the score only where the model has one, the reason as a list."""
    record: dict[str, Any] = {"itemId": item.item_id}
    if item.score is not None:
        record["score"] = item.score
    if item.reason:
        record["reason"] = [item.reason]
    return record


def predicted_prefix(item: ItemInfo) -> bytes:
    """:func:`predicted_item`'s JSON up to the score's value (see :mod:`srs.web.encoding`)."""
    return b',{"itemId":' + orjson.dumps(item.item_id) + b',"score":'


def predicted_suffix(reason: str) -> bytes:
    """:func:`predicted_item`'s JSON after the score's value."""
    return (b',"reason":' + orjson.dumps([reason]) if reason else b"") + b"}"


def _answer(
    key: str,
    answer: Recommendations,
    columns: Sequence[str],
    promoted: Mapping[str, str] | None = None,
) -> Response:
    """The answer's JSON; without metadata columns or promoted items (``promoted``: item ID →
    promotion name) through the encoder's fragments, which write an answer-table row without
    building a record per item."""
    if columns or promoted:
        listed = []
        for item in answer.item_list:
            record = predicted_item(item)
            if promoted and item.item_id in promoted:
                record["promotionName"] = promoted[item.item_id]
            if columns:
                record["metadata"] = _metadata(item, columns)
            listed.append(record)
        body = orjson.dumps({"recommendationId": answer.recommendation_id, key: listed})
    else:
        body = _context().encoder.answer(key, answer.item_list, answer.recommendation_id)
    return Response(body, mimetype="application/json")


def _no_content() -> Response:
    return Response(b"{}", mimetype="application/json")


# ---- runtime --------------------------------------------------------------------------------


@personalize.post("/recommendations")
def get_recommendations() -> Response:
    body = _body(_raw_body(request.environ))
    recipe = _solution_recipe(body)
    columns = RECOMMENDATIONS["metadataColumns"](body)
    count = RECOMMENDATIONS["numResults"](body)
    if columns and count > MAX_METADATA_RESULTS:
        raise invalid(
            f"numResults must be at most {MAX_METADATA_RESULTS} when metadataColumns are asked for"
        )
    RECOMMENDATIONS["context"](body)
    promotion = _promotion(body)
    expression, values = _filter(body, RECOMMENDATIONS)
    service = web_context().service
    if recipe is Recipe.PERSONALIZED_RANKING:
        raise invalid("a personalized-ranking campaign answers GetPersonalizedRanking only")
    fetch: Fetch
    if recipe is Recipe.SIMILAR_ITEMS:
        item_id = RECOMMENDATIONS["itemId"](body)
        if not item_id:
            raise invalid("itemId is required by a similar-items campaign")
        user_id = RECOMMENDATIONS["userId"](body) or None
        if isinstance(service, FilteringService):
            filtering = service

            def fetch(size: int, chosen: str | None, given: Values) -> Recommendations:
                return filtering.similar(item_id, size, chosen, given, user_id)

        elif expression is not None or promotion is not None:
            raise invalid("this backend takes no filters or promotions on similar-items campaigns")
        else:
            return _answer("itemList", service.similar(item_id, count), columns)
    else:
        user_id = RECOMMENDATIONS["userId"](body)
        if recipe is Recipe.POPULARITY and isinstance(service, FilteringService):
            filtering = service

            def fetch(size: int, chosen: str | None, given: Values) -> Recommendations:
                return filtering.popular(user_id or None, size, chosen, given)

        elif not user_id:
            raise invalid("userId is required by a user-personalization campaign")
        else:
            recommending = service

            def fetch(size: int, chosen: str | None, given: Values) -> Recommendations:
                return recommending.recommend(user_id, size, filter=chosen, filter_values=given)

    answer = fetch(count, expression, values)
    if promotion is None:
        return _answer("itemList", answer, columns)
    extra = fetch(
        promoted_slots(count, promotion.percent), promotion.filter, promotion.filter_values
    )
    placed = place_promoted(answer.item_list, extra.item_list, count, answer.recommendation_id)
    merged = Recommendations(answer.recommendation_id, [item for item, _ in placed])
    names = {item.item_id: promotion.name for item, promoted in placed if promoted}
    return _answer("itemList", merged, columns, names)


Values = Mapping[str, str] | None
Fetch = Callable[[int, str | None, Values], Recommendations]
"""One campaign's answer of a size under a filter: a promotion asks twice, under two filters."""


@personalize.post("/personalize-ranking")
def get_personalized_ranking() -> Response:
    body = _body(request.get_data(cache=False))
    resource = parse_arn(RANKING["campaignArn"](body), "campaignArn")
    if resource.kind != "campaign":
        raise not_found(f"campaignArn names a {resource.kind}, not a campaign")
    user_id = RANKING["userId"](body)
    columns = RANKING["metadataColumns"](body)
    RANKING["context"](body)
    expression, values = _filter(body, RANKING)
    input_list = RANKING["inputList"](body)
    service = web_context().service
    if isinstance(service, FilteringService):
        answer = service.rank(user_id, input_list, expression, values)
    elif expression is not None:
        raise invalid("this backend takes no filters on GetPersonalizedRanking")
    else:
        answer = service.rank(user_id, input_list)
    return _answer("personalizedRanking", answer, columns)


# ---- events ---------------------------------------------------------------------------------


@personalize.post("/events")
def put_events() -> Response:
    """Events into the same EventStore the app writes; without a userId the session stands
    for the user, as Personalize attributes anonymous events to their session."""
    body = _body(_raw_body(request.environ))
    EVENTS["trackingId"](body)
    session_id = EVENTS["sessionId"](body)
    user_id = EVENTS["userId"](body) or session_id
    event_list = EVENTS["eventList"](body)
    now = time.time()
    events = [parse_event(raw, index, now, ProtocolEvent) for index, raw in enumerate(event_list)]
    web_context().service.put_events(user_id, session_id, events)
    return _no_content()


def _records(
    body: Mapping[str, Any], fields: Mapping[str, Reader], field: str
) -> list[dict[str, Any]]:
    fields["datasetArn"](body)
    records: list[dict[str, Any]] = fields[field](body)
    if not all(isinstance(record, dict) for record in records):
        raise invalid(f"each of {field} must be an object")
    return records


def _properties(raw: object, where: str) -> dict[str, Any]:
    """A record's properties: a JSON object, sent by botocore as a string."""
    if raw is None:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        raise invalid(f"{where}.properties is not valid JSON") from None
    if not isinstance(value, dict):
        raise invalid(f"{where}.properties must be a JSON object")
    return value


def parse_item(record: Mapping[str, Any], index: int) -> ItemInfo:
    """One PutItems record as a catalogue item; properties outside the Items schema are
    refused, as Personalize refuses them."""
    where = f"items[{index}]"
    item_id = ITEM_RECORD["itemId"](record)
    properties = _properties(record.get("properties"), where)
    unknown = sorted(set(properties) - set(ITEM_PROPERTIES))
    if unknown:
        raise invalid(
            f"{where}.properties: {', '.join(unknown)} not in the Items schema "
            f"({', '.join(ITEM_PROPERTIES)})"
        )
    fields = {"service_name": item_id, "category": "", "description": ""}
    for name, value in properties.items():
        if not isinstance(value, str):
            raise invalid(f"{where}.properties.{name} must be a string")
        fields[ITEM_PROPERTIES[name]] = value
    return ItemInfo(item_id, **fields)


@personalize.post("/items")
def put_items() -> Response:
    body = _body(request.get_data(cache=False))
    additions = _additions()
    items = [
        parse_item(record, index) for index, record in enumerate(_records(body, ITEMS, "items"))
    ]
    additions.put_items(items)
    return _no_content()


@personalize.post("/users")
def put_users() -> Response:
    body = _body(request.get_data(cache=False))
    additions = _additions()
    users = []
    for index, record in enumerate(_records(body, USERS, "users")):
        properties = record.get("properties")
        _properties(properties, f"users[{index}]")
        text = properties if isinstance(properties, str) else json.dumps(properties or {})
        users.append(AddedUser(USER_RECORD["userId"](record), text))
    additions.put_users(users)
    return _no_content()


def _additions() -> CatalogueAdditions:
    additions = _context().additions
    if additions is None:
        raise not_found("this server's backend keeps no Items or Users dataset to add to")
    return additions


@personalize.route(
    "/<path:operation>", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
)
def unknown_operation(operation: str) -> Response:
    raise ProtocolError(404, "UnknownOperationException", f"SRS does not serve /{operation}")


# ---- signatures and errors ------------------------------------------------------------------


def access_key_id(authorization: str | None) -> str | None:
    """The key ID of a SigV4 ``Authorization`` header (``Credential=KEY/DATE/…``), or None."""
    if not authorization or not authorization.startswith("AWS4-HMAC-SHA256 "):
        return None
    for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            key, _, _ = value.partition("/")
            return key or None
    return None


@personalize.before_request
def check_access_key() -> None:
    allowed = _context().access_keys
    if allowed and access_key_id(request.headers.get("Authorization")) not in allowed:
        raise ProtocolError(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )


def error_response(status: int, error_type: str, message: str) -> Response:
    response = Response(
        orjson.dumps({"__type": error_type, "message": message}),
        status=status,
        mimetype="application/json",
    )
    response.headers["x-amzn-errortype"] = error_type
    return response


@personalize.errorhandler(Exception)
def protocol_error(error: Exception) -> Response:
    """Every failure in Personalize's error shape; the service's own errors keep their kind."""
    if isinstance(error, ProtocolError):
        return error_response(error.status, error.error_type, error.message)
    if isinstance(error, RequestError | EventError | FilterError):
        return error_response(400, "InvalidInputException", str(error))
    if isinstance(error, ApiError):
        return error_response(400, "InvalidInputException", error.message)
    if isinstance(error, NotFoundError):
        return error_response(404, "ResourceNotFoundException", str(error))
    if isinstance(error, NotReadyError):
        return error_response(503, "ServiceUnavailableException", str(error))
    if isinstance(error, HTTPException):
        status = error.code or 500
        return error_response(status, "InvalidInputException", error.description or "")
    if isinstance(error, SRSError):
        current_app.logger.error("service failed on %s: %s", request.path, error)
        return error_response(503, "ServiceUnavailableException", "the service cannot answer now")
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "InternalFailure", "internal server error")
