"""The whole sequence: set-up → recommend → events → clean-up, with no call reaching AWS.

STS, S3 and IAM are moto's server over HTTP; Personalize, its runtime and its events endpoint are
real clients under Stubber. After clean-up the bucket and the role are gone from moto and every
scripted Personalize call has been made, in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
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

from srs.aws.bootstrap import StorageOptions, StorageResult, setup_storage
from srs.aws.cleanup_outcome import DELETED, STILL_THERE, Outcome, anything_left
from srs.aws.clients import AwsClients
from srs.aws.deploy import DeployOptions, personalize_plan, run_cleanup, run_setup
from srs.aws.errors import AwsError
from srs.aws.naming import Deployment
from srs.aws.personalize_service import PersonalizeRecommendationService
from srs.aws.personalize_setup import PersonalizeOptions
from srs.aws.role import access_policy
from srs.aws.state import DeploymentMismatchError, DeploymentState
from srs.events.event import Event
from srs.serving.service import HistoryPage, ItemInfo

ClientsFactory = Callable[[str], AwsClients]
MOTO_ACCOUNT = "123456789012"


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


# -- deployments side by side, regions, and clean-up that finishes -----------------------------


def nothing_on_personalize(script: Script) -> Script:
    """A deployment whose Personalize side was never built: clean-up finds nothing there."""
    return script.ok("list_dataset_groups", {"datasetGroups": []}).ok(
        "list_schemas", {"schemas": []}
    )


def storage_only(
    clients: AwsClients, name: str, dataset_dir: Path, state_path: Path
) -> StorageResult:
    state = DeploymentState.load(state_path)
    return setup_storage(clients, StorageOptions(name=name), dataset_dir, state, False, print)


def snapshot(clients: AwsClients, result: StorageResult, role: str) -> dict[str, object]:
    """What another deployment's clean-up must not touch."""
    s3, iam = clients.s3, clients.iam
    objects = s3.list_objects_v2(Bucket=result.bucket)["Contents"]
    return {
        "objects": sorted((o["Key"], o["ETag"]) for o in objects),
        "bucket_policy": s3.get_bucket_policy(Bucket=result.bucket)["Policy"],
        "bucket_tags": s3.get_bucket_tagging(Bucket=result.bucket)["TagSet"],
        "role": iam.get_role(RoleName=role)["Role"]["Arn"],
        "inline": [
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        ],
    }


def test_two_deployments_in_two_regions_and_one_cleaned_up(
    aws_clients_factory: ClientsFactory, prepared_data_dir: Path, tmp_path: Path
) -> None:
    """Defect 1: one role per deployment; cleaning one leaves the other's role and bucket as is."""
    name = f"d{uuid.uuid4().hex[:8]}"
    mumbai, ireland = aws_clients_factory("ap-south-1"), aws_clients_factory("eu-west-1")
    dataset = prepared_data_dir / "dataset"
    first = storage_only(mumbai, name, dataset, tmp_path / "mumbai.json")
    second = storage_only(ireland, name, dataset, tmp_path / "ireland.json")
    first_role = Deployment(name, "ap-south-1").role_name
    second_role = Deployment(name, "eu-west-1").role_name
    assert first.bucket != second.bucket and first.role_arn != second.role_arn
    before = snapshot(mumbai, first, first_role)
    assert before["inline"] == [access_policy(first.bucket, "srs/")]

    personalize = make_client("personalize", "eu-west-1")
    script = nothing_on_personalize(Script(personalize))
    options = DeployOptions(
        state_path=tmp_path / "ireland.json",
        storage=StorageOptions(name=name),
        personalize=PersonalizeOptions(name=name),
    )
    with script:
        outcomes = run_cleanup(ireland, personalize, options, FakeTime().pacing(), False, print)
    script.done()
    assert [(o.resource, o.state) for o in outcomes] == [
        (f"bucket {second.bucket}", DELETED),
        (f"IAM role {second_role}", DELETED),
    ]
    assert snapshot(mumbai, first, first_role) == before
    with pytest.raises(ClientError):
        ireland.iam.get_role(RoleName=second_role)


def test_setup_in_another_region_than_the_state_file_changes_nothing(
    aws_clients_factory: ClientsFactory, prepared_data_dir: Path, tmp_path: Path
) -> None:
    """Defect 2: the state file's region rules; another region is an error before any call."""
    name = f"r{uuid.uuid4().hex[:8]}"
    state_path = tmp_path / "aws-state.json"
    storage_only(aws_clients_factory("ap-south-1"), name, prepared_data_dir / "dataset", state_path)
    recorded = state_path.read_text()
    ireland = aws_clients_factory("eu-west-1")
    options = DeployOptions(
        state_path=state_path,
        storage=StorageOptions(name=name),
        personalize=PersonalizeOptions(name=name),
    )
    personalize = make_client("personalize", "eu-west-1")
    untouched = Script(personalize)
    with (
        untouched,
        pytest.raises(DeploymentMismatchError, match="in ap-south-1, but --region eu-west-1"),
    ):
        run_setup(
            ireland,
            personalize,
            prepared_data_dir / "dataset",
            options,
            FakeTime().pacing(),
            False,
            print,
        )
    with untouched, pytest.raises(DeploymentMismatchError, match="in ap-south-1"):
        run_cleanup(ireland, personalize, options, FakeTime().pacing(), False, print)
    assert state_path.read_text() == recorded
    bucket = Deployment(name, "eu-west-1").bucket_name(MOTO_ACCOUNT)
    with pytest.raises(ClientError):
        ireland.s3.head_bucket(Bucket=bucket)
    with pytest.raises(ClientError):
        ireland.iam.get_role(RoleName=Deployment(name, "eu-west-1").role_name)


def test_unsupported_region_fails_before_anything_is_created(
    aws_clients_factory: ClientsFactory, prepared_data_dir: Path, tmp_path: Path
) -> None:
    """Defect 4: no Personalize in eu-west-2 (botocore's endpoint data): no bucket, no role."""
    name = f"u{uuid.uuid4().hex[:8]}"
    london = aws_clients_factory("eu-west-2")
    options = DeployOptions(
        state_path=tmp_path / "aws-state.json",
        storage=StorageOptions(name=name),
        personalize=PersonalizeOptions(name=name),
    )
    with pytest.raises(AwsError, match="Amazon Personalize is not available in eu-west-2"):
        run_setup(
            london,
            make_client("personalize", "eu-west-2"),
            prepared_data_dir / "dataset",
            options,
            FakeTime().pacing(),
            False,
            print,
        )
    with pytest.raises(ClientError):
        london.s3.head_bucket(Bucket=Deployment(name, "eu-west-2").bucket_name(MOTO_ACCOUNT))
    with pytest.raises(ClientError):
        london.iam.get_role(RoleName=Deployment(name, "eu-west-2").role_name)
    assert not options.state_path.exists()


def failing_campaign_cleanup(script: Script) -> Script:
    """The campaign cannot be deleted (an HTML error page from a proxy); the rest goes."""
    script.ok("describe_dataset_group", {"datasetGroup": {"datasetGroupArn": GROUP}})
    script.ok("list_solutions", {"solutions": [{"name": "srs-solution", "solutionArn": SOLUTION}]})
    script.ok("list_campaigns", {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN}]})
    script.ok("list_solution_versions", {"solutionVersions": []})
    script.ok("list_event_trackers", {"eventTrackers": []})
    script.ok("list_filters", {"Filters": []})
    script.ok("list_datasets", {"datasets": []})
    script.ok("list_schemas", {"schemas": []})
    page = "<html><head><title>500</title></head><body><h1>Internal Server Error</h1></body></html>"
    return script.fail("delete_campaign", "500", page, campaignArn=CAMPAIGN)


def test_personalize_failing_mid_cleanup_keeps_bucket_and_role_unless_forced(
    aws_clients_factory: ClientsFactory, prepared_data_dir: Path, tmp_path: Path
) -> None:
    """Defect 4: clean-up finishes, keeps what the campaign reads through, says why, as text."""
    name = "srs"
    clients = aws_clients_factory("us-east-1")
    bucket = f"srs-mid-{uuid.uuid4().hex[:10]}"
    state_path = tmp_path / "aws-state.json"
    options = DeployOptions(
        state_path=state_path,
        storage=StorageOptions(name=name, bucket=bucket),
        personalize=PersonalizeOptions(name=name),
    )
    setup_storage(
        clients,
        options.storage,
        prepared_data_dir / "dataset",
        DeploymentState.load(state_path),
        False,
        print,
    )
    DeploymentState.load(state_path).record("dataset_group_arn", GROUP)
    role = Deployment(name, "us-east-1").role_name
    personalize = make_client("personalize")

    script = failing_campaign_cleanup(Script(personalize))
    with script:
        outcomes = run_cleanup(clients, personalize, options, FakeTime().pacing(), False, print)
    script.done()
    assert anything_left(outcomes)
    rows = {o.resource: o for o in outcomes}
    assert rows["campaign srs-campaign"] == Outcome(
        "campaign srs-campaign", STILL_THERE, "500: Internal Server Error"
    )
    assert rows["solution srs-solution"].why == "not tried: campaign srs-campaign is still there"
    assert rows[f"bucket {bucket}"].state == STILL_THERE
    assert "Personalize resources above are still there" in rows[f"bucket {bucket}"].why
    assert rows[f"IAM role {role}"].state == STILL_THERE
    assert not any("<" in o.why for o in outcomes)
    clients.s3.head_bucket(Bucket=bucket)
    clients.iam.get_role(RoleName=role)

    forced = replace(options, force=True)
    script = failing_campaign_cleanup(Script(personalize))
    with script:
        outcomes = run_cleanup(clients, personalize, forced, FakeTime().pacing(), False, print)
    script.done()
    assert [o.state for o in outcomes[-2:]] == [DELETED, DELETED]
    assert anything_left(outcomes)  # the campaign is still there, and the exit says so
    with pytest.raises(ClientError):
        clients.s3.head_bucket(Bucket=bucket)
