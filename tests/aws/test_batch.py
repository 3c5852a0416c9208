"""Batch mode: input and output on S3 (moto), the job through Stubber, results served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stubbing import FakeTime, Script, arn, make_client

from srs.aws.batch import (
    BATCH_INPUT_KEY,
    POPULAR_REASON,
    BatchOptions,
    BatchOutputError,
    BatchRecommendationService,
    batch_input,
    load_batch_results,
    parse_batch_output,
    run_batch_job,
)
from srs.aws.polling import ResourceFailedError
from srs.aws.state import DeploymentState
from srs.data.store import S3Store
from srs.events.event import Event
from srs.serving.service import HistoryPage, ItemInfo, NotReadyError

VERSION = arn("solution", "srs-solution/1a2b3c4d")
ROLE = "arn:aws:iam::123456789012:role/srs-personalize-srs-us-east-1"
JOB = arn("batch-inference-job", "srs-batch-1")


def output_line(user: str, items: list[str], scores: list[float] | None = None) -> str:
    output: dict[str, Any] = {"recommendedItems": items}
    if scores is not None:
        output["scores"] = scores
    return json.dumps({"input": {"userId": user}, "output": output, "error": None})


def test_input_is_one_user_per_json_line() -> None:
    assert batch_input(["u1", "u2"]) == b'{"userId": "u1"}\n{"userId": "u2"}\n'


def test_output_parses_scores_and_skips_users_in_error() -> None:
    text = "\n".join(
        [
            output_line("u1", ["i2", "i1"], [0.6, 0.3]),
            json.dumps({"input": {"userId": "u9"}, "output": None, "error": "unknown user"}),
            "",
            output_line("u2", ["i1"]),
        ]
    )
    assert parse_batch_output(text, "out.json") == {
        "u1": [("i2", 0.6), ("i1", 0.3)],
        "u2": [("i1", None)],
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "out.json: line 2: not a batch recommendation record"),
        ('{"input": {}}', "out.json: line 2: not a batch recommendation record"),
        (output_line("u3", ["i1", "i2"], [0.5]), "out.json: line 2: 2 items but 1 scores"),
    ],
)
def test_bad_output_line_is_named(line: str, message: str) -> None:
    with pytest.raises(BatchOutputError, match=message):
        parse_batch_output(output_line("u1", ["i1"]) + "\n" + line, "out.json")


def batch_options(bucket: str) -> BatchOptions:
    return BatchOptions(
        job_name="srs-batch-1",
        solution_version_arn=VERSION,
        role_arn=ROLE,
        bucket=bucket,
        data_prefix="srs/",
        num_results=10,
        deployment="srs-us-east-1",
    )


def test_batch_job_writes_input_runs_and_names_its_output(
    s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    store = S3Store(bucket=s3_bucket, prefix="srs/", client=s3_client)
    personalize = make_client("personalize")
    script = (
        Script(personalize)
        .ok("list_batch_inference_jobs", {"batchInferenceJobs": []}, solutionVersionArn=VERSION)
        .ok(
            "create_batch_inference_job",
            {"batchInferenceJobArn": JOB},
            jobName="srs-batch-1",
            solutionVersionArn=VERSION,
            numResults=10,
            jobInput={"s3DataSource": {"path": f"s3://{s3_bucket}/srs/{BATCH_INPUT_KEY}"}},
            jobOutput={
                "s3DataDestination": {"path": f"s3://{s3_bucket}/srs/batch-output/srs-batch-1/"}
            },
            roleArn=ROLE,
            tags=[{"tagKey": "srs:deployment", "tagValue": "srs-us-east-1"}],
        )
        .ok(
            "describe_batch_inference_job",
            {"batchInferenceJob": {"batchInferenceJobArn": JOB, "status": "CREATE IN_PROGRESS"}},
        )
        .ok(
            "describe_batch_inference_job",
            {"batchInferenceJob": {"batchInferenceJobArn": JOB, "status": "ACTIVE"}},
            batchInferenceJobArn=JOB,
        )
    )
    state = DeploymentState.load(tmp_path / "state.json")
    time = FakeTime()
    with script:
        key = run_batch_job(
            personalize,
            store,
            ["u1", "u2"],
            batch_options(s3_bucket),
            state,
            time.pacing(),
            lambda line: None,
        )
    script.done()
    assert key == "batch-output/srs-batch-1/users.json.out"
    assert store.get_bytes(BATCH_INPUT_KEY) == b'{"userId": "u1"}\n{"userId": "u2"}\n'
    assert state.get("batch_job_arn:srs-batch-1") == JOB
    assert time.sleeps == [5.0]


def test_failed_batch_job_of_the_same_name_stops_with_its_reason(
    s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    store = S3Store(bucket=s3_bucket, prefix="srs/", client=s3_client)
    personalize = make_client("personalize")
    script = Script(personalize).ok(
        "list_batch_inference_jobs",
        {
            "batchInferenceJobs": [
                {
                    "jobName": "srs-batch-1",
                    "batchInferenceJobArn": JOB,
                    "status": "CREATE FAILED",
                    "failureReason": "Access denied to the output path",
                }
            ]
        },
    )
    with script, pytest.raises(ResourceFailedError, match="Access denied to the output path"):
        run_batch_job(
            personalize,
            store,
            ["u1"],
            batch_options(s3_bucket),
            DeploymentState.load(tmp_path / "state.json"),
            FakeTime().pacing(),
            lambda line: None,
        )
    script.done()


def make_service(recorded: list[tuple[str, str, list[Event]]]) -> BatchRecommendationService:
    results = {"u1": [("i2", 0.6), ("i1", 0.3)], "u2": [("i2", 0.9), ("i3", 0.1)]}
    items = [
        ItemInfo("i1", "Amazon S3", "Storage", ""),
        ItemInfo("i2", "AWS Lambda", "Compute", ""),
    ]
    return BatchRecommendationService(
        results,
        items,
        history=lambda user, limit, offset: HistoryPage([], 0),
        record_events=lambda user, session, events: recorded.append((user, session, list(events))),
    )


def test_batch_results_are_served_like_a_campaign() -> None:
    recorded: list[tuple[str, str, list[Event]]] = []
    service = make_service(recorded)
    answer = service.recommend("u1", 1)
    assert [(i.item_id, i.service_name, i.score) for i in answer.item_list] == [
        ("i2", "AWS Lambda", 0.6)
    ]
    unknown = service.recommend("stranger")
    # i2 is in both users' lists, so it leads; ties break by ID.
    assert [i.item_id for i in unknown.item_list] == ["i2", "i1", "i3"]
    assert {i.reason for i in unknown.item_list} == {POPULAR_REASON}
    ranked = service.rank("u1", ["i3", "i1", "i2"])
    assert [(i.item_id, i.score) for i in ranked.item_list] == [
        ("i2", 0.6),
        ("i1", 0.3),
        ("i3", None),
    ]
    with pytest.raises(NotReadyError, match="cannot be filtered"):
        service.recommend("u1", filter='EXCLUDE ItemID WHERE Items.CATEGORY IN ("x")')
    service.put_events("u1", "s1", [Event("viewed", "i1", 1, 3.0)])
    assert recorded == [("u1", "s1", [Event("viewed", "i1", 1, 3.0)])]
    assert service.search_users("u") == ["u1", "u2"] and service.is_ready()


def test_results_load_from_the_bucket(s3_client: Any, s3_bucket: str) -> None:
    store = S3Store(bucket=s3_bucket, prefix="srs/", client=s3_client)
    key = "batch-output/srs-batch-1/users.json.out"
    store.put_bytes(key, (output_line("u1", ["i1"], [1.0]) + "\n").encode())
    assert load_batch_results(store, key) == {"u1": [("i1", 1.0)]}
    store.put_bytes(key, b"{broken\n")
    with pytest.raises(BatchOutputError, match=f"s3://{s3_bucket}/srs/{key}: line 1"):
        load_batch_results(store, key)


def test_batch_jobs_are_listed_through_the_paginator(
    s3_client: Any, s3_bucket: str, tmp_path: Path
) -> None:
    """The job of the name is found on a later page (botocore follows nextToken)."""
    store = S3Store(bucket=s3_bucket, prefix="srs/", client=s3_client)
    personalize = make_client("personalize")
    other = {"jobName": "srs-batch-0", "batchInferenceJobArn": arn("batch-inference-job", "x")}
    mine = {"jobName": "srs-batch-1", "batchInferenceJobArn": JOB, "status": "ACTIVE"}
    script = (
        Script(personalize)
        .ok("list_batch_inference_jobs", {"batchInferenceJobs": [other], "nextToken": "p2"})
        .ok(
            "list_batch_inference_jobs",
            {"batchInferenceJobs": [mine]},
            solutionVersionArn=VERSION,
            nextToken="p2",
        )
        .ok(
            "describe_batch_inference_job",
            {"batchInferenceJob": {"batchInferenceJobArn": JOB, "status": "ACTIVE"}},
        )
    )
    state = DeploymentState.load(tmp_path / "state.json")
    with script:
        run_batch_job(
            personalize,
            store,
            ["u1"],
            batch_options(s3_bucket),
            state,
            FakeTime().pacing(),
            lambda line: None,
        )
    script.done()
    assert state.get("batch_job_arn:srs-batch-1") == JOB
