"""Personalize clean-up through Stubber: dependency order, in-use retries, already gone, dry run,
training stopped first, and a failure that leaves the rest of the clean-up going."""

from __future__ import annotations

from pathlib import Path

from stubbing import FakeTime, Script, arn, make_client

from srs.aws.cleanup_outcome import DELETED, GONE, STILL_THERE, STOPPED, Outcome, anything_left
from srs.aws.personalize_cleanup import PersonalizeCleanup
from srs.aws.personalize_setup import Timeouts
from srs.aws.state import DeploymentState

GROUP = arn("dataset-group", "srs-dataset-group")
SOLUTION = arn("solution", "srs-solution")
CAMPAIGN = arn("campaign", "srs-campaign")
TRACKER = arn("event-tracker", "0123abcd")
FILTER = arn("filter", "srs-exclude-launched")
DATASET = arn("dataset", "srs-dataset-group/INTERACTIONS")
SCHEMA = arn("schema", "srs-interactions-schema")
OTHER_SCHEMA = arn("schema", "someone-elses-schema")


def recorded_state(tmp_path: Path) -> DeploymentState:
    state = DeploymentState.load(tmp_path / "state.json")
    for key, value in {
        "dataset_group_arn": GROUP,
        "solution_arn": SOLUTION,
        "campaign_arn": CAMPAIGN,
        "event_tracker_arn": TRACKER,
        "filter_arn:exclude-launched": FILTER,
        "dataset_arn:interactions": DATASET,
        "schema_arn:interactions": SCHEMA,
        "tracking_id": "tracking-0123",
        "bucket": "kept-by-storage-cleanup",
    }.items():
        state.record(key, value)
    return state


VERSION = arn("solution", "srs-solution/1a2b3c4d")


def inventory(script: Script, versions: list[dict[str, str]] | None = None) -> Script:
    """What the dataset group holds, found by listing (not trusted from the state file)."""
    return (
        script.ok("describe_dataset_group", {"datasetGroup": {"datasetGroupArn": GROUP}})
        .ok(
            "list_solutions",
            {"solutions": [{"name": "srs-solution", "solutionArn": SOLUTION}]},
            datasetGroupArn=GROUP,
        )
        .ok(
            "list_campaigns",
            {"campaigns": [{"name": "srs-campaign", "campaignArn": CAMPAIGN}]},
            solutionArn=SOLUTION,
        )
        .ok(
            "list_solution_versions",
            {"solutionVersions": versions or []},
            solutionArn=SOLUTION,
        )
        .ok(
            "list_event_trackers",
            {"eventTrackers": [{"name": "srs-event-tracker", "eventTrackerArn": TRACKER}]},
        )
        .ok("list_filters", {"Filters": [{"name": "srs-exclude-launched", "filterArn": FILTER}]})
        .ok("list_datasets", {"datasets": [{"name": "srs-interactions", "datasetArn": DATASET}]})
        .ok(
            "list_schemas",
            {
                "schemas": [
                    {"name": "srs-interactions-schema", "schemaArn": SCHEMA},
                    {"name": "someone-elses-schema", "schemaArn": OTHER_SCHEMA},
                ]
            },
        )
    )


def gone(script: Script, describe: str, **params: str) -> Script:
    return script.fail(describe, "ResourceNotFoundException", "not found", **params)


def make_cleanup(
    tmp_path: Path, time: FakeTime, timeouts: Timeouts | None = None
) -> tuple[PersonalizeCleanup, Script, list[str]]:
    client = make_client("personalize")
    lines: list[str] = []
    cleanup = PersonalizeCleanup(
        client, recorded_state(tmp_path), "srs", time.pacing(), lines.append, timeouts
    )
    return cleanup, Script(client), lines


def test_cleanup_deletes_in_dependency_order_retrying_while_in_use(tmp_path: Path) -> None:
    time = FakeTime()
    cleanup, script, lines = make_cleanup(tmp_path, time)
    inventory(script)
    script.ok("delete_campaign", {}, campaignArn=CAMPAIGN)
    script.ok(
        "describe_campaign", {"campaign": {"campaignArn": CAMPAIGN, "status": "DELETE IN_PROGRESS"}}
    )
    gone(script, "describe_campaign", campaignArn=CAMPAIGN)
    script.ok("delete_event_tracker", {}, eventTrackerArn=TRACKER)
    gone(script, "describe_event_tracker", eventTrackerArn=TRACKER)
    script.ok("delete_filter", {}, filterArn=FILTER)
    gone(script, "describe_filter", filterArn=FILTER)
    script.fail("delete_solution", "ResourceInUseException", "campaign still deleting")
    script.ok("delete_solution", {}, solutionArn=SOLUTION)
    gone(script, "describe_solution", solutionArn=SOLUTION)
    script.ok("delete_dataset", {}, datasetArn=DATASET)
    gone(script, "describe_dataset", datasetArn=DATASET)
    script.ok("delete_dataset_group", {}, datasetGroupArn=GROUP)
    gone(script, "describe_dataset_group", datasetGroupArn=GROUP)
    script.ok("delete_schema", {}, schemaArn=SCHEMA)
    with script:
        outcomes = cleanup.run(dry_run=False)
    script.done()
    assert outcomes == [
        Outcome("campaign srs-campaign", DELETED),
        Outcome("event tracker srs-event-tracker", DELETED),
        Outcome("filter srs-exclude-launched", DELETED),
        Outcome("solution srs-solution", DELETED),
        Outcome("dataset srs-interactions", DELETED),
        Outcome("dataset group srs-dataset-group", DELETED),
        Outcome("schema srs-interactions-schema", DELETED),
    ]
    assert not anything_left(outcomes)
    # 5 s while the campaign deleted, 5 s while the solution was in use.
    assert time.sleeps == [5.0, 5.0]
    assert "deleting solution srs-solution: in use, retrying in 5 s" in lines
    remaining = dict(DeploymentState.load(tmp_path / "state.json").items())
    assert remaining == {"bucket": "kept-by-storage-cleanup"}


def test_second_cleanup_finds_everything_gone(tmp_path: Path) -> None:
    cleanup, script, lines = make_cleanup(tmp_path, FakeTime())
    gone(script, "describe_dataset_group", datasetGroupArn=GROUP)
    script.ok("list_schemas", {"schemas": []})
    with script:
        assert cleanup.run(dry_run=False) == []
    script.done()
    assert f"dataset group {GROUP}: already gone" in lines
    assert "Personalize: nothing to delete" in lines


def test_resource_vanishing_between_listing_and_delete_is_fine(tmp_path: Path) -> None:
    cleanup, script, lines = make_cleanup(tmp_path, FakeTime())
    gone(script, "describe_dataset_group", datasetGroupArn=GROUP)
    script.ok("list_schemas", {"schemas": [{"name": "srs-items-schema", "schemaArn": SCHEMA}]})
    script.fail("delete_schema", "ResourceNotFoundException", "gone")
    with script:
        outcomes = cleanup.run(dry_run=False)
    script.done()
    assert "schema srs-items-schema: already gone" in lines
    assert outcomes == [Outcome("schema srs-items-schema", GONE, "already gone")]


def test_dry_run_lists_and_deletes_nothing(tmp_path: Path) -> None:
    cleanup, script, lines = make_cleanup(tmp_path, FakeTime())
    inventory(script)
    with script:
        cleanup.run(dry_run=True)
    script.done()  # any delete call would have failed the stubber
    assert [line for line in lines if line.startswith("would delete")] == [
        f"would delete campaign srs-campaign ({CAMPAIGN})",
        f"would delete event tracker srs-event-tracker ({TRACKER})",
        f"would delete filter srs-exclude-launched ({FILTER})",
        f"would delete solution srs-solution ({SOLUTION})",
        f"would delete dataset srs-interactions ({DATASET})",
        f"would delete dataset group srs-dataset-group ({GROUP})",
        f"would delete schema srs-interactions-schema ({SCHEMA})",
    ]
    assert DeploymentState.load(tmp_path / "state.json").get("campaign_arn") == CAMPAIGN


def test_in_use_past_the_deadline_is_reported_as_still_there(tmp_path: Path) -> None:
    time = FakeTime()
    cleanup, script, _ = make_cleanup(tmp_path, time, Timeouts(delete=20))
    gone(script, "describe_dataset_group", datasetGroupArn=GROUP)
    script.ok("list_schemas", {"schemas": [{"name": "srs-items-schema", "schemaArn": SCHEMA}]})
    for _ in range(3):
        script.fail("delete_schema", "ResourceInUseException", "a dataset uses it")
    with script:
        [outcome] = cleanup.run(dry_run=False)
    script.done()
    assert time.sleeps == [5.0, 10.0]
    assert outcome.state == STILL_THERE and "still in use after 15 s" in outcome.why
    assert DeploymentState.load(tmp_path / "state.json").get("schema_arn:interactions") == SCHEMA


def test_training_in_progress_is_stopped_before_its_solution_is_deleted(tmp_path: Path) -> None:
    """Defect 6: StopSolutionVersionCreation first, instead of waiting on "in use" for an hour."""
    time = FakeTime()
    cleanup, script, lines = make_cleanup(tmp_path, time)
    inventory(script, versions=[{"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}])
    script.ok("stop_solution_version_creation", {}, solutionVersionArn=VERSION)
    for state in ("CREATE STOPPING", "CREATE STOPPED"):
        script.ok(
            "describe_solution_version",
            {"solutionVersion": {"solutionVersionArn": VERSION, "status": state}},
            solutionVersionArn=VERSION,
        )
    for delete, describe, param, value in [
        ("delete_campaign", "describe_campaign", "campaignArn", CAMPAIGN),
        ("delete_event_tracker", "describe_event_tracker", "eventTrackerArn", TRACKER),
        ("delete_filter", "describe_filter", "filterArn", FILTER),
        ("delete_solution", "describe_solution", "solutionArn", SOLUTION),
        ("delete_dataset", "describe_dataset", "datasetArn", DATASET),
        ("delete_dataset_group", "describe_dataset_group", "datasetGroupArn", GROUP),
    ]:
        script.ok(delete, {}, **{param: value})
        gone(script, describe, **{param: value})
    script.ok("delete_schema", {}, schemaArn=SCHEMA)
    with script:
        outcomes = cleanup.run(dry_run=False)
    script.done()
    assert outcomes[0] == Outcome("training 1a2b3c4d", STOPPED, "CREATE STOPPED")
    assert [outcome.state for outcome in outcomes[1:]] == [DELETED] * 7
    assert time.sleeps == [5.0]
    assert "training 1a2b3c4d: stopping" in lines


def test_a_failed_delete_does_not_stop_the_rest(tmp_path: Path) -> None:
    """Defect 4: the campaign cannot be deleted; what does not need it goes, what does stays."""
    cleanup, script, _ = make_cleanup(tmp_path, FakeTime())
    inventory(script)
    html = (
        "<!doctype html>\n<html lang=en>\n<title>403 Forbidden</title>\n"
        "<h1>Forbidden</h1>\n<p>Request blocked by the proxy.</p>\n"
    )
    script.fail("delete_campaign", "AccessDeniedException", html, campaignArn=CAMPAIGN)
    script.ok("delete_event_tracker", {}, eventTrackerArn=TRACKER)
    gone(script, "describe_event_tracker", eventTrackerArn=TRACKER)
    script.ok("delete_filter", {}, filterArn=FILTER)
    gone(script, "describe_filter", filterArn=FILTER)
    script.ok("delete_dataset", {}, datasetArn=DATASET)
    gone(script, "describe_dataset", datasetArn=DATASET)
    script.ok("delete_schema", {}, schemaArn=SCHEMA)
    with script:
        outcomes = cleanup.run(dry_run=False)
    script.done()
    assert outcomes == [
        Outcome(
            "campaign srs-campaign",
            STILL_THERE,
            "AccessDeniedException: Forbidden Request blocked by the proxy.",
        ),
        Outcome("event tracker srs-event-tracker", DELETED),
        Outcome("filter srs-exclude-launched", DELETED),
        Outcome(
            "solution srs-solution", STILL_THERE, "not tried: campaign srs-campaign is still there"
        ),
        Outcome("dataset srs-interactions", DELETED),
        Outcome(
            "dataset group srs-dataset-group",
            STILL_THERE,
            "not tried: campaign srs-campaign is still there",
        ),
        Outcome("schema srs-interactions-schema", DELETED),
    ]
    assert anything_left(outcomes)
    remaining = DeploymentState.load(tmp_path / "state.json")
    assert remaining.get("campaign_arn") == CAMPAIGN and remaining.get("tracking_id")
    assert remaining.get("event_tracker_arn") is None


def test_listing_that_fails_is_one_row_still_there(tmp_path: Path) -> None:
    cleanup, script, _ = make_cleanup(tmp_path, FakeTime())
    script.fail("describe_dataset_group", "AccessDeniedException", "not authorized")
    with script:
        outcomes = cleanup.run(dry_run=False)
    script.done()
    assert outcomes == [
        Outcome(
            "Personalize resources of srs",
            STILL_THERE,
            "Personalize describe_dataset_group failed: AccessDeniedException: not authorized",
        )
    ]


def test_training_that_ended_before_the_stop_does_not_block_its_solution(tmp_path: Path) -> None:
    cleanup, script, _ = make_cleanup(tmp_path, FakeTime())
    inventory(script, versions=[{"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}])
    script.fail(
        "stop_solution_version_creation",
        "ResourceInUseException",
        "The solution version is not in progress.",
        solutionVersionArn=VERSION,
    )
    script.ok(
        "describe_solution_version",
        {"solutionVersion": {"solutionVersionArn": VERSION, "status": "ACTIVE"}},
        solutionVersionArn=VERSION,
    )
    for delete, describe, param, value in [
        ("delete_campaign", "describe_campaign", "campaignArn", CAMPAIGN),
        ("delete_event_tracker", "describe_event_tracker", "eventTrackerArn", TRACKER),
        ("delete_filter", "describe_filter", "filterArn", FILTER),
        ("delete_solution", "describe_solution", "solutionArn", SOLUTION),
        ("delete_dataset", "describe_dataset", "datasetArn", DATASET),
        ("delete_dataset_group", "describe_dataset_group", "datasetGroupArn", GROUP),
    ]:
        script.ok(delete, {}, **{param: value})
        gone(script, describe, **{param: value})
    script.ok("delete_schema", {}, schemaArn=SCHEMA)
    with script:
        outcomes = cleanup.run(dry_run=False)
    script.done()
    assert outcomes[0] == Outcome("training 1a2b3c4d", STOPPED, "had ended by itself: ACTIVE")
    assert not anything_left(outcomes)
