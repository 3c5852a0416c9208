"""Batch mode, the cheap path: one batch inference job, its results served with no campaign.

A campaign bills its minimum TPS every hour it exists; a batch inference job bills only the
recommendations it produces. The job reads JSON lines of user IDs from the bucket and writes
JSON lines of recommendations next to them; this module writes the input, runs and waits on the
job (resumable by name like set-up), parses the output strictly (a bad line is named), and
serves the result through the same RecommendationService interface.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.bucket import BATCH_OUTPUT_PREFIX
from srs.aws.errors import AwsError, aws_error
from srs.aws.naming import TAG_KEY
from srs.aws.polling import Pacing, Report, ResourceFailedError, is_failed, wait_until_active
from srs.aws.state import DeploymentState
from srs.data.store import DataStore
from srs.events.event import Event
from srs.serving.service import (
    HistoryPage,
    ItemInfo,
    ModelInfo,
    NotReadyError,
    Recommendations,
    RecommendedItem,
    check_num_results,
)

BATCH_INPUT_KEY = "batch-input/users.json"
BATCH_REASON = "from the latest Amazon Personalize batch job"
POPULAR_REASON = "popular in the latest batch (no batch result for this user)"

Scored = list[tuple[str, float | None]]


class BatchOutputError(AwsError):
    """A batch output line is not what Personalize writes; the message names file and line."""


def batch_input(user_ids: Iterable[str]) -> bytes:
    """JSON lines, one ``{"userId": …}`` per user, as a batch inference job reads them."""
    return "".join(json.dumps({"userId": user}) + "\n" for user in user_ids).encode("utf-8")


def parse_batch_output(text: str, source: str) -> dict[str, Scored]:
    """User → ranked (item, score) from a batch job's output; per-user errors are skipped."""
    results: dict[str, Scored] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            user = str(record["input"]["userId"])
            if record.get("error"):
                continue
            output = record["output"]
            items = [str(item) for item in output["recommendedItems"]]
            scores = output.get("scores") or [None] * len(items)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BatchOutputError(
                f"{source}: line {number}: not a batch recommendation record ({exc})"
            ) from exc
        if len(scores) != len(items):
            raise BatchOutputError(
                f"{source}: line {number}: {len(items)} items but {len(scores)} scores"
            )
        results[user] = [
            (item, None if score is None else float(score))
            for item, score in zip(items, scores, strict=True)
        ]
    return results


def load_batch_results(store: DataStore, key: str) -> dict[str, Scored]:
    """The parsed output of a finished job, read from the bucket."""
    return parse_batch_output(store.get_bytes(key).decode("utf-8"), store.uri(key))


@dataclass(frozen=True, slots=True)
class BatchOptions:
    job_name: str
    solution_version_arn: str
    role_arn: str
    bucket: str
    data_prefix: str = ""
    num_results: int = 25
    filter_arn: str | None = None
    timeout: float = 6 * 3600
    deployment: str = ""
    """The ``srs:deployment`` tag's value (name-region); no tag when empty."""


def output_prefix(options: BatchOptions) -> str:
    return f"{BATCH_OUTPUT_PREFIX}{options.job_name}/"


def run_batch_job(
    personalize: Any,
    store: DataStore,
    user_ids: Sequence[str],
    options: BatchOptions,
    state: DeploymentState,
    pacing: Pacing,
    report: Report,
) -> str:
    """Write the input, start (or find) the job by name, wait; returns the output's store key."""
    if not user_ids:
        raise AwsError("a batch job needs at least one user ID")
    store.put_bytes(BATCH_INPUT_KEY, batch_input(user_ids))
    prefix = f"s3://{options.bucket}/{options.data_prefix}"
    arn = _find_job(personalize, options.job_name, options.solution_version_arn)
    if arn is None:
        params: dict[str, Any] = {
            "jobName": options.job_name,
            "solutionVersionArn": options.solution_version_arn,
            "numResults": check_num_results(options.num_results),
            "jobInput": {"s3DataSource": {"path": prefix + BATCH_INPUT_KEY}},
            "jobOutput": {"s3DataDestination": {"path": prefix + output_prefix(options)}},
            "roleArn": options.role_arn,
        }
        if options.filter_arn:
            params["filterArn"] = options.filter_arn
        if options.deployment:
            params["tags"] = [{"tagKey": TAG_KEY, "tagValue": options.deployment}]
        try:
            arn = str(personalize.create_batch_inference_job(**params)["batchInferenceJobArn"])
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, f"starting batch job {options.job_name!r}") from exc
        report(f"batch job {options.job_name}: started {arn}")
    state.record(f"batch_job_arn:{options.job_name}", arn)
    job_arn = arn
    try:
        wait_until_active(
            lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job_arn)[
                "batchInferenceJob"
            ],
            f"batch job {options.job_name}",
            options.timeout,
            pacing,
            report,
        )
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, f"waiting on batch job {options.job_name!r}") from exc
    return output_prefix(options) + BATCH_INPUT_KEY.rsplit("/", 1)[-1] + ".out"


def _find_job(personalize: Any, name: str, version_arn: str) -> str | None:
    """The job of this name; names are unique, so a FAILED one must be re-run under another."""
    try:
        pages = personalize.get_paginator("list_batch_inference_jobs").paginate(
            solutionVersionArn=version_arn
        )
        jobs = [job for page in pages for job in page.get("batchInferenceJobs", [])]
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, "listing batch jobs") from exc
    for job in jobs:
        if job.get("jobName") != name:
            continue
        if is_failed(job.get("status", "")):
            raise ResourceFailedError(
                f"batch job {name}: {job.get('status')}: "
                f"{job.get('failureReason') or 'no failureReason given'}; "
                "run again with another job name"
            )
        return str(job["batchInferenceJobArn"])
    return None


class BatchRecommendationService:
    """Serves a batch job's results; users without a result get the batch's most common items."""

    def __init__(
        self,
        results: Mapping[str, Scored],
        items: Sequence[ItemInfo],
        history: Callable[[str, int, int], HistoryPage],
        record_events: Callable[[str, str, Sequence[Event]], None],
        model: ModelInfo | None = None,
    ) -> None:
        self._results = dict(results)
        self._items = list(items)
        self._by_id = {item.item_id: item for item in self._items}
        self._history = history
        self._record_events = record_events
        self._model = model or ModelInfo(
            version="batch", recipe="personalize-batch", trained_at="", training_seconds=0.0
        )
        counts: dict[str, int] = {}
        for scored in self._results.values():
            for item_id, _ in scored:
                counts[item_id] = counts.get(item_id, 0) + 1
        self._popular = sorted(counts, key=lambda item_id: (-counts[item_id], item_id))

    def _entry(self, item_id: str, score: float | None, reason: str) -> RecommendedItem:
        info = self._by_id.get(item_id, ItemInfo(item_id, item_id, "", ""))
        return RecommendedItem(
            item_id, info.service_name, info.category, info.description, score, reason
        )

    def recommend(
        self,
        user_id: str,
        num_results: int = 25,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations:
        """The batch's list (its filter was applied when the job ran; others cannot be)."""
        count = check_num_results(num_results)
        if filter:
            raise NotReadyError("batch results cannot be filtered after the job; run a new job")
        scored = self._results.get(user_id)
        if scored is None:
            entries = [self._entry(item, None, POPULAR_REASON) for item in self._popular]
        else:
            entries = [self._entry(item, score, BATCH_REASON) for item, score in scored]
        return Recommendations(recommendation_id=f"batch-{user_id}", item_list=entries[:count])

    def rank(self, user_id: str, item_ids: Sequence[str]) -> Recommendations:
        """Items in the user's batch order; items the batch did not list come last, unscored."""
        scored = dict(self._results.get(user_id, []))
        order = {item: position for position, item in enumerate(scored)}
        ranked = sorted(item_ids, key=lambda item: order.get(item, len(order)))
        return Recommendations(
            recommendation_id=f"batch-rank-{user_id}",
            item_list=[self._entry(item, scored.get(item), BATCH_REASON) for item in ranked],
        )

    def similar(self, item_id: str, num_results: int = 25) -> Recommendations:
        raise NotReadyError("similar items are not part of a user batch job")

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None:
        self._record_events(user_id, session_id, events)

    def history(self, user_id: str, limit: int = 50, offset: int = 0) -> HistoryPage:
        return self._history(user_id, limit, offset)

    def items(self) -> list[ItemInfo]:
        return list(self._items)

    def model_info(self) -> ModelInfo:
        return self._model

    def search_users(self, prefix: str, limit: int = 10) -> list[str]:
        return sorted(user for user in self._results if user.startswith(prefix))[:limit]

    def is_ready(self) -> bool:
        return bool(self._results)
