"""The REST API through Flask's test client, against the real local service.

Every successful and error response checked here is also validated against the
schema the OpenAPI document publishes for that operation and status, so the
document cannot drift from what is served.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from web_support import (
    ADMIN_TOKEN,
    BODY_LIMIT,
    EVIL_SERVICE,
    EVIL_USER,
    DataFacts,
    build_app,
    copy_template,
    load_local_service,
)
from werkzeug.test import TestResponse

from srs.config import Settings
from srs.serving.service import ModelInfo, NotReadyError, RecommendationService
from srs.web.openapi import openapi_document

DOCUMENT = openapi_document()
PERSONALIZE_METRICS = {
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
}


def check_against_document(
    response: TestResponse, path: str, method: str = "get"
) -> dict[str, Any] | None:
    """Validate ``response`` against the documented schema; returns its JSON (if any)."""
    operation = DOCUMENT["paths"][path][method]
    documented = operation["responses"].get(str(response.status_code))
    if documented is None:
        documented = operation["responses"]["default"]
        assert response.status_code >= 400, f"{response.status_code} is not documented"
    if "$ref" in documented:
        documented = DOCUMENT["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    if "content" not in documented:
        assert response.data == b""
        return None
    assert response.mimetype in documented["content"]
    schema = documented["content"][response.mimetype]["schema"]
    if response.mimetype != "application/json":
        return None
    body = response.get_json()
    Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(body)
    return body


def error_of(response: TestResponse, path: str, method: str = "get") -> dict[str, str]:
    body = check_against_document(response, path, method)
    assert body is not None
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


def post_json(client: FlaskClient, url: str, body: Any) -> TestResponse:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def a_user(service: RecommendationService, index: int = 0) -> str:
    return service.search_users("user_", 50)[index]


def item_ids(service: RecommendationService) -> list[str]:
    return [item.item_id for item in service.items()]


RECS = "/api/v1/users/{userId}/recommendations"
HISTORY = "/api/v1/users/{userId}/history"
SIMILAR = "/api/v1/items/{itemId}/similar"
EVENTS = "/api/v1/events"
RANKINGS = "/api/v1/rankings"


# --- the document itself ------------------------------------------------------------------


def test_openapi_document_is_valid_and_served(client: FlaskClient) -> None:
    validate_spec(DOCUMENT)
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == DOCUMENT


def test_openapi_document_lists_exactly_the_served_operations(app: Flask) -> None:
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in {"api", "ops"}:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        served |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert served == documented


# --- recommendations -----------------------------------------------------------------------


def test_recommendations_follow_the_documented_shape(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service)
    response = client.get(f"/api/v1/users/{user}/recommendations?numResults=7")
    body = check_against_document(response, RECS)
    assert response.status_code == 200 and body is not None
    items = body["itemList"]
    assert len(items) == 7
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert all(item["reason"] for item in items)
    assert set(body) == {"recommendationId", "itemList"}


def test_recommendations_default_to_25(client: FlaskClient, service: RecommendationService) -> None:
    body = client.get(f"/api/v1/users/{a_user(service)}/recommendations").get_json()
    assert len(body["itemList"]) == 25


def test_unknown_user_gets_popular_items(client: FlaskClient) -> None:
    response = client.get("/api/v1/users/someone-new/recommendations?numResults=5")
    body = check_against_document(response, RECS)
    assert response.status_code == 200 and body is not None
    assert len(body["itemList"]) == 5


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("numResults=0", 422),
        ("numResults=501", 422),
        ("numResults=-3", 422),
        ("numResults=ten", 400),
        ("numResults=2.5", 400),
        ("filterValues=not-json", 400),
        ("filterValues=[1,2]", 400),
        ('filterValues={"A":1}', 400),
        ("filterValues=" + json.dumps({f"K{i}": '"v"' for i in range(6)}), 422),
        ("filter=" + "x" * 2049, 422),
        ("filter=NOT A FILTER", 422),
    ],
)
def test_recommendations_refuse_bad_queries(
    client: FlaskClient, service: RecommendationService, query: str, status: int
) -> None:
    response = client.get(f"/api/v1/users/{a_user(service)}/recommendations?{query}")
    assert response.status_code == status
    error = error_of(response, RECS)
    assert error["code"] == ("bad_request" if status == 400 else "invalid_value")


def test_a_query_that_is_not_utf8_is_a_clear_400(
    client: FlaskClient, service: RecommendationService
) -> None:
    """A raw byte 0xFF in the query (werkzeug's own ``request.args`` fails on it with a 500)
    stays percent-encoded and is refused as the value it is."""
    response = client.get(
        f"/api/v1/users/{a_user(service)}/recommendations",
        environ_overrides={"QUERY_STRING": "numResults=\xff"},
    )
    assert response.status_code == 400
    assert error_of(response, RECS)["message"] == (
        "query parameter numResults must be an integer, got '%FF'"
    )


def test_a_repeated_query_parameter_takes_its_first_value(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get(
        f"/api/v1/users/{a_user(service)}/recommendations?numResults=3&numResults=9"
    )
    assert len(check_against_document(response, RECS)["itemList"]) == 3


def test_recommendations_accept_500_results(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get(f"/api/v1/users/{a_user(service)}/recommendations?numResults=500")
    body = check_against_document(response, RECS)
    assert response.status_code == 200 and body is not None
    assert 0 < len(body["itemList"]) <= 500


def test_overlong_user_id_is_refused(client: FlaskClient) -> None:
    response = client.get(f"/api/v1/users/{'u' * 257}/recommendations")
    assert response.status_code == 422
    assert "userId" in error_of(response, RECS)["message"]


def test_filter_expression_reaches_the_service(
    client: FlaskClient, service: RecommendationService
) -> None:
    categories = sorted({item.category for item in service.items()})
    keep = categories[0]
    expression = "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATS)"
    response = client.get(
        f"/api/v1/users/{a_user(service)}/recommendations",
        query_string={"filter": expression, "filterValues": json.dumps({"CATS": f'"{keep}"'})},
    )
    body = check_against_document(response, RECS)
    assert response.status_code == 200 and body is not None
    category_of = {item.item_id: item.category for item in service.items()}
    assert body["itemList"]
    assert {category_of[item["itemId"]] for item in body["itemList"]} == {keep}


# --- rankings ------------------------------------------------------------------------------


def test_rankings_order_the_given_items_and_put_unknown_ones_last(
    client: FlaskClient, service: RecommendationService
) -> None:
    chosen = item_ids(service)[:6]
    response = post_json(
        client, "/api/v1/rankings", {"userId": a_user(service), "inputList": [*chosen, "no-such"]}
    )
    body = check_against_document(response, RANKINGS, "post")
    assert response.status_code == 200 and body is not None
    ranked = body["personalizedRanking"]
    assert sorted(item["itemId"] for item in ranked) == sorted([*chosen, "no-such"])
    assert ranked[-1]["itemId"] == "no-such" and ranked[-1]["score"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"userId": "u", "inputList": []}, 422),
        ({"userId": "u", "inputList": [f"i{n}" for n in range(501)]}, 422),
        ({"userId": "u", "inputList": [1, 2]}, 400),
        ({"userId": "u", "inputList": "svc-0001"}, 400),
        ({"userId": "u"}, 400),
        ({"inputList": ["svc-0001"]}, 400),
        ({"userId": 5, "inputList": ["svc-0001"]}, 400),
        ({"userId": "u", "inputList": ["svc-0001"], "extra": 1}, 400),
        ({"userId": "", "inputList": ["svc-0001"]}, 422),
    ],
)
def test_rankings_validate_the_body(client: FlaskClient, body: Any, status: int) -> None:
    response = post_json(client, "/api/v1/rankings", body)
    assert response.status_code == status
    error_of(response, RANKINGS, "post")


# --- similar items -------------------------------------------------------------------------


def test_similar_items(client: FlaskClient, service: RecommendationService) -> None:
    item = item_ids(service)[0]
    response = client.get(f"/api/v1/items/{item}/similar?numResults=5")
    body = check_against_document(response, SIMILAR)
    assert response.status_code == 200 and body is not None
    assert 0 < len(body["itemList"]) <= 5
    assert item not in {entry["itemId"] for entry in body["itemList"]}


def test_similar_items_of_an_unknown_item_are_not_found(client: FlaskClient) -> None:
    response = client.get("/api/v1/items/no-such-item/similar?numResults=4")
    check_against_document(response, SIMILAR)
    assert response.status_code == 404
    assert "no-such-item" in response.get_json()["error"]["message"]


def test_similar_items_by_service_name_never_list_the_item_itself(
    client: FlaskClient, service: RecommendationService
) -> None:
    item = service.items()[0]
    name = quote(item.service_name, safe="")
    body = client.get(f"/api/v1/items/{name}/similar?numResults=25").get_json()
    assert len(body["itemList"]) == min(25, len(service.items()) - 1)
    assert item.item_id not in {entry["itemId"] for entry in body["itemList"]}


# --- events and history --------------------------------------------------------------------


def test_events_are_stored_and_show_in_history_at_once(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 3)
    before = client.get(f"/api/v1/users/{user}/history?limit=5").get_json()["total"]
    items = item_ids(service)[:2]
    now = int(time.time())
    response = post_json(
        client,
        EVENTS,
        {
            "userId": user,
            "sessionId": "s-1",
            "eventList": [
                {"eventType": "launched", "itemId": items[0], "sentAt": now - 1},
                {"eventType": "rated", "itemId": items[1], "sentAt": now, "eventValue": 4},
            ],
        },
    )
    assert response.status_code == 204
    check_against_document(response, EVENTS, "post")
    history = client.get(f"/api/v1/users/{user}/history?limit=2")
    body = check_against_document(history, HISTORY)
    assert body is not None
    assert body["total"] == before + 2
    newest = body["interactions"]
    assert [(e["itemId"], e["eventType"]) for e in newest] == [
        (items[1], "rated"),
        (items[0], "launched"),
    ]
    assert newest[0]["eventValue"] == 4.0


def test_not_interested_removes_an_item_from_recommendations(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 4)
    url = f"/api/v1/users/{user}/recommendations?numResults=10"
    first = client.get(url).get_json()["itemList"][0]["itemId"]
    event = {"eventType": "not_interested", "itemId": first, "sentAt": int(time.time())}
    response = post_json(client, EVENTS, {"userId": user, "sessionId": "s", "eventList": [event]})
    assert response.status_code == 204
    assert first not in {item["itemId"] for item in client.get(url).get_json()["itemList"]}


def valid_event() -> dict[str, Any]:
    return {"eventType": "liked", "itemId": "svc-0001", "sentAt": 1_700_000_000}


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: b.update(eventList=[]), 422),
        (lambda b: b.update(eventList=[valid_event()] * 11), 422),
        (lambda b: b.pop("sessionId"), 400),
        (lambda b: b.update(sessionId=""), 422),
        (lambda b: b.update(userId="u" * 257), 422),
        (lambda b: b.update(eventList="liked"), 400),
        (lambda b: b.update(eventList=["liked"]), 400),
        (lambda b: b["eventList"][0].update(eventValue="high"), 400),
        (lambda b: b["eventList"][0].update(eventValue=True), 400),
        (lambda b: b["eventList"][0].update(sentAt="yesterday"), 400),
        (lambda b: b["eventList"][0].update(sentAt=-5), 422),
        (lambda b: b["eventList"][0].pop("sentAt"), 400),
        (lambda b: b["eventList"][0].pop("itemId"), 400),
        (lambda b: b["eventList"][0].update(itemId="i" * 257), 422),
        (lambda b: b["eventList"][0].update(colour="red"), 400),
        (lambda b: b.update(extra=1), 400),
    ],
)
def test_events_validate_types_lengths_and_counts(
    client: FlaskClient, mutate: Callable[[dict[str, Any]], Any], status: int
) -> None:
    body: dict[str, Any] = {"userId": "val-user", "sessionId": "s", "eventList": [valid_event()]}
    mutate(body)
    response = post_json(client, EVENTS, body)
    assert response.status_code == status
    error_of(response, EVENTS, "post")
    assert client.get("/api/v1/users/val-user/history").status_code == 404  # nothing stored


def test_events_accept_personalize_attribution_fields(client: FlaskClient) -> None:
    event = {**valid_event(), "eventId": "e1", "recommendationId": "r1", "impression": ["a"]}
    response = post_json(
        client, EVENTS, {"userId": "attr-user", "sessionId": "s", "eventList": [event]}
    )
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
    ],
)
def test_events_need_a_json_object_body(client: FlaskClient, data: str, content_type: str) -> None:
    response = client.post(EVENTS, data=data, content_type=content_type)
    assert response.status_code == 400
    assert error_of(response, EVENTS, "post")["code"] == "bad_request"


def test_bodies_above_the_limit_get_413(client: FlaskClient) -> None:
    body = {"userId": "u", "sessionId": "s", "eventList": [valid_event()], "pad": "x" * BODY_LIMIT}
    response = post_json(client, EVENTS, body)
    assert response.status_code == 413
    assert error_of(response, EVENTS, "post")["code"] == "payload_too_large"


def test_history_pages_are_consistent(client: FlaskClient, service: RecommendationService) -> None:
    user = a_user(service, 1)
    whole = client.get(f"/api/v1/users/{user}/history?limit=500").get_json()
    first = check_against_document(client.get(f"/api/v1/users/{user}/history?limit=3"), HISTORY)
    second = client.get(f"/api/v1/users/{user}/history?limit=3&offset=3").get_json()
    assert first is not None
    assert first["total"] == whole["total"] == len(whole["interactions"])
    assert first["interactions"] + second["interactions"] == whole["interactions"][:6]
    stamps = [entry["timestamp"] for entry in whole["interactions"]]
    assert stamps == sorted(stamps, reverse=True)


def test_history_of_an_unknown_user_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/users/nobody-at-all/history")
    assert response.status_code == 404
    assert error_of(response, HISTORY)["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "status"),
    [("limit=0", 422), ("limit=501", 422), ("offset=-1", 422), ("limit=x", 400)],
)
def test_history_validates_paging(
    client: FlaskClient, service: RecommendationService, query: str, status: int
) -> None:
    response = client.get(f"/api/v1/users/{a_user(service)}/history?{query}")
    assert response.status_code == status
    error_of(response, HISTORY)


# --- catalogue, model, operations ----------------------------------------------------------


def test_items_list_the_catalogue(client: FlaskClient, service: RecommendationService) -> None:
    body = check_against_document(client.get("/api/v1/items"), "/api/v1/items")
    assert body is not None
    assert len(body["items"]) == len(service.items())
    assert EVIL_SERVICE in {item["serviceName"] for item in body["items"]}


def test_model_reports_version_recipe_and_personalize_metrics(client: FlaskClient) -> None:
    body = check_against_document(client.get("/api/v1/model"), "/api/v1/model")
    assert body is not None
    assert body["version"] and body["recipe"] and body["trainedAt"]
    assert set(body["metrics"]) >= PERSONALIZE_METRICS


def test_model_reports_heldout_users_reliability_and_the_baseline(
    trained_template: tuple[Path, DataFacts], tmp_path: Path
) -> None:
    settings = copy_template(trained_template[0], tmp_path / "data")
    models = settings.data_dir / "models"
    record = models / (models / "ACTIVE").read_text().strip() / "training.json"
    training = json.loads(record.read_text())
    baseline = {name: value / 2 for name, value in training["metrics"].items()}
    training.update(heldout_users=31, metrics_reliable=False, baseline_metrics=baseline)
    record.write_text(json.dumps(training))
    client = build_app(load_local_service(settings), settings).test_client()
    body = check_against_document(client.get("/api/v1/model"), "/api/v1/model")
    assert body is not None
    assert body["heldoutUsers"] == 31
    assert body["metricsReliable"] is False
    assert body["baselineMetrics"] == pytest.approx(baseline)


def test_health_and_readiness(client: FlaskClient) -> None:
    assert check_against_document(client.get("/healthz"), "/healthz") == {"status": "ok"}
    assert check_against_document(client.get("/readyz"), "/readyz") == {"status": "ready"}


class NotReadyService:
    """The real service as it looks before any model is trained (no model to answer from)."""

    def __init__(self, real: RecommendationService) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def is_ready(self) -> bool:
        return False

    def model_info(self) -> ModelInfo:
        raise NotReadyError("no model is active yet; run srs train")

    def recommend(self, *args: Any, **kwargs: Any) -> Any:
        raise NotReadyError("no model is active yet; run srs train")


def test_not_ready_answers_503_with_retry_after(
    service: RecommendationService, data_settings: Settings
) -> None:
    client = build_app(NotReadyService(service), data_settings).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert error_of(ready, "/readyz")["code"] == "not_ready"
    model = client.get("/api/v1/model")
    assert model.status_code == 503
    error_of(model, "/api/v1/model")
    recs = client.get("/api/v1/users/user_000001/recommendations")
    assert recs.status_code == 503
    error_of(recs, RECS)
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_per_route_and_events(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service)
    for _ in range(3):
        client.get(f"/api/v1/users/{user}/recommendations?numResults=2")
    client.get("/no/such/route")
    event = {"userId": "metrics-user", "sessionId": "s", "eventList": [valid_event()] * 2}
    assert post_json(client, EVENTS, event).status_code == 204
    response = client.get("/metrics")
    assert response.status_code == 200
    check_against_document(response, "/metrics")
    text = response.get_data(as_text=True)
    route = "/api/v1/users/<id:userId>/recommendations"
    assert f'srs_http_requests_total{{method="GET",route="{route}",status="200"}} 3.0' in text
    assert f'srs_http_request_duration_seconds_count{{method="GET",route="{route}"}} 3.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "srs_events_accepted_total 2.0" in text


# --- errors and headers --------------------------------------------------------------------


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/items")
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    check_against_document(wrong, "/api/v1/items")


class BrokenService(NotReadyService):
    """The real service with a bug in recommend, to see what a client is told."""

    def is_ready(self) -> bool:
        return True

    def recommend(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail at /srv/model.npy")


def test_unexpected_errors_are_logged_and_answered_without_details(
    service: RecommendationService, data_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = build_app(BrokenService(service), data_settings).test_client()
    response = client.get("/api/v1/users/user_000001/recommendations")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text
    assert error_of(response, RECS) == {
        "code": "internal_error",
        "message": "internal server error",
    }
    assert "secret internal detail" in caplog.text


def test_security_headers_on_every_answer(client: FlaskClient) -> None:
    for url in ("/api/v1/items", "/api/v1/nothing", "/"):
        headers = client.get(url).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_api_sets_no_session_cookie(client: FlaskClient, service: RecommendationService) -> None:
    response = client.get(f"/api/v1/users/{a_user(service)}/recommendations")
    assert "Set-Cookie" not in response.headers


# --- admin ---------------------------------------------------------------------------------


def test_admin_retrain_needs_the_token(
    service: RecommendationService, data_settings: Settings
) -> None:
    from srs.web.retrain import RetrainJobs

    calls: list[int] = []

    class CountedJobs(RetrainJobs):
        def start(self) -> str:
            calls.append(1)
            return "0123456789abcdef"

    jobs = CountedJobs(data_settings)
    client = build_app(service, data_settings, retrain=jobs).test_client()
    missing = client.post("/admin/retrain")
    assert missing.status_code == 401 and "Bearer" in missing.headers["WWW-Authenticate"]
    error_of(missing, "/admin/retrain", "post")
    wrong = client.post("/admin/retrain", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert calls == []
    right = client.post("/admin/retrain", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert right.status_code == 202 and calls == [1]
    body = check_against_document(right, "/admin/retrain", "post")
    assert body is not None and body["statusUrl"] == "/admin/retrain/0123456789abcdef"


def test_admin_is_disabled_without_a_configured_token(
    service: RecommendationService, data_settings: Settings
) -> None:
    client = build_app(service, data_settings, SRS_ADMIN_TOKEN="").test_client()
    response = client.post("/admin/retrain", headers={"Authorization": "Bearer "})
    assert response.status_code == 403
    error_of(response, "/admin/retrain", "post")


def test_admin_retrain_without_a_trainer_is_501(client: FlaskClient) -> None:
    response = client.post("/admin/retrain", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 501
    error_of(response, "/admin/retrain", "post")


# --- IDs with "/" in the path -------------------------------------------------------------


def test_a_user_id_with_slashes_is_reachable_through_the_path(
    client: FlaskClient, service: RecommendationService
) -> None:
    """``</script>`` holds a "/": sent as %2F, decoded by the server before routing."""
    path = f"/api/v1/users/{quote(EVIL_USER, safe='')}"
    recommendations = check_against_document(client.get(f"{path}/recommendations"), RECS)
    assert recommendations is not None
    expected = service.recommend(EVIL_USER, 25).item_list
    assert [item["itemId"] for item in recommendations["itemList"]] == [
        item.item_id for item in expected
    ]
    history = client.get(f"{path}/history")
    assert history.status_code == 200
    assert history.get_json()["total"] == service.history(EVIL_USER).total > 0


@pytest.mark.parametrize("user", ["/leading", "x/history", "a//b", "trailing/"])
def test_awkward_slashed_user_ids_reach_exactly_their_own_events(
    client: FlaskClient, user: str
) -> None:
    """Each ID's event is found under that ID and no other: no slash merging, no redirect,
    and a tail that looks like a route stays part of the ID."""
    sent = post_json(
        client,
        "/api/v1/events",
        {"userId": user, "sessionId": "s", "eventList": [valid_event()]},
    )
    assert sent.status_code == 204
    response = client.get(f"/api/v1/users/{quote(user, safe='')}/history")
    assert response.status_code == 200, response.data
    assert response.get_json()["total"] == 1
    recommendations = client.get(f"/api/v1/users/{quote(user, safe='')}/recommendations")
    assert recommendations.status_code == 200
    assert "svc-0001" not in [item["itemId"] for item in recommendations.get_json()["itemList"]]


# --- times and values out of range, and rows stored before the rules ----------------------


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("sentAt", 1.7e12, "eventList[1].sentAt"),
        ("sentAt", 9e18, "eventList[1].sentAt"),
        ("sentAt", 2**63 - 1, "eventList[1].sentAt"),
        ("sentAt", 1e300, "eventList[1].sentAt"),
        ("sentAt", -1e300, "eventList[1].sentAt"),
        ("sentAt", 900_000_000, "eventList[1].sentAt"),
        ("sentAt", "later", "eventList[1].sentAt"),
        ("eventValue", 1e300, "eventList[1].eventValue"),
        ("eventValue", -1e300, "eventList[1].eventValue"),
        ("eventValue", False, "eventList[1].eventValue"),
    ],
)
def test_events_out_of_range_are_refused_whole_with_where_and_value(
    client: FlaskClient, field: str, value: Any, where: str
) -> None:
    bad = {"eventType": "played", "itemId": "svc-0001", "sentAt": int(time.time()), field: value}
    body = {"userId": "range-user", "sessionId": "s", "eventList": [valid_event(), bad]}
    response = post_json(client, EVENTS, body)
    assert response.status_code in (400, 422)
    message = error_of(response, EVENTS, "post")["message"]
    assert message.startswith(where)
    if not isinstance(value, str | bool):
        assert repr(float(value)) in message or repr(value) in message
    assert client.get("/api/v1/users/range-user/history").status_code == 404  # nothing stored


def test_a_rating_of_99_is_refused(client: FlaskClient) -> None:
    event = {"eventType": "rated", "itemId": "svc-0001", "sentAt": 1_700_000_000, "eventValue": 99}
    body = {"userId": "rating-user", "sessionId": "s", "eventList": [event]}
    response = post_json(client, EVENTS, body)
    assert response.status_code == 422
    assert "eventList[0].eventValue" in error_of(response, EVENTS, "post")["message"]
    assert client.get("/api/v1/users/rating-user/history").status_code == 404


def test_huge_or_non_finite_json_numbers_are_refused(client: FlaskClient) -> None:
    for raw in ("1e400", "NaN", "Infinity", "184467440737095516160000"):
        data = (
            '{"userId": "raw-user", "sessionId": "s", "eventList": [{"eventType": "liked",'
            f' "itemId": "svc-0001", "sentAt": {raw}}}]}}'
        )
        response = client.post(EVENTS, data=data, content_type="application/json")
        assert response.status_code in (400, 422), raw
    assert client.get("/api/v1/users/raw-user/history").status_code == 404


def test_fractional_seconds_are_accepted_as_whole_seconds(
    client: FlaskClient, service: RecommendationService
) -> None:
    sent = time.time() - 10
    event = {"eventType": "launched", "itemId": item_ids(service)[0], "sentAt": sent}
    body = {"userId": "fraction-user", "sessionId": "s", "eventList": [event]}
    assert post_json(client, EVENTS, body).status_code == 204
    history = client.get("/api/v1/users/fraction-user/history").get_json()
    assert history["interactions"][0]["timestamp"] == int(sent)


def test_history_skips_stored_rows_out_of_range(
    client: FlaskClient, service: RecommendationService, data_settings: Settings
) -> None:
    item = item_ids(service)[0]
    with sqlite3.connect(data_settings.events_path) as connection:
        connection.executemany(
            "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
            " sent_at, received_at) VALUES ('poisoned-user', 's', ?, ?, ?, ?, 0.0)",
            [("clicked", item, 3.0, 1_700_000_000_000), ("rated", item, 99.0, 1_700_000_000)],
        )
    connection.close()
    good = {"eventType": "liked", "itemId": item, "sentAt": int(time.time())}
    body = {"userId": "poisoned-user", "sessionId": "s", "eventList": [good]}
    assert post_json(client, EVENTS, body).status_code == 204  # moves the change counter
    response = client.get("/api/v1/users/poisoned-user/history")
    body = check_against_document(response, HISTORY)
    assert body is not None
    assert [entry["eventType"] for entry in body["interactions"]] == ["liked"]
    recommended = client.get("/api/v1/users/poisoned-user/recommendations")
    assert recommended.status_code == 200


@pytest.mark.parametrize(
    "filter_values",
    [
        "[" * 1000 + "]" * 1000,
        '{"A":' * 1000 + '"v"' + "}" * 1000,
        '{"A":"\\"x\\"","B":' + "[" * 10_000,
    ],
)
def test_deeply_nested_filter_values_are_a_400_naming_them(
    client: FlaskClient, service: RecommendationService, filter_values: str
) -> None:
    response = client.get(
        RECS.format(userId=a_user(service)),
        query_string={
            "filter": "EXCLUDE ItemID WHERE Items.CATEGORY IN ($A)",
            "filterValues": filter_values,
        },
    )
    assert response.status_code == 400
    error = error_of(response, RECS)
    assert error["code"] == "bad_request"
    assert "filterValues" in error["message"]


def test_overlong_filter_values_are_refused_before_parsing(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get(
        RECS.format(userId=a_user(service)),
        query_string={"filterValues": json.dumps({"A": "x" * 50_000})},
    )
    assert response.status_code == 422
    assert "filterValues" in error_of(response, RECS)["message"]


def test_filter_values_with_brackets_inside_strings_still_parse(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get(
        RECS.format(userId=a_user(service)),
        query_string={
            "filter": "EXCLUDE ItemID WHERE Items.CATEGORY IN ($A)",
            "filterValues": json.dumps({"A": '"[{not nested}]"'}),
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize("path", [EVENTS, RANKINGS])
def test_json_bodies_nested_past_any_limit_are_a_400(client: FlaskClient, path: str) -> None:
    response = client.post(path, data='{"userId": ' + "[" * 5_000, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response, path, "post")["code"] == "bad_request"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/vnd.api+json",
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",
    ],
)
@pytest.mark.parametrize("path", [EVENTS, RANKINGS])
def test_bodies_not_sent_as_application_json_get_415(
    client: FlaskClient, path: str, content_type: str
) -> None:
    response = client.post(path, data='{"userId": "u"}', content_type=content_type)
    assert response.status_code == 415
    error = error_of(response, path, "post")
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;"]
)
def test_application_json_with_parameters_is_read(
    client: FlaskClient, service: RecommendationService, content_type: str
) -> None:
    body = {"userId": a_user(service), "inputList": item_ids(service)[:3]}
    response = client.post(RANKINGS, data=json.dumps(body), content_type=content_type)
    assert response.status_code == 200


def test_a_recursion_error_anywhere_in_a_request_is_a_400_not_a_500(app: Flask) -> None:
    def deep(depth: int) -> str:
        return deep(depth + 1)

    app.add_url_rule("/api/v1/deep", "deep", lambda: deep(0))
    response = app.test_client().get("/api/v1/deep")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"]["code"] == "bad_request"
    assert "nested too deeply" in body["error"]["message"]


def test_admin_retrain_runs_in_the_background_and_reports_the_version(
    trained_template: tuple[Path, Any], tmp_path: Path
) -> None:

    from srs.web.retrain import RetrainJobs

    settings = copy_template(trained_template[0], tmp_path / "data")
    service = load_local_service(settings)
    serving = service.model_info().version
    client = build_app(service, settings, retrain=RetrainJobs(settings, tune=False)).test_client()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    started = time.perf_counter()
    response = client.post("/admin/retrain", headers=admin)
    assert time.perf_counter() - started < 1.0  # the request never waits for training
    assert response.status_code == 202
    body = check_against_document(response, "/admin/retrain", "post")
    assert body is not None and body["status"] == "running"
    status_url = body["statusUrl"]
    assert re.fullmatch(r"/admin/retrain/[0-9a-f]{16}", status_url)

    second = client.post("/admin/retrain", headers=admin)
    assert second.status_code == 409
    assert error_of(second, "/admin/retrain", "post")["code"] == "conflict"
    path = "/admin/retrain/{retrainId}"
    assert client.get(status_url).status_code == 401
    assert client.get(status_url, headers={"Authorization": "Bearer nope"}).status_code == 401
    unknown = client.get("/admin/retrain/ffffffffffffffff", headers=admin)
    assert unknown.status_code == 404
    error_of(unknown, path)
    assert client.get("/admin/retrain/..%2Fretrain.lock", headers=admin).status_code == 404
    assert client.get("/healthz").status_code == 200  # the worker answers meanwhile

    deadline = time.monotonic() + 180
    while True:
        polled = client.get(status_url, headers=admin)
        assert polled.status_code == 200
        status = check_against_document(polled, path)
        assert status is not None
        if status["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status["status"] == "succeeded", status
    assert status["version"] != serving and status["activated"] is True
    assert settings.data_dir.joinpath("models", "ACTIVE").read_text().strip() == status["version"]


def test_admin_retrain_status_is_refused_without_the_token(
    service: RecommendationService, data_settings: Settings
) -> None:
    from srs.web.retrain import RetrainJobs

    disabled = build_app(
        service, data_settings, SRS_ADMIN_TOKEN="", retrain=RetrainJobs(data_settings)
    ).test_client()
    response = disabled.get("/admin/retrain/0123456789abcdef")
    assert response.status_code == 403
    error_of(response, "/admin/retrain/{retrainId}")
