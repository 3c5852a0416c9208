"""REST API ``/api/v1`` in personalize-runtime's shapes, plus health, metrics and admin.

Handlers only translate: camelCase JSON in, validated Python values to the service,
dataclasses back out as camelCase JSON. Malformed input (not JSON, wrong type,
missing or unknown field) is a 400; well-formed values outside the accepted range
are a 422. Bodies are checked against their typed definitions
(:mod:`srs.web.request_bodies`) and query parameters against :mod:`srs.web.api_limits`, the
same sources the OpenAPI document is built from.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from flask import Blueprint, Response, request
from msgspec import Struct
from werkzeug.routing import PathConverter

from srs.engine.request_limits import DEFAULT_RESULTS, MAX_RESULTS
from srs.event_rules import timestamp_problem, value_problem
from srs.events import MAX_ID_LENGTH, Event
from srs.named_filters import NamedFilters, UnknownFilterError, name_from_arn
from srs.serving.service import (
    HistoryEntry,
    ItemInfo,
    ModelInfo,
    NotReadyError,
    Recommendations,
)
from srs.web import request_bodies
from srs.web.api_limits import (
    DEFAULT_HISTORY_LIMIT,
    MAX_FILTER_LENGTH,
    MAX_FILTER_VALUE_LENGTH,
    MAX_FILTER_VALUES,
    MAX_FILTER_VALUES_TEXT,
    MAX_HISTORY_LIMIT,
    MAX_OFFSET,
)
from srs.web.context import WebContext, web_context
from srs.web.errors import ApiError
from srs.web.metrics import EXPOSITION_CONTENT_TYPE
from srs.web.openapi import openapi_document
from srs.web.request_bodies import (
    PutEventsRequest,
    RankingRequest,
    check_id,
    check_object,
    echo,
    query_int,
)
from srs.web.retrain import RetrainRunning
from srs.web.security import bearer_token_valid

JSON_MEDIA_TYPE = "application/json"
# A string literal, or an unclosed one to the end; possessive, so the scan stays linear.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"?', re.DOTALL)


class IdConverter(PathConverter):
    """A user or item ID as a path parameter, "/" included.

    A client sends ``a/b`` as ``a%2Fb``, but WSGI servers decode the path before routing, so
    the ID arrives as two segments; a one-segment converter made such IDs unreachable (404).
    This one takes any text up to the route's fixed tail, which the rules keep unambiguous:
    ``/users/x/history/recommendations`` asks for user ``x/history``'s recommendations.
    Werkzeug's own ``path`` converter refuses a leading "/", and its slash merging would then
    redirect ``/x`` to user ``x``.
    """

    regex = ".+?"
    part_isolating = False


ID_CONVERTER = "id"
api = Blueprint("api", __name__, url_prefix="/api/v1")
ops = Blueprint("ops", __name__)


def json_response(document: Any) -> Response:
    """An API answer as JSON.

    orjson rather than the json module: formatting a list's float scores dominates encoding,
    orjson does it in native code, and the encoding is a visible share of a request.
    """
    return encoded_json_response(orjson.dumps(document))


def encoded_json_response(body: bytes) -> Response:
    return Response(body, mimetype="application/json")


def answer_response(
    context: WebContext, list_key: str, answer: Recommendations, with_id: bool = True
) -> Response:
    """An answer's item list under ``list_key``, after its recommendationId if ``with_id``."""
    return encoded_json_response(
        context.encoder.answer(
            list_key, answer.item_list, answer.recommendation_id if with_id else None
        )
    )


def query_params(context: WebContext) -> Mapping[str, str]:
    """The request's query parameters, read-only (see :mod:`srs.web.query`).

    Only the recommendations route reads them this way, for speed; the others read
    ``request.args``, which parses the same way."""
    return context.queries(request.query_string)


def json_body() -> dict[str, Any]:
    """The request's JSON object; reading the body enforces MAX_CONTENT_LENGTH (413).

    Only ``application/json`` itself is read: a look-alike such as ``json-patch+json`` means
    other semantics than these endpoints apply, so it is refused (415) rather than guessed at.
    orjson bounds nesting itself and reports too deep a document as a decode error.
    """
    if request.mimetype != JSON_MEDIA_TYPE:
        raise ApiError(415, "send the body as JSON with Content-Type: application/json")
    raw = request.get_data(cache=False)
    try:
        body = orjson.loads(raw)
    except (orjson.JSONDecodeError, RecursionError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(body).__name__}")
    return body


def event_rules(now: float) -> dict[str, request_bodies.NumberRule]:
    """The checks :mod:`srs.event_rules` makes of an event's time and value, ``now`` being the
    clock: a time or value out of range is a 422 here, never an overflow further down."""
    return {
        "sentAt": lambda sent_at, _: timestamp_problem(sent_at, now),
        "eventValue": lambda value, fields: value_problem(fields["eventType"], value),
    }


def to_event(fields: Mapping[str, Any]) -> Event:
    """A checked eventList entry as the service's Event."""
    event_type, item_id, sent_at = fields["eventType"], fields["itemId"], fields["sentAt"]
    if "eventValue" not in fields:
        return Event(event_type, item_id, math.floor(sent_at))
    return Event(event_type, item_id, math.floor(sent_at), fields["eventValue"])


def parse_event(
    raw: Any, index: int, now: float, definition: type[Struct] = request_bodies.Event
) -> Event:
    """One eventList entry, checked as ``definition`` (:class:`request_bodies.Event` or one
    that adds fields to ignore) defines it."""
    fields = request_bodies.check_entry(raw, definition, f"eventList[{index}]", event_rules(now))
    return to_event(fields)


def named_filter_expression(filters: NamedFilters, arn: str) -> str:
    """The expression a ``…:filter/NAME`` ARN selects; 404 when no such filter is saved."""
    name = name_from_arn(arn)
    if name is None:
        raise ApiError(400, f"filterArn {echo(arn)} is not a filter ARN (…:filter/NAME)")
    try:
        return filters.expression(name)
    except UnknownFilterError as exc:
        raise ApiError(404, str(exc)) from None


def parse_filter_values(raw: str | None) -> dict[str, str] | None:
    """``filterValues`` travels in the query string as a JSON object of strings.

    A valid value is one object deep and a few entries long, so anything longer or nested is
    refused before the JSON parser sees it: the standard parser recurses once per level and
    overflows the interpreter's stack on a value nested a thousand deep.
    """
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_FILTER_VALUES_TEXT:
        raise ApiError(
            422, f"query parameter filterValues is longer than {MAX_FILTER_VALUES_TEXT} characters"
        )
    if _nesting(raw) > 1:
        raise ApiError(
            400, "query parameter filterValues must be a JSON object of strings, not nested"
        )
    try:
        values = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "query parameter filterValues must be a JSON object") from None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ApiError(400, "query parameter filterValues must be a JSON object of strings")
    if len(values) > MAX_FILTER_VALUES:
        raise ApiError(422, f"filterValues may hold at most {MAX_FILTER_VALUES} entries")
    for key, value in values.items():
        if not key or len(key) > MAX_ID_LENGTH or len(value) > MAX_FILTER_VALUE_LENGTH:
            raise ApiError(
                422,
                f"filterValues[{echo(key)}]: keys take 1 to {MAX_ID_LENGTH} characters,"
                f" values at most {MAX_FILTER_VALUE_LENGTH}",
            )
    return values


def _nesting(raw: str) -> int:
    """How many arrays and objects ``raw`` opens outside its string literals."""
    structure = _JSON_STRING.sub("", raw)
    return structure.count("{") + structure.count("[")


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "itemId": entry.item_id,
        "serviceName": entry.service_name,
        "category": entry.category,
        "eventType": entry.event_type,
        "eventValue": entry.event_value,
        "timestamp": entry.timestamp,
    }


def catalog_item_json(item: ItemInfo) -> dict[str, Any]:
    return {
        "itemId": item.item_id,
        "serviceName": item.service_name,
        "category": item.category,
        "description": item.description,
    }


def plain_json(value: object) -> Any:
    """Model parameters may hold numpy scalars or tuples; JSON wants plain values.

    Numpy scalars are unwrapped first: ``np.float64`` subclasses ``float``, yet orjson refuses it.
    """
    if isinstance(value, np.generic):
        return plain_json(value.item())
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_json(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(inner) for inner in value]
    as_python = getattr(value, "item", None)
    if callable(as_python):
        return plain_json(as_python())
    return str(value)


def model_json(info: ModelInfo) -> dict[str, Any]:
    return {
        "version": info.version,
        "recipe": info.recipe,
        "trainedAt": info.trained_at,
        "trainingSeconds": info.training_seconds,
        "parameters": plain_json(info.parameters),
        "metrics": {name: float(value) for name, value in info.metrics.items()},
        "heldoutUsers": info.heldout_users,
        "metricsReliable": info.metrics_reliable,
        "baselineMetrics": {name: float(value) for name, value in info.baseline_metrics.items()},
    }


@api.get("/users/<id:userId>/recommendations")
def recommendations(userId: str) -> Response:
    """The query is read by hand rather than through :func:`request_bodies.check_query`, as
    this is the hottest route; tests hold both to the same answers for RecommendationsQuery."""
    user_id = check_id("userId", userId)
    context = web_context()
    params = query_params(context)
    num_results = query_int(params, "numResults", DEFAULT_RESULTS, 1, MAX_RESULTS)
    filter_expression = params.get("filter") or None
    if filter_expression is not None and len(filter_expression) > MAX_FILTER_LENGTH:
        raise ApiError(422, f"filter is longer than {MAX_FILTER_LENGTH} characters")
    filter_arn = params.get("filterArn") or None
    if filter_arn is not None:
        if filter_expression is not None:
            raise ApiError(400, "give filter or filterArn, not both")
        filter_expression = named_filter_expression(context.filters, filter_arn)
    filter_values = parse_filter_values(params.get("filterValues"))
    result = context.service.recommend(
        user_id, num_results, filter=filter_expression, filter_values=filter_values
    )
    return answer_response(context, "itemList", result)


@api.post("/rankings")
def rankings() -> Response:
    body = check_object(json_body(), RankingRequest, "body")
    user_id, input_list = body["userId"], body["inputList"]
    context = web_context()
    result = context.service.rank(user_id, input_list)
    return answer_response(context, "personalizedRanking", result)


@api.get("/items/<id:itemId>/similar")
def similar(itemId: str) -> Response:
    item_id = check_id("itemId", itemId)
    context = web_context()
    num_results = query_int(request.args, "numResults", DEFAULT_RESULTS, 1, MAX_RESULTS)
    return answer_response(
        context, "itemList", context.service.similar(item_id, num_results), with_id=False
    )


@api.post("/events")
def events() -> Response:
    body = check_object(json_body(), PutEventsRequest, "body", event_rules(time.time()))
    user_id, session_id = body["userId"], body["sessionId"]
    parsed = [to_event(fields) for fields in body["eventList"]]
    context = web_context()
    context.service.put_events(user_id, session_id, parsed)
    context.metrics.events_accepted.inc(len(parsed))
    return Response(status=204)


@api.get("/users/<id:userId>/history")
def history(userId: str) -> Response:
    user_id = check_id("userId", userId)
    context = web_context()
    limit = query_int(request.args, "limit", DEFAULT_HISTORY_LIMIT, 1, MAX_HISTORY_LIMIT)
    offset = query_int(request.args, "offset", 0, 0, MAX_OFFSET)
    page = context.service.history(user_id, limit=limit, offset=offset)
    return json_response(
        {"interactions": [history_json(entry) for entry in page.interactions], "total": page.total}
    )


@api.get("/items")
def items() -> Response:
    return json_response(
        {"items": [catalog_item_json(item) for item in web_context().service.items()]}
    )


@api.get("/model")
def model() -> Response:
    return json_response(model_json(web_context().service.model_info()))


@api.get("/openapi.json")
def openapi() -> Response:
    return json_response(openapi_document())


@ops.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@ops.get("/readyz")
def readyz() -> Response:
    if not web_context().service.is_ready():
        raise NotReadyError("no model is active yet; run srs train")
    return json_response({"status": "ready"})


@ops.get("/metrics")
def metrics() -> Response:
    return Response(web_context().metrics.exposition(), content_type=EXPOSITION_CONTENT_TYPE)


def _admin() -> WebContext:
    """The context, once the request carries the admin token."""
    context = web_context()
    if not context.admin_token:
        raise ApiError(403, "admin actions are disabled: no admin token is configured")
    if not bearer_token_valid(request.headers.get("Authorization"), context.admin_token):
        raise ApiError(
            401,
            "admin actions need the header Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="srs-admin"'},
        )
    return context


@ops.post("/admin/retrain")
def retrain() -> Response:
    """Start training on the data and stored events in a process of its own; the request
    never waits for it, so the worker keeps answering while it runs."""
    context = _admin()
    if context.retrain is None:
        raise ApiError(501, "this deployment cannot retrain from the web")
    try:
        job_id = context.retrain.start()
    except RetrainRunning as exc:
        raise ApiError(409, f"{exc}; try again when it has finished") from None
    response = json_response({"status": "running", "statusUrl": f"/admin/retrain/{job_id}"})
    response.status_code = 202
    response.headers["Location"] = f"/admin/retrain/{job_id}"
    return response


@ops.get("/admin/retrain/<retrainId>")
def retrain_status(retrainId: str) -> Response:
    """How a retrain started by any worker is going: read from its status file."""
    context = _admin()
    if context.retrain is None:
        raise ApiError(501, "this deployment cannot retrain from the web")
    status = context.retrain.status(retrainId)
    if status is None:
        raise ApiError(404, f"no retrain {retrainId!r}")
    return json_response(status)
