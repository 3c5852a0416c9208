"""The OpenAPI 3.1 document of what the server answers, as plain data.

The limits it publishes are the ones the handlers enforce, imported from where they are
defined; the tests check the document against the app's URL map and real responses
against its schemas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from srs.engine.request_limits import MAX_RESULTS
from srs.events import MAX_ID_LENGTH
from srs.serving.service import MAX_RANKING_INPUTS
from srs.web import request_bodies
from srs.web.api_limits import (
    DEFAULT_HISTORY_LIMIT,
    MAX_HISTORY_LIMIT,
    MAX_OFFSET,
)

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(_ref(schema))}


def _error_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}


def _path_id(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description + ' Percent-encode it; a "/" in it is sent as %2F.',
        "schema": _ID,
    }


_QUERY = request_bodies.query_parameters(request_bodies.RecommendationsQuery)
_NUM_RESULTS = _QUERY["numResults"]


def _schemas() -> dict[str, Any]:
    closed = {"additionalProperties": False}
    recommended_item = {
        "type": "object",
        "required": ["itemId", "serviceName", "score", "reason"],
        "properties": {
            "itemId": {"type": "string"},
            "serviceName": {"type": "string"},
            "score": {
                "type": ["number", "null"],
                "minimum": 0,
                "description": "Null for an item the model has no data on (ranked last).",
            },
            "reason": {"type": "string", "description": "Why the item is recommended."},
        },
        **closed,
    }
    item_list = {"type": "array", "items": _ref("RecommendedItem"), "maxItems": MAX_RESULTS}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "examples": ["invalid_value"]},
                        "message": {"type": "string"},
                    },
                    **closed,
                }
            },
            **closed,
        },
        "RecommendedItem": recommended_item,
        "Recommendations": {
            "type": "object",
            "required": ["recommendationId", "itemList"],
            "properties": {"recommendationId": {"type": "string"}, "itemList": item_list},
            **closed,
        },
        "Ranking": {
            "type": "object",
            "required": ["recommendationId", "personalizedRanking"],
            "properties": {
                "recommendationId": {"type": "string"},
                "personalizedRanking": {
                    "type": "array",
                    "items": _ref("RecommendedItem"),
                    "maxItems": MAX_RANKING_INPUTS,
                },
            },
            **closed,
        },
        "SimilarItems": {
            "type": "object",
            "required": ["itemList"],
            "properties": {"itemList": item_list},
            **closed,
        },
        **request_bodies.schemas(_ref("{name}")["$ref"]),
        "Interaction": {
            "type": "object",
            "required": [
                "itemId",
                "serviceName",
                "category",
                "eventType",
                "eventValue",
                "timestamp",
            ],
            "properties": {
                "itemId": {"type": "string"},
                "serviceName": {"type": "string"},
                "category": {"type": "string"},
                "eventType": {"type": "string"},
                "eventValue": {"type": "number"},
                "timestamp": {"type": "integer", "description": "Unix seconds."},
            },
            **closed,
        },
        "HistoryPage": {
            "type": "object",
            "required": ["interactions", "total"],
            "properties": {
                "interactions": {"type": "array", "items": _ref("Interaction")},
                "total": {"type": "integer", "minimum": 0},
            },
            **closed,
        },
        "Item": {
            "type": "object",
            "required": ["itemId", "serviceName", "category", "description"],
            "properties": {
                "itemId": {"type": "string"},
                "serviceName": {"type": "string"},
                "category": {"type": "string"},
                "description": {"type": "string"},
            },
            **closed,
        },
        "ItemList": {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref("Item")}},
            **closed,
        },
        "Model": {
            "type": "object",
            "required": [
                "version",
                "recipe",
                "trainedAt",
                "trainingSeconds",
                "parameters",
                "metrics",
                "heldoutUsers",
                "metricsReliable",
                "baselineMetrics",
            ],
            "properties": {
                "version": {"type": "string"},
                "recipe": {"type": "string"},
                "trainedAt": {"type": "string", "description": "ISO 8601 time of training."},
                "trainingSeconds": {"type": "number", "minimum": 0},
                "parameters": {"type": "object"},
                "metrics": {
                    "type": "object",
                    "additionalProperties": {"type": "number"},
                    "description": "Offline metrics under Amazon Personalize's names.",
                },
                "heldoutUsers": {
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "description": "Users held out to measure the metrics; null if not recorded.",
                },
                "metricsReliable": {
                    "type": "boolean",
                    "description": (
                        "False when the metrics come from fewer than 50 held-out users:"
                        " too few for the figures to mean much."
                    ),
                },
                "baselineMetrics": {
                    "type": "object",
                    "additionalProperties": {"type": "number"},
                    "description": (
                        "The popularity baseline's metrics on the same held-out users,"
                        " to compare the model's with."
                    ),
                },
            },
            **closed,
        },
        "Status": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}},
            **closed,
        },
        "RetrainStarted": {
            "type": "object",
            "required": ["status", "statusUrl"],
            "properties": {
                "status": {"const": "running"},
                "statusUrl": {
                    "type": "string",
                    "description": "Where GET reports how the retrain is going.",
                },
            },
            **closed,
        },
        "RetrainStatus": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"enum": ["running", "succeeded", "failed"]},
                "version": {
                    "type": "string",
                    "description": "The version trained (when succeeded).",
                },
                "activated": {
                    "type": "boolean",
                    "description": (
                        "Whether the version was made active: one that ranks below the"
                        " popularity baseline is published but not activated."
                    ),
                },
                "error": {"type": "string", "description": "Why it failed (when failed)."},
            },
            **closed,
        },
    }


def _error_responses() -> dict[str, Any]:
    return {
        name: _response(description, "Error")
        for name, description in {
            "BadRequest": "Malformed request: not JSON, a wrong type, a missing or unknown field.",
            "Unauthorized": "Missing or wrong admin token.",
            "Forbidden": "Admin actions are disabled (no token configured).",
            "NotFound": "No such user, item or retrain.",
            "Conflict": "A retrain is already running on this data directory.",
            "PayloadTooLarge": "The body is larger than the server's limit.",
            "UnsupportedMediaType": "The body is not sent as Content-Type: application/json.",
            "Unprocessable": "Well-formed, but a value is out of range or not acceptable.",
            "NotReady": "No model is active yet.",
            "NotImplemented": "This deployment cannot do that.",
            "Unexpected": "Any other error, e.g. 405 or 500; always this shape.",
        }.items()
    }


def _operation(
    summary: str,
    operation_id: str,
    ok: dict[str, Any],
    errors: dict[str, str],
    parameters: list[dict[str, Any]] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = dict(ok)
    responses.update({status: _error_ref(name) for status, name in errors.items()})
    responses["default"] = _error_ref("Unexpected")
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": operation_id,
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json_content(_ref(body))}
    return operation


def _read(
    summary: str, operation_id: str, ok: dict[str, Any], errors: dict[str, str] | None = None
) -> dict[str, Any]:
    """A GET that takes no parameters and answers 200, the shape of most plain routes."""
    return {"get": _operation(summary, operation_id, {"200": ok}, errors or {})}


_BODY_ERRORS = {
    "400": "BadRequest",
    "413": "PayloadTooLarge",
    "415": "UnsupportedMediaType",
    "422": "Unprocessable",
}


def _paths() -> dict[str, Any]:
    user = _path_id("userId", "The user's ID.")
    item = _path_id("itemId", "The service's item ID.")
    return {
        "/api/v1/users/{userId}/recommendations": {
            "get": _operation(
                "Recommendations for a user (GetRecommendations).",
                "getRecommendations",
                {"200": _response("Recommended items, best first.", "Recommendations")},
                {"400": "BadRequest", "404": "NotFound", "422": "Unprocessable", "503": "NotReady"},
                [
                    user,
                    *_QUERY.values(),
                ],
            )
        },
        "/api/v1/rankings": {
            "post": _operation(
                "Order given items for a user (GetPersonalizedRanking).",
                "getPersonalizedRanking",
                {"200": _response("The input items, best first.", "Ranking")},
                {**_BODY_ERRORS, "503": "NotReady"},
                body="RankingRequest",
            )
        },
        "/api/v1/items/{itemId}/similar": {
            "get": _operation(
                "Services similar to one service (SIMS).",
                "getSimilarItems",
                {"200": _response("Similar items, most similar first.", "SimilarItems")},
                {"400": "BadRequest", "404": "NotFound", "422": "Unprocessable", "503": "NotReady"},
                [item, _NUM_RESULTS],
            )
        },
        "/api/v1/events": {
            "post": _operation(
                "Record feedback events (PutEvents); durable before the reply.",
                "putEvents",
                {"204": {"description": "Stored."}},
                {**_BODY_ERRORS, "503": "NotReady"},
                body="PutEventsRequest",
            )
        },
        "/api/v1/users/{userId}/history": {
            "get": _operation(
                "A user's interactions, newest first.",
                "getHistory",
                {"200": _response("One page of interactions and the total.", "HistoryPage")},
                {"400": "BadRequest", "404": "NotFound", "422": "Unprocessable"},
                [
                    user,
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_HISTORY_LIMIT,
                            "default": DEFAULT_HISTORY_LIMIT,
                        },
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_OFFSET,
                            "default": 0,
                        },
                    },
                ],
            )
        },
        "/api/v1/items": _read(
            "The service catalogue.", "listItems", _response("Every item.", "ItemList")
        ),
        "/api/v1/model": _read(
            "The active model: version, recipe, training time, offline metrics.",
            "getModel",
            _response("The active model.", "Model"),
            {"503": "NotReady"},
        ),
        "/api/v1/openapi.json": _read(
            "This document.",
            "getOpenApi",
            {"description": "OpenAPI 3.1 document.", "content": _json_content({"type": "object"})},
        ),
        "/healthz": _read(
            "Liveness: the process answers.", "getHealth", _response("Alive.", "Status")
        ),
        "/readyz": _read(
            "Readiness: a model is loaded and requests can be served.",
            "getReadiness",
            _response("Ready.", "Status"),
            {"503": "NotReady"},
        ),
        "/metrics": _read(
            "Prometheus metrics: requests and latency per route, events accepted.",
            "getMetrics",
            {
                "description": "Prometheus text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
        ),
        "/admin/retrain": {
            "post": {
                **_operation(
                    "Start training on the prepared data plus stored events, in a process of"
                    " its own; the result is activated when done and workers adopt it.",
                    "retrain",
                    {"202": _response("Started; poll statusUrl.", "RetrainStarted")},
                    {
                        "401": "Unauthorized",
                        "403": "Forbidden",
                        "409": "Conflict",
                        "501": "NotImplemented",
                    },
                ),
                "security": [{"adminToken": []}],
            }
        },
        "/admin/retrain/{retrainId}": {
            "get": {
                **_operation(
                    "How a retrain is going: running, succeeded (with the version) or failed"
                    " (with the error).",
                    "getRetrain",
                    {"200": _response("The retrain's status.", "RetrainStatus")},
                    {
                        "401": "Unauthorized",
                        "403": "Forbidden",
                        "404": "NotFound",
                        "501": "NotImplemented",
                    },
                    [_path_id("retrainId", "The ID in statusUrl.")],
                ),
                "security": [{"adminToken": []}],
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    """A fresh copy each call, so no caller can alter what the next one is served."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SRS — Service Recommendation System",
            "version": API_VERSION,
            "description": (
                "Recommends AWS services to the users of a platform. Shapes follow Amazon"
                " Personalize's runtime API; errors are always"
                ' {"error": {"code", "message"}}.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "responses": _error_responses(),
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


# --- the reference page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A parameter or a schema property, as the reference page lists it."""

    name: str
    where: str
    required: bool
    type: str
    schema_ref: str | None
    description: str


@dataclass(frozen=True)
class Reply:
    status: str
    description: str
    media_type: str | None
    type: str
    schema_ref: str | None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    operation_id: str
    parameters: list[Field]
    body_type: str | None
    body_ref: str | None
    responses: list[Reply]
    needs_admin_token: bool

    @property
    def anchor(self) -> str:
        return self.operation_id


@dataclass(frozen=True)
class Schema:
    name: str
    type: str
    description: str
    properties: list[Field]


@dataclass(frozen=True)
class Reference:
    operations: list[Operation]
    schemas: list[Schema]


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[1] if ref else None


def _limits(schema: dict[str, Any]) -> list[str]:
    limits = []
    for low, high, unit in (
        ("minimum", "maximum", ""),
        ("minLength", "maxLength", " characters"),
        ("minItems", "maxItems", " items"),
    ):
        if low in schema and high in schema:
            limits.append(f"{schema[low]}–{schema[high]}{unit}")
        elif low in schema:
            limits.append(f"at least {schema[low]}{unit}")
        elif high in schema:
            limits.append(f"at most {schema[high]}{unit}")
    if "default" in schema:
        limits.append(f"default {schema['default']}")
    return limits


def type_text(schema: dict[str, Any]) -> str:
    """A schema in a few words: ``array of RecommendedItem (at most 500 items)``."""
    name = _ref_name(schema)
    if name is not None:
        return name
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array" and "items" in schema:
        text = f"array of {type_text(schema['items'])}"
    elif kind == "object" and "additionalProperties" in schema:
        inner = schema["additionalProperties"]
        if isinstance(inner, dict):
            text = f"object of {type_text(inner)}"
    limits = _limits(schema)
    return f"{text} ({', '.join(limits)})" if limits else text


def _body_schema(content: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    media_type, entry = next(iter(content.items()))
    return str(media_type), dict(entry.get("schema", {}))


def api_reference(document: dict[str, Any]) -> Reference:
    """The document as the reference page lists it: every path and method with its summary,
    parameters, request body and responses, then every schema. Shared error responses are
    resolved, so each operation lists what it can really answer."""
    shared = document["components"]["responses"]
    operations: list[Operation] = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parameters = [
                Field(
                    name=str(parameter["name"]),
                    where=str(parameter["in"]),
                    required=bool(parameter.get("required", False)),
                    type=type_text(parameter.get("schema", {})),
                    schema_ref=None,
                    description=str(parameter.get("description", "")),
                )
                for parameter in operation.get("parameters", [])
            ]
            body_type = body_ref = None
            if "requestBody" in operation:
                _, schema = _body_schema(operation["requestBody"]["content"])
                body_type, body_ref = type_text(schema), _ref_name(schema)
            replies = []
            for status, reply in operation["responses"].items():
                name = _ref_name(reply)
                resolved = shared[name] if name is not None else reply
                media_type, schema = (
                    _body_schema(resolved["content"]) if "content" in resolved else (None, {})
                )
                replies.append(
                    Reply(
                        status=str(status),
                        description=str(resolved.get("description", "")),
                        media_type=media_type,
                        type=type_text(schema) if schema else "",
                        schema_ref=_ref_name(schema),
                    )
                )
            operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=str(operation.get("summary", "")),
                    operation_id=str(operation.get("operationId", f"{method}-{path}")),
                    parameters=parameters,
                    body_type=body_type,
                    body_ref=body_ref,
                    responses=replies,
                    needs_admin_token=bool(operation.get("security")),
                )
            )
    schemas = []
    for name, schema in document["components"]["schemas"].items():
        required = set(schema.get("required", []))
        schemas.append(
            Schema(
                name=str(name),
                type=type_text({key: value for key, value in schema.items() if key != "$ref"}),
                description=str(schema.get("description", "")),
                properties=[
                    Field(
                        name=str(prop),
                        where="",
                        required=prop in required,
                        type=type_text(inner),
                        schema_ref=_ref_name(inner)
                        or (_ref_name(inner.get("items", {})) if "items" in inner else None),
                        description=str(inner.get("description", "")),
                    )
                    for prop, inner in schema.get("properties", {}).items()
                ],
            )
        )
    return Reference(operations, schemas)
