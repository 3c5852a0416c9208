"""SRS_BACKEND=personalize: the web app and API answer from a campaign, unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from srs.config import ConfigError, load_settings
from srs.events.store import EventStore
from srs.serving.backends import batch_service, open_service, personalize_service
from srs.serving.local_service import LocalRecommendationService
from srs.serving.service import NotReadyError
from srs.web import create_app

CAMPAIGN = "arn:aws:personalize:eu-west-1:123456789012:campaign/srs"
FILTER = "arn:aws:personalize:eu-west-1:123456789012:filter/srs-default"


def client(service: str) -> Any:
    return boto3.session.Session().client(
        service,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_the_backend_setting_chooses_the_service(data_dir: Path) -> None:
    local = load_settings(environ={}, overrides={"data_dir": data_dir})
    assert isinstance(open_service(local), LocalRecommendationService)
    with pytest.raises(ConfigError, match="'backend': 'sagemaker' is not 'local', 'personalize'"):
        load_settings(environ={"SRS_BACKEND": "sagemaker"})


def test_the_api_answers_from_the_recorded_campaign(data_dir: Path) -> None:
    (data_dir / "aws-state.json").write_text(
        json.dumps(
            {
                "version": 1,
                "resources": {
                    "region": "eu-west-1",
                    "campaign_arn": CAMPAIGN,
                    "tracking_id": "tracking-1",
                    "filter_arn:default": FILTER,
                },
            }
        )
    )
    settings = load_settings(
        environ={"SRS_BACKEND": "personalize"}, overrides={"data_dir": data_dir}
    )
    runtime, events = client("personalize-runtime"), client("personalize-events")
    service = personalize_service(settings, runtime=runtime, events=events)
    app = create_app(service, settings).test_client()
    items = {item.service_name: item.item_id for item in service.items()}

    with Stubber(runtime) as stub:
        stub.add_response(
            "get_recommendations",
            {
                "itemList": [
                    {"itemId": items["Amazon S3"], "score": 0.6},
                    {"itemId": items["AWS Lambda"], "score": 0.4},
                ],
                "recommendationId": "rid-1",
            },
            {
                "campaignArn": CAMPAIGN,
                "userId": "user_000001",
                "numResults": 2,
                "filterArn": FILTER,
            },
        )
        answer = app.get("/api/v1/users/user_000001/recommendations?numResults=2")
        stub.assert_no_pending_responses()
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["recommendationId"] == "rid-1"
    assert [i["serviceName"] for i in body["itemList"]] == ["Amazon S3", "AWS Lambda"]

    history = app.get("/api/v1/users/user_000001/history?limit=2").get_json()
    assert history["total"] >= 2 and len(history["interactions"]) == 2
    assert app.get("/api/v1/users/nobody/history").status_code == 404


def test_batch_results_are_served_with_no_campaign(
    data_dir: Path, s3_client: Any, s3_bucket: str
) -> None:
    settings = load_settings(environ={"SRS_BACKEND": "batch"}, overrides={"data_dir": data_dir})
    with pytest.raises(NotReadyError, match="run 'srs aws batch' first"):
        batch_service(settings, s3_client=s3_client)

    (data_dir / "aws-state.json").write_text(
        json.dumps(
            {
                "version": 1,
                "resources": {
                    "bucket": s3_bucket,
                    "data_prefix": "srs/",
                    "batch_output_key": "batch-output/job-1/input.json.out",
                },
            }
        )
    )
    lines = [
        {
            "input": {"userId": "user_000001"},
            "output": {"recommendedItems": ["svc-0002", "svc-0001"], "scores": [0.7, 0.3]},
            "error": None,
        },
        {
            "input": {"userId": "user_000002"},
            "output": {"recommendedItems": ["svc-0002"], "scores": [1.0]},
            "error": None,
        },
    ]
    s3_client.put_object(
        Bucket=s3_bucket,
        Key="srs/batch-output/job-1/input.json.out",
        Body="\n".join(json.dumps(line) for line in lines).encode(),
    )
    service = batch_service(settings, s3_client=s3_client)
    app = create_app(service, settings).test_client()

    body = app.get("/api/v1/users/user_000001/recommendations?numResults=2").get_json()
    assert [(i["itemId"], i["score"]) for i in body["itemList"]] == [
        ("svc-0002", 0.7),
        ("svc-0001", 0.3),
    ]
    assert app.get("/api/v1/users/user_000001/history?limit=1").status_code == 200
    event = {"eventType": "liked", "itemId": "svc-0001", "sentAt": 1_760_000_000}
    posted = app.post(
        "/api/v1/events", json={"userId": "user_000001", "sessionId": "s", "eventList": [event]}
    )
    assert posted.status_code == 204
    assert EventStore(settings.events_path).count("user_000001") == 1
