"""Removing the Personalize side of a deployment, in dependency order, safely re-runnable.

Personalize refuses to delete a resource something still uses ("resource in use"), and deletes
asynchronously, so the order is: campaigns, event trackers, filters, solutions, datasets, the
dataset group, the schemas; each delete is retried while in use and waited on until the
resource is gone. What is already gone is reported and skipped, so a second run is a no-op.
Resources are found from the dataset group (by the state file's ARN or by name), so clean-up
also removes what a crashed set-up created before recording it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.errors import aws_error, error_code
from srs.aws.personalize_setup import Timeouts, resource_names
from srs.aws.polling import Pacing, Report, retry_in_use, retry_throttled, wait_until_gone
from srs.aws.state import DeploymentState


@dataclass(frozen=True, slots=True)
class Doomed:
    """One resource to delete: how to delete it and how to see that it is gone."""

    what: str
    arn: str
    delete: str
    describe: str
    arn_param: str
    state_key: str | None = None


def _arn_state_keys(state: DeploymentState) -> dict[str, str]:
    return {arn: key for key, arn in state.items()}


class PersonalizeCleanup:
    def __init__(
        self,
        client: Any,
        state: DeploymentState,
        name: str,
        pacing: Pacing,
        report: Report,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.names = resource_names(name)
        self.pacing = pacing
        self.report = report
        self.timeouts = timeouts or Timeouts()

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        method: Callable[..., dict[str, Any]] = getattr(self.client, operation)
        try:
            return retry_throttled(lambda: method(**params), operation, self.pacing)
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, f"Personalize {operation}") from exc

    def _list(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._call(operation, **params, **({"nextToken": token} if token else {}))
            entries.extend(page.get(key, []))
            token = page.get("nextToken")
            if not token:
                return entries

    def _exists(self, operation: str, **params: Any) -> bool:
        method: Callable[..., Any] = getattr(self.client, operation)
        try:
            retry_throttled(lambda: method(**params), operation, self.pacing)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise aws_error(exc, f"Personalize {operation}") from exc
        except BotoCoreError as exc:
            raise aws_error(exc, f"Personalize {operation}") from exc
        return True

    def _group_arn(self) -> str | None:
        recorded = self.state.get("dataset_group_arn")
        if recorded:
            return recorded
        name = self.names["dataset_group"]
        found = [g for g in self._list("list_dataset_groups", "datasetGroups") if g["name"] == name]
        return str(found[0]["datasetGroupArn"]) if found else None

    def plan(self) -> list[Doomed]:
        """Everything to delete, dependency order first to last."""
        keys = _arn_state_keys(self.state)
        doomed: list[Doomed] = []
        group = self._group_arn()
        if group is not None and not self._exists("describe_dataset_group", datasetGroupArn=group):
            self.report(f"dataset group {group}: already gone")
            group = None
        if group is not None:
            solutions = self._list("list_solutions", "solutions", datasetGroupArn=group)
            campaigns = [
                campaign
                for solution in solutions
                for campaign in self._list(
                    "list_campaigns", "campaigns", solutionArn=solution["solutionArn"]
                )
            ]
            trackers = self._list("list_event_trackers", "eventTrackers", datasetGroupArn=group)
            filters = self._list("list_filters", "Filters", datasetGroupArn=group)
            datasets = self._list("list_datasets", "datasets", datasetGroupArn=group)

            def add(kind: str, entry: dict[str, Any], arn_field: str, noun: str) -> None:
                arn = str(entry[arn_field])
                doomed.append(
                    Doomed(
                        what=f"{noun} {entry.get('name', arn)}",
                        arn=arn,
                        delete=f"delete_{kind}",
                        describe=f"describe_{kind}",
                        arn_param=arn_field,
                        state_key=keys.get(arn),
                    )
                )

            for entry in campaigns:
                add("campaign", entry, "campaignArn", "campaign")
            for entry in trackers:
                add("event_tracker", entry, "eventTrackerArn", "event tracker")
            for entry in filters:
                add("filter", entry, "filterArn", "filter")
            for entry in solutions:
                add("solution", entry, "solutionArn", "solution")
            for entry in datasets:
                add("dataset", entry, "datasetArn", "dataset")
            doomed.append(
                Doomed(
                    what=f"dataset group {self.names['dataset_group']}",
                    arn=group,
                    delete="delete_dataset_group",
                    describe="describe_dataset_group",
                    arn_param="datasetGroupArn",
                    state_key=keys.get(group),
                )
            )
        schema_names = {self.names["schema:interactions"], self.names["schema:items"]}
        for schema in self._list("list_schemas", "schemas"):
            if schema["name"] in schema_names:
                doomed.append(
                    Doomed(
                        what=f"schema {schema['name']}",
                        arn=str(schema["schemaArn"]),
                        delete="delete_schema",
                        describe="describe_schema",
                        arn_param="schemaArn",
                        state_key=keys.get(str(schema["schemaArn"])),
                    )
                )
        return doomed

    def _delete(self, item: Doomed) -> None:
        method = getattr(self.client, item.delete)
        describe = getattr(self.client, item.describe)
        try:
            retry_in_use(
                lambda: method(**{item.arn_param: item.arn}),
                f"deleting {item.what}",
                self.timeouts.delete,
                self.pacing,
                self.report,
            )
            if item.delete != "delete_schema":
                wait_until_gone(
                    lambda: describe(**{item.arn_param: item.arn}),
                    item.what,
                    self.timeouts.delete,
                    self.pacing,
                    self.report,
                )
            else:
                self.report(f"{item.what}: deleted")
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise aws_error(exc, f"deleting {item.what}") from exc
            self.report(f"{item.what}: already gone")
        if item.state_key:
            self.state.forget(item.state_key)

    def run(self, dry_run: bool) -> list[Doomed]:
        doomed = self.plan()
        if not doomed:
            self.report("Personalize: nothing to delete")
        for item in doomed:
            if dry_run:
                self.report(f"would delete {item.what} ({item.arn})")
            else:
                self._delete(item)
        if not dry_run:
            for key in ("tracking_id", "solution_version_arn"):
                self.state.forget(key)
            for key, _ in self.state.items():
                if key.startswith("import_job_arn:"):
                    self.state.forget(key)
        return doomed
