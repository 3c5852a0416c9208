"""The Personalize protocol's request bodies: what each operation refuses, with which status,
error type and message.

Each case is sent to the real app under ``/personalize``; the status, the ``__type`` botocore
turns into an exception class and the message are the protocol's contract with a team's code.
"""

from __future__ import annotations

import json
import time
from typing import Any, NamedTuple

import pytest
from flask.testing import FlaskClient

from srs.serving.service import RecommendationService

PREFIX = "arn:aws:personalize:us-east-1:000000000000"
CAMPAIGN = f"{PREFIX}:campaign/my-campaign"
SIMILAR = f"{PREFIX}:campaign/similar-items"
RANKING = f"{PREFIX}:campaign/personalized-ranking"
RECOMMENDER = f"{PREFIX}:recommender/for-you"
DATASET = f"{PREFIX}:dataset/srs/ITEMS"
RECOMMENDATIONS = "/personalize/recommendations"
PERSONALIZED_RANKING = "/personalize/personalize-ranking"
EVENTS = "/personalize/events"
ITEMS = "/personalize/items"
USERS = "/personalize/users"
USER = "known-user"
ITEM = "known-item"
"""Stand for a user and an item the trained model knows; replaced before sending."""
INVALID = "InvalidInputException"
NOT_FOUND = "ResourceNotFoundException"
SENT_AT = time.time() - 60
LONG = "x" * 257
PROMOTION = {"name": "p", "percentPromotedItems": 50, "filterArn": f"{PREFIX}:filter/nope"}
"""A promotion whose filter does not exist: the cases below fail before it is looked up."""


class Case(NamedTuple):
    path: str
    body: Any
    """A JSON value, or a str sent as it is."""
    status: int
    message: str | None = None
    error_type: str = INVALID


def recommend(**fields: Any) -> dict[str, Any]:
    return {"campaignArn": CAMPAIGN, "userId": USER, **fields}


def rank(**fields: Any) -> dict[str, Any]:
    return {"campaignArn": RANKING, "userId": USER, "inputList": [ITEM], **fields}


def event(**fields: Any) -> dict[str, Any]:
    return {"eventType": "clicked", "itemId": ITEM, "sentAt": SENT_AT, **fields}


def put_events(**fields: Any) -> dict[str, Any]:
    return {"trackingId": "t1", "sessionId": "s1", "userId": USER, "eventList": [event()], **fields}


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != name}


def put_items(*records: Any, **fields: Any) -> dict[str, Any]:
    return {"datasetArn": DATASET, "items": list(records), **fields}


def put_users(*records: Any, **fields: Any) -> dict[str, Any]:
    return {"datasetArn": DATASET, "users": list(records), **fields}


METADATA = {"ITEMS": ["CATEGORY"]}
CASES = [
    # GetRecommendations
    Case(RECOMMENDATIONS, recommend(), 200),
    Case(RECOMMENDATIONS, {"recommenderArn": RECOMMENDER, "userId": USER}, 200),
    Case(RECOMMENDATIONS, recommend(numResults=3, metadataColumns=METADATA, context={}), 200),
    Case(RECOMMENDATIONS, "{", 400, "the request body is not valid JSON: "),
    Case(RECOMMENDATIONS, [1], 400, "the request body must be a JSON object"),
    Case(RECOMMENDATIONS, {"userId": USER}, 400, "campaignArn or recommenderArn is required"),
    Case(
        RECOMMENDATIONS,
        recommend(recommenderArn=RECOMMENDER),
        400,
        "give campaignArn or recommenderArn, not both",
    ),
    Case(RECOMMENDATIONS, recommend(campaignArn=5), 400, "campaignArn must be a string"),
    Case(
        RECOMMENDATIONS,
        recommend(campaignArn=LONG),
        400,
        "campaignArn is longer than 256 characters",
    ),
    Case(RECOMMENDATIONS, recommend(campaignArn="  "), 400, "campaignArn must not be blank"),
    Case(
        RECOMMENDATIONS,
        recommend(campaignArn="arn:nope"),
        400,
        "campaignArn 'arn:nope' is not a Personalize ARN (…:personalize:…:KIND/NAME)",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(campaignArn=RECOMMENDER),
        404,
        f"campaignArn {RECOMMENDER!r} names a recommender, not a campaign",
        NOT_FOUND,
    ),
    Case(
        RECOMMENDATIONS,
        recommend(metadataColumns={"USERS": ["X"]}),
        400,
        "metadataColumns takes one key, ITEMS",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(metadataColumns={"ITEMS": "CATEGORY"}),
        400,
        "metadataColumns.ITEMS must be a list of column names",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(metadataColumns={"ITEMS": ["PRICE"]}),
        400,
        "metadataColumns: PRICE not in the Items dataset"
        " (CATEGORY, DESCRIPTION, ITEM_ID, SERVICE_NAME)",
    ),
    Case(RECOMMENDATIONS, recommend(numResults="5"), 400, "numResults must be an integer"),
    Case(RECOMMENDATIONS, recommend(numResults=True), 400, "numResults must be an integer"),
    Case(RECOMMENDATIONS, recommend(numResults=None), 400, "numResults must be an integer"),
    Case(
        RECOMMENDATIONS,
        recommend(numResults=51, metadataColumns=METADATA),
        400,
        "numResults must be at most 50 when metadataColumns are asked for",
    ),
    Case(RECOMMENDATIONS, recommend(context={"a": 1}), 400, "context must be a map of strings"),
    Case(RECOMMENDATIONS, recommend(promotions=[]), 200),
    Case(RECOMMENDATIONS, recommend(promotions={}), 400, "promotions must hold 0 to 1 promotions"),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[PROMOTION, PROMOTION]),
        400,
        "promotions must hold 0 to 1 promotions",
    ),
    Case(RECOMMENDATIONS, recommend(promotions=["p"]), 400, "promotions[0] must be an object"),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[{"name": "p"}]),
        400,
        "promotions[0].percentPromotedItems is required",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[{**PROMOTION, "percentPromotedItems": 0}]),
        400,
        "promotions[0].percentPromotedItems must be from 1 to 100",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[{**PROMOTION, "percentPromotedItems": "50"}]),
        400,
        "promotions[0].percentPromotedItems must be an integer",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[{"percentPromotedItems": 50}]),
        400,
        "promotions[0].filterArn is required",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[PROMOTION]),
        404,
        "promotions[0].filter 'nope' does not exist; "
        "create it with 'srs filters create nope EXPRESSION'",
        NOT_FOUND,
    ),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[{**PROMOTION, "name": "two words"}]),
        400,
        "promotions[0].name must be letters, digits, '-' or '_', from a letter or digit",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(promotions=[{**PROMOTION, "filterValues": ["x"]}]),
        400,
        "promotions[0].filterValues must be a map of strings",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(filterValues={"A": "1"}),
        400,
        "filterValues needs a filterArn",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(filterValues=["A"]),
        400,
        "filterValues must be a map of strings",
    ),
    Case(RECOMMENDATIONS, recommend(filterArn=7), 400, "filterArn must be a string"),
    Case(
        RECOMMENDATIONS,
        recommend(filterArn=CAMPAIGN),
        400,
        f"filterArn {CAMPAIGN!r} is not a filter ARN (…:filter/NAME)",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(filterArn=f"{PREFIX}:filter/nope"),
        404,
        "filter 'nope' does not exist; create it with 'srs filters create nope EXPRESSION'",
        NOT_FOUND,
    ),
    Case(
        RECOMMENDATIONS,
        without(recommend(), "userId"),
        400,
        "userId is required by a user-personalization campaign",
    ),
    Case(RECOMMENDATIONS, recommend(userId=5), 400, "userId must be a string"),
    Case(RECOMMENDATIONS, recommend(userId=LONG), 400, "userId is longer than 256 characters"),
    Case(RECOMMENDATIONS, {"campaignArn": SIMILAR, "itemId": ITEM}, 200),
    Case(
        RECOMMENDATIONS,
        {"campaignArn": SIMILAR, "userId": USER},
        400,
        "itemId is required by a similar-items campaign",
    ),
    Case(
        RECOMMENDATIONS,
        {"campaignArn": SIMILAR, "itemId": 3},
        400,
        "itemId must be a string",
    ),
    Case(
        RECOMMENDATIONS,
        recommend(campaignArn=RANKING),
        400,
        "a personalized-ranking campaign answers GetPersonalizedRanking only",
    ),
    # GetPersonalizedRanking
    Case(PERSONALIZED_RANKING, rank(), 200),
    Case(PERSONALIZED_RANKING, rank(metadataColumns=METADATA, context={"a": "b"}), 200),
    Case(PERSONALIZED_RANKING, without(rank(), "campaignArn"), 400, "campaignArn is required"),
    Case(
        PERSONALIZED_RANKING,
        rank(campaignArn=RECOMMENDER),
        404,
        "campaignArn names a recommender, not a campaign",
        NOT_FOUND,
    ),
    Case(PERSONALIZED_RANKING, without(rank(), "userId"), 400, "userId is required"),
    Case(PERSONALIZED_RANKING, rank(userId=" "), 400, "userId must not be blank"),
    Case(PERSONALIZED_RANKING, rank(userId=[]), 400, "userId must be a string"),
    Case(
        PERSONALIZED_RANKING,
        without(rank(), "inputList"),
        400,
        "inputList must be a list of item IDs",
    ),
    Case(PERSONALIZED_RANKING, rank(inputList=[1]), 400, "inputList must be a list of item IDs"),
    Case(
        PERSONALIZED_RANKING,
        rank(inputList=[ITEM, " "]),
        400,
        "inputList[1] must be 1 to 256 characters",
    ),
    Case(
        PERSONALIZED_RANKING,
        rank(inputList=[LONG]),
        400,
        "inputList[0] must be 1 to 256 characters",
    ),
    Case(
        PERSONALIZED_RANKING,
        rank(metadataColumns={"ITEMS": [1]}),
        400,
        "metadataColumns.ITEMS must be a list of column names",
    ),
    Case(PERSONALIZED_RANKING, rank(context=[]), 400, "context must be a map of strings"),
    Case(
        PERSONALIZED_RANKING,
        rank(filterValues={"A": "1"}),
        400,
        "filterValues needs a filterArn",
    ),
    # PutEvents
    Case(EVENTS, put_events(), 200),
    Case(EVENTS, without(put_events(), "userId"), 200),
    Case(
        EVENTS,
        put_events(eventList=[event(metricAttribution={"eventAttributionSource": "x"})]),
        200,
    ),
    Case(EVENTS, without(put_events(), "trackingId"), 400, "trackingId is required"),
    Case(EVENTS, put_events(trackingId=""), 400, "trackingId must not be blank"),
    Case(EVENTS, without(put_events(), "sessionId"), 400, "sessionId is required"),
    Case(EVENTS, put_events(sessionId=1), 400, "sessionId must be a string"),
    Case(EVENTS, put_events(userId=1), 400, "userId must be a string"),
    Case(EVENTS, put_events(userId=LONG), 400, "userId is longer than 256 characters"),
    Case(EVENTS, without(put_events(), "eventList"), 400, "eventList must hold 1 to 10 events"),
    Case(EVENTS, put_events(eventList=[]), 400, "eventList must hold 1 to 10 events"),
    Case(EVENTS, put_events(eventList=[event()] * 11), 400, "eventList must hold 1 to 10 events"),
    Case(EVENTS, put_events(eventList={"a": 1}), 400, "eventList must hold 1 to 10 events"),
    Case(EVENTS, put_events(eventList=[1]), 400, "eventList[0] must be an object, got int"),
    Case(
        EVENTS,
        put_events(eventList=[without(event(), "sentAt")]),
        400,
        "eventList[0]: missing required field sentAt",
    ),
    Case(
        EVENTS,
        put_events(eventList=[event(), event(colour="red")]),
        400,
        "eventList[1]: unknown field(s) colour",
    ),
    Case(
        EVENTS,
        put_events(eventList=[event(itemId=" ")]),
        400,
        "eventList[0].itemId must not be blank",
    ),
    Case(
        EVENTS,
        put_events(eventList=[event(sentAt=100)]),
        400,
        "eventList[0].sentAt out of range for Unix seconds; it is earlier than",
    ),
    # PutItems
    Case(ITEMS, put_items({"itemId": "new-item", "properties": '{"category": "Compute"}'}), 200),
    Case(ITEMS, put_items({"itemId": "new-item-2"}), 200),
    Case(ITEMS, without(put_items({"itemId": "a"}), "datasetArn"), 400, "datasetArn is required"),
    Case(
        ITEMS, put_items(datasetArn=5, items=[{"itemId": "a"}]), 400, "datasetArn must be a string"
    ),
    Case(ITEMS, put_items(), 400, "items must hold 1 to 10 records"),
    Case(ITEMS, put_items(*[{"itemId": "a"}] * 11), 400, "items must hold 1 to 10 records"),
    Case(ITEMS, {"datasetArn": DATASET}, 400, "items must hold 1 to 10 records"),
    Case(ITEMS, put_items({"itemId": "a"}, "b"), 400, "each of items must be an object"),
    Case(ITEMS, put_items({"properties": "{}"}), 400, "itemId is required"),
    Case(ITEMS, put_items({"itemId": " "}), 400, "itemId must not be blank"),
    Case(
        ITEMS,
        put_items({"itemId": "a", "properties": "{"}),
        400,
        "items[0].properties is not valid JSON",
    ),
    Case(
        ITEMS,
        put_items({"itemId": "a", "properties": "[1]"}),
        400,
        "items[0].properties must be a JSON object",
    ),
    Case(
        ITEMS,
        put_items({"itemId": "a", "properties": 5}),
        400,
        "items[0].properties must be a JSON object",
    ),
    Case(
        ITEMS,
        put_items({"itemId": "a"}, {"itemId": "b", "properties": '{"price": "1"}'}),
        400,
        "items[1].properties: price not in the Items schema (serviceName, category, description)",
    ),
    Case(
        ITEMS,
        put_items({"itemId": "a", "properties": '{"category": 1}'}),
        400,
        "items[0].properties.category must be a string",
    ),
    # PutUsers
    Case(USERS, put_users({"userId": "new-user", "properties": '{"plan": "pro"}'}), 200),
    Case(USERS, put_users({"userId": "new-user-2"}), 200),
    Case(USERS, without(put_users({"userId": "a"}), "datasetArn"), 400, "datasetArn is required"),
    Case(USERS, put_users(), 400, "users must hold 1 to 10 records"),
    Case(USERS, put_users(users="a"), 400, "users must hold 1 to 10 records"),
    Case(USERS, put_users([]), 400, "each of users must be an object"),
    Case(USERS, put_users({"properties": "{}"}), 400, "userId is required"),
    Case(USERS, put_users({"userId": 4}), 400, "userId must be a string"),
    Case(
        USERS,
        put_users({"userId": "a", "properties": "x"}),
        400,
        "users[0].properties is not valid JSON",
    ),
    Case(
        USERS,
        put_users({"userId": "a", "properties": "3"}),
        400,
        "users[0].properties must be a JSON object",
    ),
]


def case_id(case: Case) -> str:
    return f"{case.path.rsplit('/', 1)[1]}-{case.status}-{(case.message or 'ok')[:48]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_each_operation_answers_each_body_with_its_status_type_and_message(
    client: FlaskClient, service: RecommendationService, case: Case
) -> None:
    user = service.search_users("user_", 1)[0]
    item = service.items()[0].item_id
    data = case.body if isinstance(case.body, str) else json.dumps(case.body)
    data = data.replace(json.dumps(USER), json.dumps(user)).replace(
        json.dumps(ITEM), json.dumps(item)
    )
    response = client.post(case.path, data=data, content_type="application/x-amz-json-1.1")
    assert response.status_code == case.status, response.get_data(as_text=True)
    if case.status == 200:
        return
    answer = response.get_json()
    assert response.headers["x-amzn-errortype"] == case.error_type
    assert answer["__type"] == case.error_type
    assert case.message is not None
    if case.message.endswith(": ") or case.message.endswith("than"):
        assert answer["message"].startswith(case.message), answer["message"]
    else:
        assert answer["message"] == case.message
