"""Personalize set-up through Stubber: the whole sequence, resumption, and every failure path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from personalize_script import (
    CAMPAIGN,
    FILTER_ARN,
    GROUP,
    I_DATASET,
    I_IMPORT,
    I_SCHEMA,
    METRICS,
    OPTIONS,
    ROLE,
    SOLUTION,
    SOURCES,
    T_DATASET,
    T_IMPORT,
    T_SCHEMA,
    TAGS,
    TRACKER,
    VERSION,
    interactions_dataset_and_import,
    items_dataset_and_import,
    schemas_to_groups,
    serving,
    solution_created,
    status,
    training,
)
from stubbing import FakeTime, Script, arn, make_client

from srs.aws.errors import AwsError
from srs.aws.personalize_setup import (
    PersonalizeOptions,
    PersonalizeSetup,
    Timeouts,
    metrics_side_by_side,
    same_schema,
)
from srs.aws.polling import ResourceFailedError, WaitTimeoutError
from srs.aws.state import DeploymentState
from srs.data.schemas import INTERACTIONS_SCHEMA, ITEMS_SCHEMA


def make_setup(
    tmp_path: Path,
    time: FakeTime,
    options: PersonalizeOptions = OPTIONS,
    timeouts: Timeouts | None = None,
) -> tuple[PersonalizeSetup, Script, list[str]]:
    client = make_client("personalize")
    lines: list[str] = []
    state = DeploymentState.load(tmp_path / "state.json")
    setup = PersonalizeSetup(client, state, options, time.pacing(), lines.append, timeouts)
    return setup, Script(client), lines


def test_whole_setup_from_nothing(tmp_path: Path) -> None:
    time = FakeTime()
    setup, script, lines = make_setup(tmp_path, time)
    serving(
        training(
            solution_created(
                items_dataset_and_import(interactions_dataset_and_import(schemas_to_groups(script)))
            )
        )
    )
    with script:
        result = setup.run(SOURCES)
    script.done()
    assert result.metrics == METRICS
    assert result.tracking_id == "tracking-0123"
    recorded = dict(DeploymentState.load(tmp_path / "state.json").items())
    assert recorded == {
        "campaign_arn": CAMPAIGN,
        "dataset_arn:interactions": I_DATASET,
        "dataset_arn:items": T_DATASET,
        "dataset_group_arn": GROUP,
        "event_tracker_arn": TRACKER,
        "filter_arn:exclude-launched": FILTER_ARN,
        "import_job_arn:interactions": I_IMPORT,
        "import_job_arn:items": T_IMPORT,
        "schema_arn:interactions": I_SCHEMA,
        "schema_arn:items": T_SCHEMA,
        "solution_arn": SOLUTION,
        "solution_version_arn": VERSION,
        "tracking_id": "tracking-0123",
    }
    # One 5 s poll each for the group, the import, the training and the campaign.
    assert time.sleeps == [5.0, 5.0, 5.0, 5.0]
    assert f"campaign srs-campaign: created {CAMPAIGN}" in lines
    assert any(line.startswith("training (solution version): ACTIVE") for line in lines)


def test_failed_import_stops_with_its_reason_and_keeps_the_arn(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    interactions_dataset_and_import(schemas_to_groups(script), import_status="CREATE FAILED")
    with script, pytest.raises(ResourceFailedError) as info:
        setup.run(SOURCES)
    script.done()
    assert str(info.value) == (
        "interactions import: CREATE FAILED: "
        "Input file has 999 interactions; at least 1000 are required."
    )
    assert DeploymentState.load(tmp_path / "state.json").get("import_job_arn:interactions") == (
        I_IMPORT
    )


def test_failed_training_stops_with_its_reason(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    training(solution_created(script), final="CREATE FAILED")
    with script, pytest.raises(ResourceFailedError, match="Not enough users with at least 2"):
        setup.solution_version(setup.solution(GROUP))
    script.done()


def test_throttling_botocore_gave_up_on_is_not_retried_again(tmp_path: Path) -> None:
    """Defect 9: botocore's standard retries are the only layer; SRS makes the call once."""
    time = FakeTime()
    setup, script, _ = make_setup(tmp_path, time)
    script.fail("list_dataset_groups", "ThrottlingException", "Rate exceeded")
    with script, pytest.raises(AwsError, match="list_dataset_groups failed: ThrottlingException"):
        setup.dataset_group()
    script.done()
    assert time.sleeps == []


def test_clients_carry_botocore_standard_retries() -> None:
    from srs.aws.clients import make_client, make_clients, make_session

    session = make_session()
    clients = make_clients("eu-west-1", session=session)
    for client in (clients.s3, clients.iam, clients.sts, make_client("personalize", "eu-west-1")):
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 8}


def test_lists_follow_next_token_through_the_paginator(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    other = {"name": "other", "datasetGroupArn": arn("dataset-group", "other"), "status": "ACTIVE"}
    mine = {"name": "srs-dataset-group", "datasetGroupArn": GROUP, "status": "ACTIVE"}
    (
        script.ok("list_dataset_groups", {"datasetGroups": [other], "nextToken": "page-2"}).ok(
            "list_dataset_groups", {"datasetGroups": [mine]}, nextToken="page-2"
        )
    )
    with script:
        assert setup.dataset_group() == GROUP
    script.done()


def test_limit_exceeded_stops_with_aws_message(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    message = "You have reached the limit of 5 dataset groups in this region."
    script.ok("list_dataset_groups", {"datasetGroups": []}).fail(
        "create_dataset_group", "LimitExceededException", message
    )
    with script, pytest.raises(AwsError) as info:
        setup.dataset_group()
    script.done()
    assert str(info.value) == (
        f"Personalize create_dataset_group failed: LimitExceededException: {message}"
    )
    assert DeploymentState.load(tmp_path / "state.json").get("dataset_group_arn") is None


def test_access_denied_names_the_operation(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    script.fail(
        "list_dataset_groups",
        "AccessDeniedException",
        "User is not authorized to perform: personalize:ListDatasetGroups",
    )
    with (
        script,
        pytest.raises(AwsError, match=r"list_dataset_groups failed: AccessDeniedException"),
    ):
        setup.dataset_group()
    script.done()


def test_already_exists_on_create_reuses_what_another_run_made(tmp_path: Path) -> None:
    """A resource created by another run between our list and our create is found and reused."""
    setup, script, lines = make_setup(tmp_path, FakeTime())
    mine = {"name": "srs-dataset-group", "datasetGroupArn": GROUP, "status": "ACTIVE"}
    (
        script.ok("list_dataset_groups", {"datasetGroups": []})
        .fail(
            "create_dataset_group",
            "ResourceAlreadyExistsException",
            "Another resource with the same name already exists.",
        )
        .ok("list_dataset_groups", {"datasetGroups": [mine]})
    )
    with script:
        assert setup.dataset_group() == GROUP
    script.done()
    assert "dataset group srs-dataset-group: created meanwhile by another run" in lines
    assert DeploymentState.load(tmp_path / "state.json").get("dataset_group_arn") == GROUP


def test_already_exists_that_cannot_be_found_is_reported(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    (
        script.ok("list_dataset_groups", {"datasetGroups": []})
        .fail(
            "create_dataset_group",
            "ResourceAlreadyExistsException",
            "Another resource with the same name already exists.",
        )
        .ok("list_dataset_groups", {"datasetGroups": []})
    )
    with script, pytest.raises(AwsError, match="ResourceAlreadyExistsException: Another resource"):
        setup.dataset_group()
    script.done()


def test_wait_that_times_out_says_how_to_resume(tmp_path: Path) -> None:
    time = FakeTime()
    setup, script, _ = make_setup(tmp_path, time, timeouts=Timeouts(resource=30))
    script.ok("list_dataset_groups", {"datasetGroups": []}).ok(
        "create_dataset_group", {"datasetGroupArn": GROUP}
    )
    for _ in range(3):
        script.ok(
            "describe_dataset_group",
            status("datasetGroup", "datasetGroupArn", GROUP, "CREATE IN_PROGRESS"),
        )
    with script, pytest.raises(WaitTimeoutError) as info:
        setup.dataset_group()
    script.done()
    # Polls at 0, 5 and 15 s; the next delay (20 s) would pass the 30 s deadline.
    assert time.sleeps == [5.0, 10.0]
    assert "still CREATE IN_PROGRESS after 15 s (timeout 30 s)" in str(info.value)
    assert "run set-up again" in str(info.value)
    assert DeploymentState.load(tmp_path / "state.json").get("dataset_group_arn") == GROUP


def test_rerun_after_a_crash_during_training_resumes_without_creating_twice(
    tmp_path: Path,
) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    same_interactions = {
        "name": "srs-interactions-schema",
        "schemaArn": I_SCHEMA,
        "schema": json.dumps(INTERACTIONS_SCHEMA, indent=4),
    }
    same_items = {
        "name": "srs-items-schema",
        "schemaArn": T_SCHEMA,
        "schema": json.dumps(ITEMS_SCHEMA),
    }
    schemas = {
        "schemas": [
            {"name": "srs-interactions-schema", "schemaArn": I_SCHEMA},
            {"name": "srs-items-schema", "schemaArn": T_SCHEMA},
        ]
    }
    datasets = {
        "datasets": [
            {
                "name": "srs-interactions",
                "datasetArn": I_DATASET,
                "datasetType": "INTERACTIONS",
                "status": "ACTIVE",
            },
            {
                "name": "srs-items",
                "datasetArn": T_DATASET,
                "datasetType": "ITEMS",
                "status": "ACTIVE",
            },
        ]
    }
    (
        script.ok("list_schemas", schemas)
        .ok("describe_schema", {"schema": same_interactions}, schemaArn=I_SCHEMA)
        .ok("list_schemas", schemas)
        .ok("describe_schema", {"schema": same_items}, schemaArn=T_SCHEMA)
        .ok(
            "list_dataset_groups",
            {
                "datasetGroups": [
                    {"name": "srs-dataset-group", "datasetGroupArn": GROUP, "status": "ACTIVE"}
                ]
            },
        )
        .ok("list_datasets", datasets)
        .ok(
            "list_dataset_import_jobs",
            {
                "datasetImportJobs": [
                    {
                        "jobName": "srs-interactions-import-1",
                        "datasetImportJobArn": I_IMPORT,
                        "status": "ACTIVE",
                    }
                ]
            },
        )
        .ok("list_datasets", datasets)
        .ok(
            "list_dataset_import_jobs",
            {
                "datasetImportJobs": [
                    {
                        "jobName": "srs-items-import-1",
                        "datasetImportJobArn": T_IMPORT,
                        "status": "ACTIVE",
                    }
                ]
            },
        )
        .ok(
            "list_solutions",
            {"solutions": [{"name": "srs-solution", "solutionArn": SOLUTION, "status": "ACTIVE"}]},
        )
        .ok(
            "describe_solution",
            status("solution", "solutionArn", SOLUTION, "ACTIVE", performAutoTraining=False),
            solutionArn=SOLUTION,
        )
        .ok(
            "list_solution_versions",
            {"solutionVersions": [{"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}]},
        )
    )
    serving(training(script, created=False))
    with script:
        result = setup.run(SOURCES)
    script.done()
    assert result.arns["solution_version_arn"] == VERSION
    assert result.arns["campaign_arn"] == CAMPAIGN


def test_import_failed_before_is_started_again_under_a_new_name(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    new_job = arn("dataset-import-job", "srs-interactions-import-2")
    (
        script.ok(
            "list_dataset_import_jobs",
            {
                "datasetImportJobs": [
                    {
                        "jobName": "srs-interactions-import-1",
                        "datasetImportJobArn": I_IMPORT,
                        "status": "CREATE FAILED",
                        "failureReason": "bad file",
                    }
                ]
            },
        )
        .ok(
            "create_dataset_import_job",
            {"datasetImportJobArn": new_job},
            jobName="srs-interactions-import-2",
            datasetArn=I_DATASET,
            dataSource={"dataLocation": SOURCES.interactions_uri},
            roleArn=ROLE,
            tags=TAGS,
        )
        .ok(
            "describe_dataset_import_job",
            status("datasetImportJob", "datasetImportJobArn", new_job, "ACTIVE"),
        )
    )
    with script:
        assert setup.import_job("interactions", I_DATASET, SOURCES.interactions_uri, ROLE) == (
            new_job
        )
    script.done()


def test_schema_with_other_fields_is_replaced_when_unused(tmp_path: Path) -> None:
    setup, script, lines = make_setup(tmp_path, FakeTime())
    old = {"name": "srs-interactions-schema", "schemaArn": I_SCHEMA, "schema": '{"old": 1}'}
    new_arn = I_SCHEMA + "-2"
    (
        script.ok("list_schemas", {"schemas": [{"name": old["name"], "schemaArn": I_SCHEMA}]})
        .ok("describe_schema", {"schema": old})
        .ok("delete_schema", {}, schemaArn=I_SCHEMA)
        .ok("create_schema", {"schemaArn": new_arn})
    )
    with script:
        assert setup.schema("interactions", INTERACTIONS_SCHEMA) == new_arn
    script.done()
    assert any("deleted to recreate" in line for line in lines)


def test_schema_with_other_fields_in_use_stops_set_up(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    old = {"name": "srs-interactions-schema", "schemaArn": I_SCHEMA, "schema": '{"old": 1}'}
    (
        script.ok("list_schemas", {"schemas": [{"name": old["name"], "schemaArn": I_SCHEMA}]})
        .ok("describe_schema", {"schema": old})
        .fail("delete_schema", "ResourceInUseException", "Schema is in use")
    )
    with script, pytest.raises(AwsError, match="exists with other fields and a dataset uses it"):
        setup.schema("interactions", INTERACTIONS_SCHEMA)
    script.done()


def test_batch_only_options_skip_the_campaign(tmp_path: Path) -> None:
    options = PersonalizeOptions(name="srs", campaign=False, min_provisioned_tps=3)
    setup, script, _ = make_setup(tmp_path, FakeTime(), options=options)
    assert not setup.options.campaign
    script.ok("get_solution_metrics", {"solutionVersionArn": VERSION, "metrics": METRICS})
    with script:
        assert setup.metrics(VERSION) == METRICS
    script.done()


def test_schema_comparison_ignores_layout() -> None:
    assert same_schema(json.dumps(INTERACTIONS_SCHEMA, indent=8), INTERACTIONS_SCHEMA)
    assert not same_schema(json.dumps(ITEMS_SCHEMA), INTERACTIONS_SCHEMA)
    assert not same_schema("not json", INTERACTIONS_SCHEMA)


def test_metrics_side_by_side_keeps_every_name() -> None:
    rows = metrics_side_by_side({"coverage": 0.4, "precision_at_5": 0.1}, {"coverage": 0.6})
    assert rows == [("coverage", 0.4, 0.6), ("precision_at_5", 0.1, None)]


def test_refresh_imports_again_although_an_import_finished(tmp_path: Path) -> None:
    options = PersonalizeOptions(name="srs", refresh=True)
    setup, script, _ = make_setup(tmp_path, FakeTime(), options=options)
    new_job = arn("dataset-import-job", "srs-interactions-import-2")
    (
        script.ok(
            "list_dataset_import_jobs",
            {
                "datasetImportJobs": [
                    {
                        "jobName": "srs-interactions-import-1",
                        "datasetImportJobArn": I_IMPORT,
                        "status": "ACTIVE",
                    }
                ]
            },
        )
        .ok(
            "create_dataset_import_job",
            {"datasetImportJobArn": new_job},
            jobName="srs-interactions-import-2",
            datasetArn=I_DATASET,
            dataSource={"dataLocation": SOURCES.interactions_uri},
            roleArn=ROLE,
            tags=TAGS,
        )
        .ok(
            "describe_dataset_import_job",
            status("datasetImportJob", "datasetImportJobArn", new_job, "ACTIVE"),
        )
    )
    with script:
        assert setup.import_job("interactions", I_DATASET, SOURCES.interactions_uri, ROLE) == (
            new_job
        )
    script.done()


def test_campaign_on_an_older_version_is_updated_and_waited_on(tmp_path: Path) -> None:
    time = FakeTime()
    setup, script, lines = make_setup(tmp_path, time)
    old_version = arn("solution", "srs-solution/00000000")
    (
        script.ok(
            "list_campaigns",
            {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN, "status": "ACTIVE"}]},
        )
        .ok(
            "describe_campaign",
            {
                "campaign": {
                    "campaignArn": CAMPAIGN,
                    "status": "ACTIVE",
                    "solutionVersionArn": old_version,
                    "minProvisionedTPS": 1,
                }
            },
        )
        .ok(
            "update_campaign",
            {"campaignArn": CAMPAIGN},
            campaignArn=CAMPAIGN,
            solutionVersionArn=VERSION,
            minProvisionedTPS=1,
            campaignConfig={"syncWithLatestSolutionVersion": False},
        )
        .ok(
            "describe_campaign",
            {
                "campaign": {
                    "campaignArn": CAMPAIGN,
                    "status": "ACTIVE",
                    "latestCampaignUpdate": {"status": "CREATE IN_PROGRESS"},
                }
            },
        )
        .ok(
            "describe_campaign",
            {
                "campaign": {
                    "campaignArn": CAMPAIGN,
                    "status": "ACTIVE",
                    "latestCampaignUpdate": {"status": "ACTIVE", "solutionVersionArn": VERSION},
                }
            },
        )
    )
    with script:
        assert setup.campaign(SOLUTION, VERSION) == CAMPAIGN
    script.done()
    assert f"campaign srs-campaign: updating to {VERSION}" in lines
    assert time.sleeps == [5.0]


def test_campaign_with_another_min_tps_is_updated(tmp_path: Path) -> None:
    options = PersonalizeOptions(name="srs", min_provisioned_tps=5)
    setup, script, lines = make_setup(tmp_path, FakeTime(), options=options)
    current = {"campaignArn": CAMPAIGN, "status": "ACTIVE", "solutionVersionArn": VERSION}
    (
        script.ok(
            "list_campaigns",
            {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN, "status": "ACTIVE"}]},
        )
        .ok("describe_campaign", {"campaign": {**current, "minProvisionedTPS": 1}})
        .ok(
            "update_campaign",
            {"campaignArn": CAMPAIGN},
            campaignArn=CAMPAIGN,
            solutionVersionArn=VERSION,
            minProvisionedTPS=5,
            campaignConfig={"syncWithLatestSolutionVersion": False},
        )
        .ok(
            "describe_campaign",
            {"campaign": {**current, "latestCampaignUpdate": {"status": "ACTIVE"}}},
        )
    )
    with script:
        assert setup.campaign(SOLUTION, VERSION) == CAMPAIGN
    script.done()
    assert "campaign srs-campaign: updating minProvisionedTPS 1 -> 5" in lines


def test_campaign_that_matches_is_left_alone(tmp_path: Path) -> None:
    setup, script, lines = make_setup(tmp_path, FakeTime())
    campaign = {
        "campaignArn": CAMPAIGN,
        "status": "ACTIVE",
        "solutionVersionArn": VERSION,
        "minProvisionedTPS": 1,
    }
    (
        script.ok(
            "list_campaigns",
            {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN, "status": "ACTIVE"}]},
        ).ok("describe_campaign", {"campaign": campaign})
    )
    with script:
        assert setup.campaign(SOLUTION, VERSION) == CAMPAIGN
    script.done()
    assert not any("updating" in line for line in lines)


def test_auto_training_is_off_by_default() -> None:
    assert PersonalizeOptions().perform_auto_training is False


def test_auto_training_campaign_follows_the_latest_version(tmp_path: Path) -> None:
    """Defect 5: with automatic training on, the campaign syncs with the latest version."""
    options = PersonalizeOptions(name="srs", perform_auto_training=True)
    setup, script, _ = make_setup(tmp_path, FakeTime(), options=options)
    solution_created(script, auto_training=True)
    serving(script, auto_training=True)
    with script:
        solution = setup.solution(GROUP)
        setup.metrics(VERSION)
        assert setup.campaign(solution, VERSION) == CAMPAIGN
        setup.event_tracker(GROUP)
        setup.filter(GROUP, "exclude-launched", OPTIONS.filters["exclude-launched"])
    script.done()


def test_switching_auto_training_off_updates_solution_and_campaign(tmp_path: Path) -> None:
    setup, script, lines = make_setup(tmp_path, FakeTime())
    synced = {
        "campaignArn": CAMPAIGN,
        "status": "ACTIVE",
        "solutionVersionArn": VERSION,
        "minProvisionedTPS": 1,
        "campaignConfig": {"syncWithLatestSolutionVersion": True},
    }
    (
        script.ok(
            "list_solutions",
            {"solutions": [{"name": "srs-solution", "solutionArn": SOLUTION, "status": "ACTIVE"}]},
        )
        .ok(
            "describe_solution",
            status("solution", "solutionArn", SOLUTION, "ACTIVE", performAutoTraining=True),
        )
        .ok(
            "update_solution",
            {"solutionArn": SOLUTION},
            solutionArn=SOLUTION,
            performAutoTraining=False,
        )
        .ok(
            "describe_solution",
            status(
                "solution",
                "solutionArn",
                SOLUTION,
                "ACTIVE",
                latestSolutionUpdate={"status": "ACTIVE", "performAutoTraining": False},
            ),
        )
        .ok(
            "list_campaigns",
            {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN, "status": "ACTIVE"}]},
        )
        .ok("describe_campaign", {"campaign": synced})
        .ok(
            "update_campaign",
            {"campaignArn": CAMPAIGN},
            campaignArn=CAMPAIGN,
            solutionVersionArn=VERSION,
            minProvisionedTPS=1,
            campaignConfig={"syncWithLatestSolutionVersion": False},
        )
        .ok(
            "describe_campaign",
            {"campaign": {**synced, "latestCampaignUpdate": {"status": "ACTIVE"}}},
        )
    )
    with script:
        assert setup.solution(GROUP) == SOLUTION
        assert setup.campaign(SOLUTION, VERSION) == CAMPAIGN
    script.done()
    assert "solution srs-solution: updating automatic training True -> False" in lines
    assert "campaign srs-campaign: updating syncWithLatestSolutionVersion True -> False" in lines


def test_failed_campaign_create_stops_with_its_reason(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    (
        script.ok("list_campaigns", {"campaigns": []})
        .ok("create_campaign", {"campaignArn": CAMPAIGN})
        .ok(
            "describe_campaign",
            status(
                "campaign",
                "campaignArn",
                CAMPAIGN,
                "CREATE FAILED",
                failureReason="minProvisionedTPS exceeds the account's limit.",
            ),
        )
    )
    with script, pytest.raises(ResourceFailedError) as info:
        setup.campaign(SOLUTION, VERSION)
    script.done()
    assert str(info.value) == (
        "campaign srs-campaign: CREATE FAILED: minProvisionedTPS exceeds the account's limit."
    )
    assert DeploymentState.load(tmp_path / "state.json").get("campaign_arn") == CAMPAIGN


def test_failed_campaign_update_stops_with_its_reason(tmp_path: Path) -> None:
    setup, script, _ = make_setup(tmp_path, FakeTime())
    current = {"campaignArn": CAMPAIGN, "status": "ACTIVE", "minProvisionedTPS": 1}
    (
        script.ok(
            "list_campaigns",
            {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN, "status": "ACTIVE"}]},
        )
        .ok("describe_campaign", {"campaign": {**current, "solutionVersionArn": "old"}})
        .ok("update_campaign", {"campaignArn": CAMPAIGN})
        .ok(
            "describe_campaign",
            {
                "campaign": {
                    **current,
                    "latestCampaignUpdate": {
                        "status": "CREATE FAILED",
                        "failureReason": "The solution version is not ACTIVE.",
                    },
                }
            },
        )
    )
    with script, pytest.raises(ResourceFailedError, match="update: CREATE FAILED: The solution"):
        setup.campaign(SOLUTION, VERSION)
    script.done()
