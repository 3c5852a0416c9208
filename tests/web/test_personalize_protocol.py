"""Personalize's wire protocol under ``/personalize``: real boto3 clients, over HTTP, against
a real ``srs serve`` (granian, two workers), with no Stubber and no mocks.

Two servers, each started once for the module: ``local`` answers with the embedded engine;
``proxy`` runs the whole app with ``SRS_BACKEND=personalize`` pointed at ``local``'s
``/personalize``, so its web page is served through boto3 and the protocol, as it would be
through Amazon Personalize. ``proxy`` also checks access keys; ``local`` takes any.
Each test uses users of its own, since the servers' event stores are shared by the module.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from markupsafe import escape
from web_support import DataFacts, copy_template, running_server

SRS = Path(sys.executable).with_name("srs")
REGION = "us-east-1"
ACCOUNT = "000000000000"
PREFIX = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
CAMPAIGN = f"{PREFIX}:campaign/my-service-campaign"
SIMILAR_CAMPAIGN = f"{PREFIX}:campaign/aws-similar-items"
RANKING_CAMPAIGN = f"{PREFIX}:campaign/personalized-ranking"
RECOMMENDER = f"{PREFIX}:recommender/recommended-for-you"
ITEMS_DATASET = f"{PREFIX}:dataset/srs/ITEMS"
USERS_DATASET = f"{PREFIX}:dataset/srs/USERS"
PROXY_KEY = "AKIASRSPROXYTEST0001"
STORAGE_FILTER = 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("Storage")'

# The design document's RecommendationEngine, as written there; it reads the module-level
# names personalize_runtime and campaign_arn.
DESIGN_SNIPPET = '''
class RecommendationEngine:
    """
    Manages recommendation generation

    Features:
    - Real-time processing
    - Personalized rankings
    - Confidence scoring
    """
    def get_recommendations(self, user_id):
        return personalize_runtime.get_recommendations(
            campaignArn=campaign_arn,
            userId=user_id
        )
'''


@dataclass(frozen=True)
class Servers:
    local: str
    proxy: str
    data_dir: Path


def srs(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("SRS_")}
    return subprocess.run(
        [str(SRS), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


@pytest.fixture(scope="module")
def servers(
    trained_template: tuple[Path, DataFacts], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    local_root = tmp_path_factory.mktemp("personalize-local")
    proxy_root = tmp_path_factory.mktemp("personalize-proxy")
    data_dir = copy_template(trained_template[0], local_root / "data").data_dir
    proxy_dir = copy_template(trained_template[0], proxy_root / "data").data_dir
    created = srs(data_dir, "filters", "create", "no-storage", STORAGE_FILTER)
    assert created.returncode == 0, created.stderr
    with running_server(data_dir, local_root, workers=2) as local:
        proxy_settings = {
            "SRS_BACKEND": "personalize",
            "SRS_PERSONALIZE_ENDPOINT_URL": f"{local}/personalize",
            "SRS_PERSONALIZE_ACCESS_KEYS": PROXY_KEY,
        }
        with running_server(proxy_dir, proxy_root, workers=2, settings=proxy_settings) as proxy:
            yield Servers(local, proxy, data_dir)


def client(service: str, url: str, key: str | None = None) -> Any:
    """A boto3 client as a team's code makes one, with a key of its own each time."""
    return boto3.client(
        service,
        endpoint_url=f"{url}/personalize",
        region_name=REGION,
        aws_access_key_id=key or "AKIA" + secrets.token_hex(8).upper(),
        aws_secret_access_key=secrets.token_hex(20),
    )


@pytest.fixture(scope="module")
def runtime(servers: Servers) -> Any:
    return client("personalize-runtime", servers.local)


@pytest.fixture(scope="module")
def events(servers: Servers) -> Any:
    return client("personalize-events", servers.local)


def api(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=30) as response:
        return json.loads(response.read())


def api_ids(url: str, path: str) -> list[str]:
    return [item["itemId"] for item in api(url, path)["itemList"]]


def ids(response: dict[str, Any], key: str = "itemList") -> list[str]:
    return [item["itemId"] for item in response[key]]


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    error = raised.value.response
    return (
        error["Error"]["Code"],
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Message"],
    )


def event(event_type: str, item_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "itemId": item_id,
        "sentAt": dt.datetime.now(dt.UTC),
        **extra,
    }


# ---- GetRecommendations -----------------------------------------------------------------------


def test_design_snippet_runs_as_written(servers: Servers) -> None:
    namespace: dict[str, Any] = {
        "personalize_runtime": client("personalize-runtime", servers.local),
        "campaign_arn": CAMPAIGN,
    }
    exec(DESIGN_SNIPPET, namespace)
    response = namespace["RecommendationEngine"]().get_recommendations("user_000010")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(response["recommendationId"]) == 36
    assert len(response["itemList"]) == 25
    assert all(isinstance(item["score"], float) for item in response["itemList"])
    assert all(item["reason"] and item["reason"][0] for item in response["itemList"])
    assert ids(response) == api_ids(servers.local, "/api/v1/users/user_000010/recommendations")


def test_recommender_arn_num_results_and_metadata_columns(servers: Servers, runtime: Any) -> None:
    response = runtime.get_recommendations(
        recommenderArn=RECOMMENDER,
        userId="user_000011",
        numResults=7,
        metadataColumns={"ITEMS": ["SERVICE_NAME", "CATEGORY"]},
        context={"DEVICE": "phone"},
    )

    catalogue = {item["itemId"]: item for item in api(servers.local, "/api/v1/items")["items"]}
    assert len(response["itemList"]) == 7
    for item in response["itemList"]:
        known = catalogue[item["itemId"]]
        assert item["metadata"] == {
            "SERVICE_NAME": known["serviceName"],
            "CATEGORY": known["category"],
        }


def test_similar_items_campaign_answers_related_items(servers: Servers, runtime: Any) -> None:
    source = api_ids(servers.local, "/api/v1/users/user_000012/recommendations")[0]

    response = runtime.get_recommendations(
        campaignArn=SIMILAR_CAMPAIGN, itemId=source, numResults=10
    )

    assert source not in ids(response)
    assert ids(response) == api_ids(servers.local, f"/api/v1/items/{source}/similar?numResults=10")
    assert all("score" in item for item in response["itemList"])
    with pytest.raises(runtime.exceptions.InvalidInputException) as missing:
        runtime.get_recommendations(campaignArn=SIMILAR_CAMPAIGN, userId="user_000012")
    assert "itemId is required" in error_of(missing)[2]
    with pytest.raises(runtime.exceptions.ResourceNotFoundException) as unknown:
        runtime.get_recommendations(campaignArn=SIMILAR_CAMPAIGN, itemId="no-such-service")
    assert error_of(unknown)[1] == 404


@pytest.mark.parametrize(
    ("request_fields", "error", "message"),
    [
        ({"campaignArn": CAMPAIGN}, "InvalidInputException", "userId is required"),
        ({"userId": "u"}, "InvalidInputException", "campaignArn or recommenderArn"),
        (
            {"campaignArn": CAMPAIGN, "recommenderArn": RECOMMENDER, "userId": "u"},
            "InvalidInputException",
            "not both",
        ),
        (
            {"campaignArn": CAMPAIGN, "userId": "u", "numResults": 501},
            "InvalidInputException",
            "numResults",
        ),
        (
            {"campaignArn": "arn:aws:s3:::bucket", "userId": "u"},
            "InvalidInputException",
            "not a Personalize ARN",
        ),
        (
            {"campaignArn": f"{PREFIX}:filter/no-storage", "userId": "u"},
            "ResourceNotFoundException",
            "not a campaign",
        ),
        (
            {"campaignArn": CAMPAIGN, "userId": "u", "filterArn": f"{PREFIX}:filter/nothing"},
            "ResourceNotFoundException",
            "filter 'nothing' does not exist",
        ),
        (
            {"campaignArn": CAMPAIGN, "userId": "u", "filterValues": {"A": '"b"'}},
            "InvalidInputException",
            "filterValues needs a filterArn",
        ),
        (
            {"campaignArn": CAMPAIGN, "userId": "u", "metadataColumns": {"ITEMS": ["PRICE"]}},
            "InvalidInputException",
            "PRICE not in the Items dataset",
        ),
        (
            {
                "campaignArn": CAMPAIGN,
                "userId": "u",
                "numResults": 60,
                "metadataColumns": {"ITEMS": ["CATEGORY"]},
            },
            "InvalidInputException",
            "at most 50",
        ),
        (
            {"campaignArn": RANKING_CAMPAIGN, "userId": "u"},
            "InvalidInputException",
            "GetPersonalizedRanking only",
        ),
        (
            {
                "campaignArn": CAMPAIGN,
                "userId": "u",
                "promotions": [{"name": "p", "percentPromotedItems": 10}],
            },
            "InvalidInputException",
            "promotions",
        ),
    ],
)
def test_get_recommendations_refuses_bad_input(
    runtime: Any, request_fields: dict[str, Any], error: str, message: str
) -> None:
    with pytest.raises(getattr(runtime.exceptions, error)) as raised:
        runtime.get_recommendations(**request_fields)

    code, status, text = error_of(raised)
    assert code == error
    assert status == (404 if error == "ResourceNotFoundException" else 400)
    assert message in text


# ---- GetPersonalizedRanking -------------------------------------------------------------------


def test_personalized_ranking_orders_the_input(servers: Servers, runtime: Any) -> None:
    recommended = api_ids(servers.local, "/api/v1/users/user_000013/recommendations?numResults=4")

    response = runtime.get_personalized_ranking(
        campaignArn=RANKING_CAMPAIGN,
        userId="user_000013",
        inputList=["no-such-service", *reversed(recommended)],
        metadataColumns={"ITEMS": ["SERVICE_NAME"]},
    )

    ranking = response["personalizedRanking"]
    assert [item["itemId"] for item in ranking] == [*recommended, "no-such-service"]
    assert "score" not in ranking[-1]
    assert sum(item["score"] for item in ranking[:-1]) == pytest.approx(1.0)
    assert ranking[-1]["metadata"] == {"SERVICE_NAME": "no-such-service"}
    assert len(response["recommendationId"]) == 36


def test_personalized_ranking_refuses_bad_input(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.InvalidInputException) as empty:
        runtime.get_personalized_ranking(campaignArn=CAMPAIGN, userId="u", inputList=[])
    assert "inputList" in error_of(empty)[2]
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_personalized_ranking(campaignArn=RECOMMENDER, userId="u", inputList=["a"])
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_personalized_ranking(
            campaignArn=CAMPAIGN, userId="u", inputList=["a"], filterArn=f"{PREFIX}:filter/no"
        )


def test_filters_apply_to_rankings_and_similar_items(servers: Servers, runtime: Any) -> None:
    catalogue = api(servers.local, "/api/v1/items")["items"]
    storage = [item["itemId"] for item in catalogue if item["category"] == "Storage"]
    others = [item["itemId"] for item in catalogue if item["category"] != "Storage"]
    no_storage = f"{PREFIX}:filter/no-storage"

    ranked = runtime.get_personalized_ranking(
        campaignArn=RANKING_CAMPAIGN,
        userId="user_000014",
        inputList=[*storage[:3], *others[:3]],
        filterArn=no_storage,
    )
    only_storage = runtime.get_personalized_ranking(
        campaignArn=RANKING_CAMPAIGN,
        userId="user_000014",
        inputList=storage[:2],
        filterArn=no_storage,
    )
    source = others[0]
    similar = runtime.get_recommendations(
        campaignArn=SIMILAR_CAMPAIGN, itemId=source, numResults=100, filterArn=no_storage
    )
    unfiltered = runtime.get_recommendations(
        campaignArn=SIMILAR_CAMPAIGN, itemId=source, numResults=100
    )

    assert sorted(ids(ranked, "personalizedRanking")) == sorted(others[:3])
    assert only_storage["personalizedRanking"] == []
    assert set(ids(unfiltered)) & set(storage)
    assert not set(ids(similar)) & set(storage)
    kept = [item for item in ids(unfiltered) if item not in storage]
    assert ids(similar)[: len(kept)] == kept


# ---- PutEvents ----------------------------------------------------------------------------------


def test_put_events_changes_the_next_recommendation(runtime: Any, events: Any) -> None:
    before = ids(runtime.get_recommendations(campaignArn=CAMPAIGN, userId="user_000020"))
    first = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="user_000020")

    answer = events.put_events(
        trackingId="any-tracker",
        userId="user_000020",
        sessionId="session-20",
        eventList=[
            event(
                "not_interested",
                before[0],
                eventId="e-1",
                recommendationId=first["recommendationId"],
                properties=json.dumps({"page": "home"}),
                impression=before[:3],
                metricAttribution={"eventAttributionSource": "home-page"},
            )
        ],
    )

    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    after = ids(runtime.get_recommendations(campaignArn=CAMPAIGN, userId="user_000020"))
    assert before[0] not in after
    assert after != before


def test_put_events_without_user_is_kept_under_the_session(servers: Servers, events: Any) -> None:
    item = api(servers.local, "/api/v1/items")["items"][0]["itemId"]

    events.put_events(
        trackingId="t", sessionId="anonymous-session-1", eventList=[event("viewed", item)]
    )

    history = api(servers.local, "/api/v1/users/anonymous-session-1/history")
    assert [entry["itemId"] for entry in history["interactions"]] == [item]


@pytest.mark.parametrize(
    ("bad_event", "message"),
    [
        ({"sentAt": dt.datetime(1990, 1, 1, tzinfo=dt.UTC)}, "eventList[1].sentAt out of range"),
        ({"itemId": "no-such-service"}, "not in the catalogue"),
        ({"eventType": "rated", "eventValue": 9.0}, "eventList[1].eventValue is a rating"),
    ],
)
def test_put_events_refuses_bad_events_and_stores_none(
    servers: Servers, events: Any, bad_event: dict[str, Any], message: str
) -> None:
    item = api(servers.local, "/api/v1/items")["items"][1]["itemId"]
    user = f"bad-events-{secrets.token_hex(4)}"

    with pytest.raises(events.exceptions.InvalidInputException) as raised:
        events.put_events(
            trackingId="t",
            userId=user,
            sessionId="s",
            eventList=[event("viewed", item), {**event("viewed", item), **bad_event}],
        )

    assert message in error_of(raised)[2]
    with pytest.raises(urllib.error.HTTPError) as missing:
        api(servers.local, f"/api/v1/users/{user}/history")
    assert missing.value.code == 404


def test_put_events_refuses_more_than_ten_events(events: Any) -> None:
    with pytest.raises(events.exceptions.InvalidInputException) as raised:
        events.put_events(
            trackingId="t", userId="u", sessionId="s", eventList=[event("viewed", "x")] * 11
        )
    assert "1 to 10 events" in error_of(raised)[2]


# ---- PutItems and PutUsers ----------------------------------------------------------------------


def test_put_items_makes_a_new_item_recommendable(
    servers: Servers, runtime: Any, events: Any
) -> None:
    new_item = "svc-quantum-ledger"
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_events(
            trackingId="t", userId="u", sessionId="s", eventList=[event("viewed", new_item)]
        )

    events.put_items(
        datasetArn=ITEMS_DATASET,
        items=[
            {
                "itemId": new_item,
                "properties": json.dumps(
                    {"serviceName": "Amazon Quantum Ledger", "category": "Quantum"}
                ),
            }
        ],
    )
    created = srs(
        servers.data_dir,
        "filters",
        "create",
        "quantum",
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Quantum")',
    )
    assert created.returncode == 0, created.stderr

    only_new = runtime.get_recommendations(
        campaignArn=CAMPAIGN,
        userId="user_000030",
        filterArn=f"{PREFIX}:filter/quantum",
        metadataColumns={"ITEMS": ["SERVICE_NAME"]},
    )
    assert only_new["itemList"] == [
        {
            "itemId": new_item,
            "score": 0.0,
            "reason": ["new item: no interactions yet"],
            "metadata": {"SERVICE_NAME": "Amazon Quantum Ledger"},
        }
    ]
    everything = ids(
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId="user_000031", numResults=500)
    )
    assert everything[-1] == new_item
    catalogue = {item["itemId"]: item for item in api(servers.local, "/api/v1/items")["items"]}
    assert catalogue[new_item]["serviceName"] == "Amazon Quantum Ledger"
    events.put_events(
        trackingId="t", userId="user_000031", sessionId="s", eventList=[event("viewed", new_item)]
    )
    history = api(servers.local, "/api/v1/users/user_000031/history")
    assert history["interactions"][0]["serviceName"] == "Amazon Quantum Ledger"
    similar = runtime.get_recommendations(campaignArn=SIMILAR_CAMPAIGN, itemId=new_item)
    assert new_item not in ids(similar) and len(similar["itemList"]) == 25


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (json.dumps({"price": "12"}), "price not in the Items schema"),
        ("{not json", "not valid JSON"),
        (json.dumps(["Storage"]), "must be a JSON object"),
        (json.dumps({"category": 7}), "category must be a string"),
    ],
)
def test_put_items_refuses_bad_properties(events: Any, properties: str, message: str) -> None:
    with pytest.raises(events.exceptions.InvalidInputException) as raised:
        events.put_items(
            datasetArn=ITEMS_DATASET, items=[{"itemId": "svc-bad", "properties": properties}]
        )
    assert message in error_of(raised)[2]


def test_put_users_adds_a_user_the_search_finds(servers: Servers, events: Any) -> None:
    events.put_users(
        datasetArn=USERS_DATASET,
        users=[{"userId": "newcomer-ada", "properties": json.dumps({"TEAM": "data"})}],
    )

    with urllib.request.urlopen(f"{servers.local}/suggest/users?q=newcomer", timeout=30) as page:
        assert "newcomer-ada" in page.read().decode()
    with pytest.raises(events.exceptions.InvalidInputException) as too_many:
        events.put_users(datasetArn=USERS_DATASET, users=[{"userId": f"u{n}"} for n in range(11)])
    assert "1 to 10" in error_of(too_many)[2]


# ---- named filters ------------------------------------------------------------------------------


def test_named_filter_selected_by_filter_arn_everywhere(servers: Servers, runtime: Any) -> None:
    arn = f"{PREFIX}:filter/no-storage"
    unfiltered = runtime.get_recommendations(
        campaignArn=CAMPAIGN,
        userId="user_000040",
        numResults=50,
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )
    filtered = runtime.get_recommendations(
        campaignArn=CAMPAIGN,
        userId="user_000040",
        numResults=50,
        filterArn=arn,
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )

    assert any(item["metadata"]["CATEGORY"] == "Storage" for item in unfiltered["itemList"])
    assert all(item["metadata"]["CATEGORY"] != "Storage" for item in filtered["itemList"])
    query = urllib.parse.urlencode({"filterArn": arn, "numResults": 50})
    assert ids(filtered) == api_ids(
        servers.local, f"/api/v1/users/user_000040/recommendations?{query}"
    )
    listed = srs(servers.data_dir, "filters", "list")
    assert f"no-storage\t{arn}\t{STORAGE_FILTER}" in listed.stdout


def test_deleted_filter_is_not_found_on_either_api(servers: Servers, runtime: Any) -> None:
    assert srs(servers.data_dir, "filters", "create", "gone", STORAGE_FILTER).returncode == 0
    arn = f"{PREFIX}:filter/gone"
    runtime.get_recommendations(campaignArn=CAMPAIGN, userId="user_000041", filterArn=arn)

    deleted = srs(servers.data_dir, "filters", "delete", "gone")

    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId="user_000041", filterArn=arn)
    query = urllib.parse.urlencode({"filterArn": arn})
    with pytest.raises(urllib.error.HTTPError) as missing:
        api(servers.local, f"/api/v1/users/user_000041/recommendations?{query}")
    assert missing.value.code == 404
    assert "no filter named 'gone'" in json.loads(missing.value.read())["error"]["message"]


def test_unknown_operation_answers_in_the_error_shape(servers: Servers) -> None:
    call = urllib.request.Request(f"{servers.local}/personalize/no-such-operation", data=b"{}")

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(call, timeout=30)

    assert raised.value.code == 404
    assert raised.value.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert json.loads(raised.value.read())["__type"] == "UnknownOperationException"


# ---- the whole app on the personalize backend, through the protocol -----------------------------


def test_web_page_served_through_the_personalize_backend(servers: Servers) -> None:
    expected = api(servers.local, "/api/v1/users/user_000050/recommendations?numResults=5")

    with urllib.request.urlopen(f"{servers.proxy}/?user=user_000050", timeout=30) as page:
        body = page.read().decode()

    history = api(servers.local, "/api/v1/users/user_000050/history?limit=200")["interactions"]
    used = {entry["serviceName"] for entry in history}
    names = [item["serviceName"] for item in expected["itemList"]]
    assert set(names) - used
    for name in set(names) - used:
        assert str(escape(name)) in body, name
    assert api_ids(servers.proxy, "/api/v1/users/user_000050/recommendations?numResults=5") == [
        item["itemId"] for item in expected["itemList"]
    ]


def test_access_keys_setting_refuses_other_keys(servers: Servers) -> None:
    stranger = client("personalize-runtime", servers.proxy)
    with pytest.raises(ClientError) as raised:
        stranger.get_recommendations(campaignArn=CAMPAIGN, userId="user_000051")
    assert error_of(raised)[:2] == ("UnrecognizedClientException", 403)

    allowed = client("personalize-runtime", servers.proxy, key=PROXY_KEY)
    response = allowed.get_recommendations(campaignArn=CAMPAIGN, userId="user_000051")
    assert ids(response) == api_ids(servers.local, "/api/v1/users/user_000051/recommendations")


def test_web_page_offers_the_named_filters(servers: Servers) -> None:
    query = urllib.parse.urlencode({"filterArn": f"{PREFIX}:filter/no-storage", "numResults": 12})
    expected = api(servers.local, f"/api/v1/users/user_000042/recommendations?{query}")
    unfiltered = api(servers.local, "/api/v1/users/user_000042/recommendations?numResults=12")
    storage = {
        item["serviceName"]
        for item in api(servers.local, "/api/v1/items")["items"]
        if item["category"] == "Storage"
    }
    dropped = {item["serviceName"] for item in unfiltered["itemList"]} & storage
    assert dropped

    with urllib.request.urlopen(
        f"{servers.local}/?user=user_000042&filter=no-storage", timeout=30
    ) as page:
        body = page.read().decode()

    with urllib.request.urlopen(f"{servers.local}/?user=user_000042", timeout=30) as page:
        plain = page.read().decode()

    def cards(html: str) -> str:
        return html[html.index('id="recommendations"') : html.index('id="history"')]

    assert '<option value="no-storage" selected' in body
    for item in expected["itemList"]:
        assert str(escape(item["serviceName"])) in cards(body)
    assert all(f">{escape(name)}<" in cards(plain) for name in dropped)
    assert not any(f">{escape(name)}<" in cards(body) for name in dropped)
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{servers.local}/?user=user_000042&filter=nothing", timeout=30)
    assert unknown.value.code == 404


def test_a_body_over_the_limit_is_refused_in_the_error_shape(servers: Servers) -> None:
    body = json.dumps({"campaignArn": CAMPAIGN, "userId": "u" * 300_000}).encode()
    call = urllib.request.Request(
        f"{servers.local}/personalize/recommendations",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(call, timeout=30)

    assert raised.value.code == 413
    assert raised.value.headers["x-amzn-errortype"] == "InvalidInputException"


def test_popularity_campaign_answers_the_most_used_items(servers: Servers, runtime: Any) -> None:
    popularity = f"{PREFIX}:campaign/aws-popularity-count"

    anyone = runtime.get_recommendations(campaignArn=popularity, numResults=10)
    filtered = runtime.get_recommendations(
        campaignArn=popularity,
        userId="user_000043",
        numResults=50,
        filterArn=f"{PREFIX}:filter/no-storage",
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )

    newcomer = "/api/v1/users/never-seen-before/recommendations?numResults=10"
    assert ids(anyone) == api_ids(servers.local, newcomer)
    assert {tuple(item["reason"]) for item in anyone["itemList"]} == {("popular",)}
    assert all(item["metadata"]["CATEGORY"] != "Storage" for item in filtered["itemList"])
    scores = [item["score"] for item in filtered["itemList"]]
    assert scores == sorted(scores, reverse=True)


def test_proxy_refuses_unsigned_calls_and_has_no_items_dataset(servers: Servers) -> None:
    unsigned = urllib.request.Request(
        f"{servers.proxy}/personalize/recommendations",
        data=json.dumps({"campaignArn": CAMPAIGN, "userId": "user_000052"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(unsigned, timeout=30)
    assert raised.value.code == 403
    assert raised.value.headers["x-amzn-errortype"] == "UnrecognizedClientException"

    proxy_events = client("personalize-events", servers.proxy, key=PROXY_KEY)
    with pytest.raises(proxy_events.exceptions.ResourceNotFoundException) as missing:
        proxy_events.put_items(datasetArn=ITEMS_DATASET, items=[{"itemId": "svc-x"}])
    assert "no Items or Users dataset" in error_of(missing)[2]


def test_similar_page_served_through_the_personalize_backend(servers: Servers) -> None:
    source = api_ids(servers.local, "/api/v1/users/user_000053/recommendations")[0]
    expected = api(servers.local, f"/api/v1/items/{source}/similar?numResults=6")

    with urllib.request.urlopen(f"{servers.proxy}/similar?item={source}", timeout=30) as page:
        body = page.read().decode()

    cards = body[body.index('class="cards"') :]
    positions = [cards.find(str(escape(item["serviceName"]))) for item in expected["itemList"]]
    assert all(position >= 0 for position in positions)
    assert positions == sorted(positions)


def test_a_promotion_fills_its_share_with_the_filters_items_in_their_order(
    servers: Servers, runtime: Any
) -> None:
    include = STORAGE_FILTER.replace("EXCLUDE", "INCLUDE", 1)
    assert srs(servers.data_dir, "filters", "create", "storage-only", include).returncode == 0
    arn = f"{PREFIX}:filter/storage-only"
    user = "user_000043"
    plain = ids(runtime.get_recommendations(campaignArn=CAMPAIGN, userId=user, numResults=10))
    storage = ids(
        runtime.get_recommendations(campaignArn=CAMPAIGN, userId=user, numResults=5, filterArn=arn)
    )
    assert storage and set(plain) - set(storage)

    answer = runtime.get_recommendations(
        campaignArn=CAMPAIGN,
        userId=user,
        numResults=10,
        promotions=[{"name": "storage-week", "percentPromotedItems": 50, "filterArn": arn}],
        metadataColumns={"ITEMS": ["CATEGORY"]},
    )

    listed = answer["itemList"]
    promoted = [item for item in listed if item.get("promotionName") == "storage-week"]
    others = [item["itemId"] for item in listed if "promotionName" not in item]
    assert len(listed) == len({item["itemId"] for item in listed}) == 10
    assert [item["itemId"] for item in promoted] == storage
    assert all(item["metadata"]["CATEGORY"] == "Storage" for item in promoted)
    assert others == [item for item in plain if item not in storage][: 10 - len(storage)]
