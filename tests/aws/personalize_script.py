"""Scripted Personalize set-up: the resources of one deployment and the calls that build them.

Shared by the set-up tests and the whole-sequence test; the S3 locations and the role are the
ones storage set-up produces for bucket ``srs-sequence-test`` on moto's default account. Every
create call that takes tags is expected with the deployment's ``srs:deployment`` tag.
"""

from __future__ import annotations

import json
from typing import Any

from stubbing import Script, arn

from srs.aws.personalize_setup import DEFAULT_RECIPE_ARN, DataSources, PersonalizeOptions
from srs.data.schemas import INTERACTIONS_SCHEMA, ITEMS_SCHEMA

BUCKET = "srs-sequence-test"

ROLE = "arn:aws:iam::123456789012:role/srs-personalize-srs-us-east-1"
TAGS = [{"tagKey": "srs:deployment", "tagValue": "srs-us-east-1"}]
SOURCES = DataSources(
    interactions_uri=f"s3://{BUCKET}/srs/dataset/interactions.csv",
    items_uri=f"s3://{BUCKET}/srs/dataset/items.csv",
    role_arn=ROLE,
)
FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")'
OPTIONS = PersonalizeOptions(name="srs", filters={"exclude-launched": FILTER})

GROUP = arn("dataset-group", "srs-dataset-group")
I_SCHEMA = arn("schema", "srs-interactions-schema")
T_SCHEMA = arn("schema", "srs-items-schema")
I_DATASET = arn("dataset", "srs-dataset-group/INTERACTIONS")
T_DATASET = arn("dataset", "srs-dataset-group/ITEMS")
I_IMPORT = arn("dataset-import-job", "srs-interactions-import-1")
T_IMPORT = arn("dataset-import-job", "srs-items-import-1")
SOLUTION = arn("solution", "srs-solution")
VERSION = arn("solution", "srs-solution/1a2b3c4d")
CAMPAIGN = arn("campaign", "srs-campaign")
TRACKER = arn("event-tracker", "0123abcd")
FILTER_ARN = arn("filter", "srs-exclude-launched")
METRICS = {"coverage": 0.4, "normalized_discounted_cumulative_gain_at_10": 0.31}


def status(key: str, arn_field: str, value: str, state: str, **extra: Any) -> dict[str, Any]:
    return {key: {arn_field: value, "status": state, **extra}}


def schemas_to_groups(script: Script) -> Script:
    """Nothing exists yet: both schemas and the dataset group are created."""
    return (
        script.ok("list_schemas", {"schemas": []})
        .ok(
            "create_schema",
            {"schemaArn": I_SCHEMA},
            name="srs-interactions-schema",
            schema=json.dumps(INTERACTIONS_SCHEMA),
        )
        .ok("list_schemas", {"schemas": []})
        .ok(
            "create_schema",
            {"schemaArn": T_SCHEMA},
            name="srs-items-schema",
            schema=json.dumps(ITEMS_SCHEMA),
        )
        .ok("list_dataset_groups", {"datasetGroups": []})
        .ok(
            "create_dataset_group",
            {"datasetGroupArn": GROUP},
            name="srs-dataset-group",
            tags=TAGS,
        )
        .ok(
            "describe_dataset_group",
            status("datasetGroup", "datasetGroupArn", GROUP, "CREATE PENDING"),
            datasetGroupArn=GROUP,
        )
        .ok(
            "describe_dataset_group",
            status("datasetGroup", "datasetGroupArn", GROUP, "ACTIVE"),
            datasetGroupArn=GROUP,
        )
    )


def interactions_dataset_and_import(script: Script, import_status: str = "ACTIVE") -> Script:
    return (
        script.ok("list_datasets", {"datasets": []}, datasetGroupArn=GROUP)
        .ok(
            "create_dataset",
            {"datasetArn": I_DATASET},
            name="srs-interactions",
            schemaArn=I_SCHEMA,
            datasetGroupArn=GROUP,
            datasetType="Interactions",
            tags=TAGS,
        )
        .ok("describe_dataset", status("dataset", "datasetArn", I_DATASET, "ACTIVE"))
        .ok("list_dataset_import_jobs", {"datasetImportJobs": []}, datasetArn=I_DATASET)
        .ok(
            "create_dataset_import_job",
            {"datasetImportJobArn": I_IMPORT},
            jobName="srs-interactions-import-1",
            datasetArn=I_DATASET,
            dataSource={"dataLocation": SOURCES.interactions_uri},
            roleArn=ROLE,
            tags=TAGS,
        )
        .ok(
            "describe_dataset_import_job",
            status("datasetImportJob", "datasetImportJobArn", I_IMPORT, "CREATE IN_PROGRESS"),
        )
        .ok(
            "describe_dataset_import_job",
            status(
                "datasetImportJob",
                "datasetImportJobArn",
                I_IMPORT,
                import_status,
                failureReason="Input file has 999 interactions; at least 1000 are required.",
            ),
            datasetImportJobArn=I_IMPORT,
        )
    )


def items_dataset_and_import(script: Script) -> Script:
    return (
        script.ok(
            "list_datasets",
            {
                "datasets": [
                    {
                        "name": "srs-interactions",
                        "datasetArn": I_DATASET,
                        "datasetType": "INTERACTIONS",
                        "status": "ACTIVE",
                    }
                ]
            },
        )
        .ok(
            "create_dataset",
            {"datasetArn": T_DATASET},
            name="srs-items",
            schemaArn=T_SCHEMA,
            datasetGroupArn=GROUP,
            datasetType="Items",
            tags=TAGS,
        )
        .ok("describe_dataset", status("dataset", "datasetArn", T_DATASET, "ACTIVE"))
        .ok("list_dataset_import_jobs", {"datasetImportJobs": []}, datasetArn=T_DATASET)
        .ok(
            "create_dataset_import_job",
            {"datasetImportJobArn": T_IMPORT},
            jobName="srs-items-import-1",
            datasetArn=T_DATASET,
            dataSource={"dataLocation": SOURCES.items_uri},
            roleArn=ROLE,
            tags=TAGS,
        )
        .ok(
            "describe_dataset_import_job",
            status("datasetImportJob", "datasetImportJobArn", T_IMPORT, "ACTIVE"),
        )
    )


def solution_created(script: Script, auto_training: bool = False) -> Script:
    return (
        script.ok("list_solutions", {"solutions": []}, datasetGroupArn=GROUP)
        .ok(
            "create_solution",
            {"solutionArn": SOLUTION},
            name="srs-solution",
            datasetGroupArn=GROUP,
            recipeArn=DEFAULT_RECIPE_ARN,
            performAutoTraining=auto_training,
            tags=TAGS,
        )
        .ok("describe_solution", status("solution", "solutionArn", SOLUTION, "ACTIVE"))
    )


def training(script: Script, final: str = "ACTIVE", created: bool = True) -> Script:
    if created:
        script.ok("list_solution_versions", {"solutionVersions": []}, solutionArn=SOLUTION)
        script.ok(
            "create_solution_version",
            {"solutionVersionArn": VERSION},
            solutionArn=SOLUTION,
            tags=TAGS,
        )
    return script.ok(
        "describe_solution_version",
        status("solutionVersion", "solutionVersionArn", VERSION, "CREATE IN_PROGRESS"),
    ).ok(
        "describe_solution_version",
        status(
            "solutionVersion",
            "solutionVersionArn",
            VERSION,
            final,
            failureReason="Not enough users with at least 2 interactions.",
        ),
        solutionVersionArn=VERSION,
    )


def serving(script: Script, auto_training: bool = False) -> Script:
    return (
        script.ok("get_solution_metrics", {"solutionVersionArn": VERSION, "metrics": METRICS})
        .ok("list_campaigns", {"campaigns": []}, solutionArn=SOLUTION)
        .ok(
            "create_campaign",
            {"campaignArn": CAMPAIGN},
            name="srs-campaign",
            solutionVersionArn=f"{SOLUTION}/$LATEST" if auto_training else VERSION,
            minProvisionedTPS=1,
            campaignConfig={"syncWithLatestSolutionVersion": auto_training},
            tags=TAGS,
        )
        .ok("describe_campaign", status("campaign", "campaignArn", CAMPAIGN, "CREATE PENDING"))
        .ok("describe_campaign", status("campaign", "campaignArn", CAMPAIGN, "ACTIVE"))
        .ok("list_event_trackers", {"eventTrackers": []}, datasetGroupArn=GROUP)
        .ok(
            "create_event_tracker",
            {"eventTrackerArn": TRACKER, "trackingId": "tracking-0123"},
            name="srs-event-tracker",
            datasetGroupArn=GROUP,
            tags=TAGS,
        )
        .ok(
            "describe_event_tracker",
            status(
                "eventTracker", "eventTrackerArn", TRACKER, "ACTIVE", trackingId="tracking-0123"
            ),
        )
        .ok(
            "describe_event_tracker",
            status(
                "eventTracker", "eventTrackerArn", TRACKER, "ACTIVE", trackingId="tracking-0123"
            ),
            eventTrackerArn=TRACKER,
        )
        .ok("list_filters", {"Filters": []}, datasetGroupArn=GROUP)
        .ok(
            "create_filter",
            {"filterArn": FILTER_ARN},
            name="srs-exclude-launched",
            datasetGroupArn=GROUP,
            filterExpression=FILTER,
            tags=TAGS,
        )
        .ok("describe_filter", status("filter", "filterArn", FILTER_ARN, "ACTIVE"))
    )
