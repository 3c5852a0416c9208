"""The whole sequence: set-up → recommend → events → clean-up, with no call reaching AWS.

STS, S3 and IAM are moto's server over HTTP; Personalize, its runtime and its events endpoint are
real clients under Stubber. After clean-up the bucket and the role are gone from moto and every
scripted Personalize call has been made, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from personalize_script import (
    BUCKET,
    CAMPAIGN,
    FILTER,
    FILTER_ARN,
    GROUP,
    I_DATASET,
    I_SCHEMA,
    METRICS,
    OPTIONS,
    SOLUTION,
    T_DATASET,
    T_SCHEMA,
    TRACKER,
    interactions_dataset_and_import,
    items_dataset_and_import,
    schemas_to_groups,
    serving,
    solution_created,
    training,
)
from stubbing import FakeTime, Script, make_client

from srs.aws.bootstrap import StorageOptions
from srs.aws.cleanup_outcome import DELETED, Outcome, anything_left
from srs.aws.clients import AwsClients
from srs.aws.deploy import DeployOptions, personalize_plan, run_cleanup, run_setup
from srs.aws.personalize_service import PersonalizeRecommendationService
from srs.aws.state import DeploymentState
from srs.events import Event
from srs.service import HistoryPage, ItemInfo

ClientsFactory = Callable[[str], AwsClients]


def cleanup_script(script: Script) -> Script:
    script.ok("describe_dataset_group", {"datasetGroup": {"datasetGroupArn": GROUP}})
    script.ok("list_solutions", {"solutions": [{"name": "srs-solution", "solutionArn": SOLUTION}]})
    script.ok("list_campaigns", {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN}]})
    script.ok("list_solution_versions", {"solutionVersions": []}, solutionArn=SOLUTION)
    script.ok(
        "list_event_trackers",
        {"eventTrackers": [{"name": "srs-event-tracker", "eventTrackerArn": TRACKER}]},
    )
    script.ok("list_filters", {"Filters": [{"name": "srs-default", "filterArn": FILTER_ARN}]})
    script.ok(
        "list_datasets",
        {
            "datasets": [
                {"name": "srs-interactions", "datasetArn": I_DATASET},
                {"name": "srs-items", "datasetArn": T_DATASET},
            ]
        },
    )
    script.ok(
        "list_schemas",
        {
            "schemas": [
                {"name": "srs-interactions-schema", "schemaArn": I_SCHEMA},
                {"name": "srs-items-schema", "schemaArn": T_SCHEMA},
            ]
        },
    )
    for delete, describe, param, value in [
        ("delete_campaign", "describe_campaign", "campaignArn", CAMPAIGN),
        ("delete_event_tracker", "describe_event_tracker", "eventTrackerArn", TRACKER),
        ("delete_filter", "describe_filter", "filterArn", FILTER_ARN),
        ("delete_solution", "describe_solution", "solutionArn", SOLUTION),
        ("delete_dataset", "describe_dataset", "datasetArn", I_DATASET),
        ("delete_dataset", "describe_dataset", "datasetArn", T_DATASET),
        ("delete_dataset_group", "describe_dataset_group", "datasetGroupArn", GROUP),
    ]:
        script.ok(delete, {}, **{param: value})
        script.fail(describe, "ResourceNotFoundException", "gone", **{param: value})
    script.ok("delete_schema", {}, schemaArn=I_SCHEMA)
    script.ok("delete_schema", {}, schemaArn=T_SCHEMA)
    return script


def test_setup_recommend_events_cleanup(
    aws_clients_factory: ClientsFactory, prepared_data_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    personalize = make_client("personalize")
    options = DeployOptions(
        state_path=tmp_path / "aws-state.json",
        storage=StorageOptions(bucket=BUCKET),
        personalize=OPTIONS,
    )
    time = FakeTime()
    lines: list[str] = []

    setup_calls = Script(personalize)
    serving(
        training(
            solution_created(
                items_dataset_and_import(
                    interactions_dataset_and_import(schemas_to_groups(setup_calls))
                )
            )
        )
    )
    with setup_calls:
        result = run_setup(
            clients,
            personalize,
            prepared_data_dir / "dataset",
            options,
            time.pacing(),
            False,
            lines.append,
        )
    setup_calls.done()
    assert result is not None and result.metrics == METRICS
    state = DeploymentState.load(options.state_path)
    assert state.get("bucket") == BUCKET and state.get("campaign_arn") == CAMPAIGN
    assert state.get("role_arn") == "arn:aws:iam::123456789012:role/srs-personalize-srs-us-east-1"

    runtime, events = make_client("personalize-runtime"), make_client("personalize-events")
    service = PersonalizeRecommendationService(
        runtime,
        events,
        campaign_arn=str(state.get("campaign_arn")),
        tracking_id=str(state.get("tracking_id")),
        items=[ItemInfo("i001", "Amazon S3", "Storage", "")],
        history=lambda user, limit, offset: HistoryPage([], 0),
        filter_arns={FILTER: str(state.get("filter_arn:exclude-launched"))},
    )
    runtime_calls = Script(runtime).ok(
        "get_recommendations",
        {"recommendationId": "RID", "itemList": [{"itemId": "i001", "score": 1.0}]},
        campaignArn=CAMPAIGN,
        userId="u1",
        numResults=5,
        filterArn=FILTER_ARN,
    )
    event_calls = Script(events).ok(
        "put_events",
        {},
        trackingId="tracking-0123",
        userId="u1",
        sessionId="s1",
        eventList=[
            {
                "eventType": "viewed",
                "itemId": "i001",
                "eventValue": 3.0,
                "sentAt": datetime.fromtimestamp(1_700_000_000, tz=UTC),
            }
        ],
    )
    with runtime_calls, event_calls:
        answer = service.recommend("u1", 5, filter=FILTER)
        service.put_events("u1", "s1", [Event("viewed", "i001", 1_700_000_000, 3.0)])
    runtime_calls.done()
    event_calls.done()
    assert answer.item_list[0].service_name == "Amazon S3"

    cleanup_calls = cleanup_script(Script(personalize))
    with cleanup_calls:
        outcomes = run_cleanup(clients, personalize, options, time.pacing(), False, lines.append)
    cleanup_calls.done()
    assert not anything_left(outcomes)
    assert outcomes[-2:] == [
        Outcome(f"bucket {BUCKET}", DELETED, "with 5 object(s)"),
        Outcome("IAM role srs-personalize-srs-us-east-1", DELETED, "with its policies"),
    ]
    with pytest.raises(ClientError):
        clients.s3.head_bucket(Bucket=BUCKET)
    with pytest.raises(ClientError):
        clients.iam.get_role(RoleName="srs-personalize-srs-us-east-1")
    assert DeploymentState.load(options.state_path).items() == [
        ("account_id", "123456789012"),
        ("name", "srs"),
        ("region", "us-east-1"),
    ]


def test_dry_run_prints_the_plan_and_calls_no_personalize_api(
    aws_clients_factory: ClientsFactory, prepared_data_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    personalize = make_client("personalize")
    options = DeployOptions(
        state_path=tmp_path / "aws-state.json",
        storage=StorageOptions(bucket="srs-dry-run-test"),
        personalize=OPTIONS,
    )
    lines: list[str] = []
    untouched = Script(personalize)  # no responses: any Personalize call would fail
    with untouched:
        assert (
            run_setup(
                clients,
                personalize,
                prepared_data_dir / "dataset",
                options,
                FakeTime().pacing(),
                True,
                lines.append,
            )
            is None
        )
    assert lines[-len(personalize_plan(OPTIONS)) :] == personalize_plan(OPTIONS)
    assert any("minProvisionedTPS=1: billed every hour it exists" in line for line in lines)
    assert any("would create in us-east-1" in line for line in lines)
    assert not options.state_path.exists()
