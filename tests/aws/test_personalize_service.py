"""The ``personalize`` backend through Stubber on real personalize-runtime and -events clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from stubbing import Script, arn, make_client

from srs.aws.personalize_service import (
    DEFAULT_REASON,
    PersonalizeRecommendationService,
    catalog_from_frame,
)
from srs.events.event import Event
from srs.serving.service import HistoryEntry, HistoryPage, ItemInfo, NotReadyError, RequestError

CAMPAIGN = arn("campaign", "srs-campaign")
RANKING = arn("campaign", "srs-ranking")
FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")'
FILTER_ARN = arn("filter", "srs-default")
ITEMS = [
    ItemInfo("i001", "Amazon S3", "Storage", "Object storage"),
    ItemInfo("i002", "AWS Lambda", "Compute", "Functions"),
]


def history_page(user_id: str, limit: int, offset: int) -> HistoryPage:
    entry = HistoryEntry("i001", "Amazon S3", "Storage", "viewed", 3.0, 1_700_000_000)
    return HistoryPage([entry] if user_id == "u1" else [], 1 if user_id == "u1" else 0)


def make_service(**overrides: Any) -> tuple[PersonalizeRecommendationService, Script, Script]:
    runtime = make_client("personalize-runtime")
    events = make_client("personalize-events")
    arguments: dict[str, Any] = {
        "runtime": runtime,
        "events": events,
        "campaign_arn": CAMPAIGN,
        "tracking_id": "tracking-0123",
        "items": ITEMS,
        "history": history_page,
        "filter_arns": {FILTER: FILTER_ARN},
        "ranking_campaign_arn": RANKING,
    }
    arguments.update(overrides)
    return PersonalizeRecommendationService(**arguments), Script(runtime), Script(events)


def test_recommend_maps_item_ids_to_services_and_passes_the_filter() -> None:
    service, runtime, _ = make_service()
    runtime.ok(
        "get_recommendations",
        {
            "recommendationId": "RID-1",
            "itemList": [
                {"itemId": "i002", "score": 0.6, "reason": ["popular with similar users"]},
                {"itemId": "i001", "score": 0.3},
                {"itemId": "i999"},
            ],
        },
        campaignArn=CAMPAIGN,
        userId="u1",
        numResults=3,
        filterArn=FILTER_ARN,
        filterValues={"CATEGORY": '"Compute"'},
    )
    with runtime:
        answer = service.recommend("u1", 3, filter=FILTER, filter_values={"CATEGORY": '"Compute"'})
    runtime.done()
    assert answer.recommendation_id == "RID-1"
    assert [(i.item_id, i.service_name, i.score) for i in answer.item_list] == [
        ("i002", "AWS Lambda", 0.6),
        ("i001", "Amazon S3", 0.3),
        ("i999", "i999", None),
    ]
    assert answer.item_list[0].reason == "popular with similar users"
    assert answer.item_list[1].reason == DEFAULT_REASON


def test_undeployed_filter_and_bad_counts_are_request_errors() -> None:
    service, _, _ = make_service()
    with pytest.raises(RequestError, match="is not deployed on Personalize"):
        service.recommend("u1", 5, filter='EXCLUDE ItemID WHERE Items.CATEGORY IN ("x")')
    with pytest.raises(RequestError, match="numResults must be between 1 and 500"):
        service.recommend("u1", 501)
    with pytest.raises(RequestError, match="eventList must hold 1 to 10 events, got 0"):
        service.put_events("u1", "s1", [])


def test_rank_keeps_personalize_order() -> None:
    service, runtime, _ = make_service()
    runtime.ok(
        "get_personalized_ranking",
        {"personalizedRanking": [{"itemId": "i001", "score": 0.7}, {"itemId": "i002"}]},
        campaignArn=RANKING,
        userId="u1",
        inputList=["i002", "i001"],
    )
    with runtime:
        answer = service.rank("u1", ["i002", "i001"])
    runtime.done()
    assert [i.item_id for i in answer.item_list] == ["i001", "i002"]
    assert answer.item_list[1].score is None


def test_similar_without_a_similar_items_campaign_is_not_ready() -> None:
    service, _, _ = make_service()
    with pytest.raises(NotReadyError, match="no similar-items campaign"):
        service.similar("i001")


def test_put_events_sends_the_event_tracker_shape() -> None:
    service, _, events = make_service()
    events.ok(
        "put_events",
        {},
        trackingId="tracking-0123",
        userId="u1",
        sessionId="s1",
        eventList=[
            {
                "eventType": "launched",
                "itemId": "i002",
                "eventValue": 5.0,
                "sentAt": datetime.fromtimestamp(1_700_000_100, tz=UTC),
            }
        ],
    )
    with events:
        service.put_events("u1", "s1", [Event("launched", "i002", 1_700_000_100, 5.0)])
    events.done()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (Event("clicked", "i002", 1_700_000_000_000), r"eventList\[1\]\.sentAt .*milliseconds"),
        (Event("clicked", "i002", 2**70), r"eventList\[1\]\.sentAt"),
        (Event("rated", "i002", 1_700_000_000, 99.0), r"eventList\[1\]\.eventValue is a rating"),
        (Event("clicked", " ", 1_700_000_000), r"eventList\[1\]\.itemId is blank"),
    ],
)
def test_an_invalid_event_never_reaches_the_event_tracker(event: Event, message: str) -> None:
    """The backend applies the shared event rules itself, so a caller other than the API
    cannot send Personalize what the local store would refuse."""
    service, _, events = make_service()
    with events, pytest.raises(RequestError, match=message):
        service.put_events("u1", "s1", [Event("clicked", "i001", 1_700_000_000), event])
    events.done()  # nothing was scripted: any call would have failed the stubber


def test_aws_errors_become_request_or_not_ready_errors() -> None:
    service, runtime, _ = make_service()
    runtime.fail("get_recommendations", "InvalidInputException", "userId is too long")
    runtime.fail("get_recommendations", "ResourceNotFoundException", "campaign not found")
    runtime.fail("get_recommendations", "ThrottlingException", "Rate exceeded")
    with runtime:
        with pytest.raises(RequestError, match="userId is too long"):
            service.recommend("u1")
        with pytest.raises(NotReadyError, match="run 'srs aws setup'"):
            service.recommend("u1")
        with pytest.raises(NotReadyError, match="ThrottlingException: Rate exceeded"):
            service.recommend("u1")
    runtime.done()


def test_history_items_and_readiness_come_from_the_data_side() -> None:
    service, _, _ = make_service()
    assert service.history("u1").total == 1
    assert service.history("nobody").interactions == []
    assert [item.service_name for item in service.items()] == ["Amazon S3", "AWS Lambda"]
    assert service.is_ready()
    assert not make_service(tracking_id="")[0].is_ready()


def test_catalog_from_a_prepared_items_frame() -> None:
    frame = pd.DataFrame(
        {"ITEM_ID": ["i001"], "SERVICE_NAME": ["Amazon S3"], "CATEGORY": ["Storage"]}
    )
    assert catalog_from_frame(frame) == [ItemInfo("i001", "Amazon S3", "Storage", "")]
