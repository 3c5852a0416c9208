"""The typed requests: what the server refuses, and that the published schema agrees.

Each case is sent to the real app; its status and message are the API's contract. Where a
rule can be written in JSON Schema, the OpenAPI document's schema for the body must accept
exactly the bodies the server accepts, since both come from one definition.
"""

from __future__ import annotations

import json
import time
from typing import Any, NamedTuple

import jsonschema
import pytest
from flask.testing import FlaskClient

from srs.serving.service import RecommendationService
from srs.web.errors import ApiError
from srs.web.openapi import openapi_document
from srs.web.query import parse_query
from srs.web.request_bodies import (
    BODIES,
    RankingRequest,
    RecommendationsQuery,
    check_object,
    check_query,
)

RANKINGS = "/api/v1/rankings"
EVENTS = "/api/v1/events"
SENT_AT = time.time() - 60
ITEM = "i1"
"""Stands for an item of the catalogue, which the server knows only once it has data."""


class Case(NamedTuple):
    path: str
    body: dict[str, Any]
    status: int
    message: str | None
    schema_sees: bool = True
    """False where the rule depends on something JSON Schema cannot express here."""


def event(**fields: Any) -> dict[str, Any]:
    return {"eventType": "clicked", "itemId": "i1", "sentAt": SENT_AT, **fields}


def events_body(*entries: Any, **fields: Any) -> dict[str, Any]:
    return {"userId": "u1", "sessionId": "s1", "eventList": list(entries), **fields}


def ranking(**fields: Any) -> dict[str, Any]:
    return {"userId": "u1", "inputList": ["i1"], **fields}


LONG = "x" * 257
CASES = [
    Case(RANKINGS, ranking(), 200, None),
    Case(RANKINGS, ranking(x=1, a=2), 400, "body: unknown field(s) a, x"),
    Case(RANKINGS, {"inputList": ["i1"]}, 400, "body: missing required field userId"),
    Case(RANKINGS, ranking(userId=7), 400, "body.userId must be a string, got int"),
    Case(RANKINGS, ranking(userId=""), 422, "body.userId must not be blank"),
    Case(RANKINGS, ranking(userId="  "), 422, "body.userId must not be blank", False),
    Case(RANKINGS, ranking(userId=LONG), 422, "body.userId is longer than 256 characters"),
    Case(RANKINGS, {"userId": "u1"}, 400, "body.inputList must be an array of item IDs"),
    Case(RANKINGS, ranking(inputList="i1"), 400, "body.inputList must be an array of item IDs"),
    Case(RANKINGS, ranking(inputList=[]), 422, "inputList must hold 1 to 500 item IDs, got 0"),
    Case(
        RANKINGS,
        ranking(inputList=["i1"] * 501),
        422,
        "inputList must hold 1 to 500 item IDs, got 501",
    ),
    Case(RANKINGS, ranking(inputList=["i1", 3]), 400, "inputList[1] must be a string"),
    Case(RANKINGS, ranking(inputList=["i1", ""]), 422, "inputList[1] must not be blank"),
    Case(RANKINGS, ranking(inputList=[LONG]), 422, "inputList[0] is longer than 256 characters"),
    Case(EVENTS, events_body(event()), 204, None),
    Case(EVENTS, events_body(event(eventValue=2.5)), 204, None),
    Case(
        EVENTS,
        events_body(
            event(eventId="e", recommendationId="r", impression=["i1", "i2"], properties="{}")
        ),
        204,
        None,
    ),
    Case(EVENTS, events_body(event(), extra=1), 400, "body: unknown field(s) extra"),
    Case(
        EVENTS,
        {"userId": "u1", "eventList": [event()]},
        400,
        "body: missing required field sessionId",
    ),
    Case(EVENTS, events_body(sessionId=[]), 400, "body.sessionId must be a string, got list"),
    Case(
        EVENTS,
        {"userId": "u1", "sessionId": "s1"},
        400,
        "body.eventList must be an array of events",
    ),
    Case(EVENTS, events_body(), 422, "eventList must hold 1 to 10 events, got 0"),
    Case(EVENTS, events_body(*[event()] * 11), 422, "eventList must hold 1 to 10 events, got 11"),
    Case(EVENTS, events_body(3), 400, "eventList[0] must be an object, got int"),
    Case(EVENTS, events_body(event(foo=1)), 400, "eventList[0]: unknown field(s) foo"),
    Case(
        EVENTS,
        events_body({"eventType": "clicked", "itemId": "i1"}),
        400,
        "eventList[0]: missing required field sentAt",
    ),
    Case(
        EVENTS,
        events_body(event(), {"eventType": "clicked", "sentAt": SENT_AT}),
        400,
        "eventList[1]: missing required field itemId",
    ),
    Case(EVENTS, events_body(event(eventType="")), 422, "eventList[0].eventType must not be blank"),
    Case(
        EVENTS,
        events_body(event(sentAt="now")),
        400,
        "eventList[0].sentAt must be a number, got str",
    ),
    Case(
        EVENTS,
        events_body(event(sentAt=True)),
        400,
        "eventList[0].sentAt must be a number, got bool",
    ),
    Case(
        EVENTS,
        events_body(event(eventValue="5")),
        400,
        "eventList[0].eventValue must be a number, got str",
    ),
    Case(
        EVENTS,
        events_body(event(sentAt=100)),
        422,
        "eventList[0].sentAt out of range for Unix seconds; it is earlier than"
        " 2000-01-01 00:00 UTC (value 100.0)",
    ),
    Case(
        EVENTS,
        events_body(event(eventValue=2e9)),
        422,
        "eventList[0].eventValue must be a finite number from -1e+09 to 1e+09 (value 2000000000.0)",
    ),
    Case(
        EVENTS,
        events_body(event(eventType="rated", eventValue=7)),
        422,
        "eventList[0].eventValue is a rating: out of range 1–5 (value 7.0)",
        False,
    ),
    Case(
        EVENTS,
        events_body(event(sentAt=SENT_AT * 1000)),
        422,
        "eventList[0].sentAt out of range for Unix seconds (milliseconds?); it is later than",
        False,
    ),
    Case(
        EVENTS,
        events_body(event(sentAt=100, eventValue="x")),
        422,
        "eventList[0].sentAt out of range for Unix seconds",
    ),
]
SCHEMA_NAMES = {RANKINGS: "RankingRequest", EVENTS: "PutEventsRequest"}


def case_id(case: Case) -> str:
    return f"{case.path.rsplit('/', 1)[1]}-{case.status}-{(case.message or 'ok')[:48]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_server_answers_each_body_with_its_status_and_message(
    client: FlaskClient, service: RecommendationService, case: Case
) -> None:
    known = json.dumps(service.items()[0].item_id)
    data = json.dumps(case.body).replace(json.dumps(ITEM), known)
    response = client.post(case.path, data=data, content_type="application/json")
    assert response.status_code == case.status, response.get_data(as_text=True)
    if case.message is not None:
        assert response.get_json()["error"]["message"].startswith(case.message)


@pytest.mark.parametrize("case", [case for case in CASES if case.schema_sees], ids=case_id)
def test_the_published_schema_accepts_exactly_what_the_server_accepts(case: Case) -> None:
    document = openapi_document()
    schema = {
        "$ref": f"#/components/schemas/{SCHEMA_NAMES[case.path]}",
        "components": document["components"],
    }
    published = jsonschema.Draft202012Validator(schema).is_valid(case.body)
    assert published == (case.status < 400)


def test_every_body_definition_is_in_the_document() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for body in BODIES:
        assert schemas[body.__name__]["additionalProperties"] is False


def test_a_checked_ranking_keeps_the_given_ids_in_order() -> None:
    body = check_object({"inputList": ["b", "a"], "userId": "u"}, RankingRequest, "body")
    assert body == {"userId": "u", "inputList": ["b", "a"]}


RECOMMENDATIONS_RANGE = "query parameter numResults must be between 1 and 500, got"
LONG_FILTER = "filter=" + "x" * 2049
QUERY_CASES = [
    ("", 200, None),
    ("numResults=7", 200, None),
    ("numResults=", 200, None),
    ("numResults=%20", 200, None),
    ("numResults=3&numResults=x", 200, None),
    ("filter=", 200, None),
    ("numResults=0", 422, f"{RECOMMENDATIONS_RANGE} 0"),
    ("numResults=501", 422, f"{RECOMMENDATIONS_RANGE} 501"),
    ("numResults=ten", 400, "query parameter numResults must be an integer, got 'ten'"),
    ("numResults=1.5", 400, "query parameter numResults must be an integer, got '1.5'"),
    (LONG_FILTER, 422, "filter is longer than 2048 characters"),
    (f"{LONG_FILTER}&numResults=0", 422, f"{RECOMMENDATIONS_RANGE} 0"),
]


@pytest.mark.parametrize(("query", "status", "message"), QUERY_CASES, ids=lambda v: str(v)[:30])
def test_the_hand_tuned_recommendations_route_agrees_with_the_typed_query(
    client: FlaskClient,
    service: RecommendationService,
    query: str,
    status: int,
    message: str | None,
) -> None:
    """The route reads its query by hand, for speed; what it accepts and refuses, and the
    messages, are those of checking the query against RecommendationsQuery."""
    user = service.search_users("user_", 1)[0]
    response = client.get(f"/api/v1/users/{user}/recommendations?{query}")
    try:
        typed = check_query(parse_query(query.encode()), RecommendationsQuery)
    except ApiError as refused:
        assert (response.status_code, response.get_json()["error"]["message"]) == (
            refused.status,
            refused.message,
        )
        assert (refused.status, refused.message) == (status, message)
        return
    assert (response.status_code, status) == (200, 200)
    assert 0 < len(response.get_json()["itemList"]) <= typed["numResults"]
