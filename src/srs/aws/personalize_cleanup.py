"""Removing the Personalize side of a deployment, in dependency order, to the end.

Personalize refuses to delete a resource something still uses ("resource in use"), and deletes
asynchronously, so the order is: training in progress is stopped first, then campaigns, event
trackers, filters, solutions, datasets, the dataset group, the schemas; each delete is retried
while in use and waited on until the resource is gone. A resource that cannot be deleted is
reported and clean-up goes on with everything that does not depend on it; what depends on it is
reported as still there, with the reason. What is already gone is reported and skipped, so a
second run finishes what the first could not. Resources are found from the dataset group (by
the state file's ARN or by name), so clean-up also removes what a crashed set-up created before
recording it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.cleanup_outcome import DELETED, GONE, STILL_THERE, STOPPED, WOULD_DELETE, Outcome
from srs.aws.errors import AwsError, aws_error, client_error_text, error_code
from srs.aws.personalize_setup import IN_PROGRESS, PersonalizeRun
from srs.aws.polling import (
    is_settled,
    retry_in_use,
    wait_until_gone,
    wait_until_settled,
)
from srs.aws.state import DeploymentState


@dataclass(frozen=True, slots=True)
class Kind:
    """How to delete one kind of resource and how to see that it is gone."""

    noun: str
    delete: str
    describe: str
    arn_param: str
    waits: bool = True


CAMPAIGN = Kind("campaign", "delete_campaign", "describe_campaign", "campaignArn")
EVENT_TRACKER = Kind(
    "event tracker", "delete_event_tracker", "describe_event_tracker", "eventTrackerArn"
)
FILTER = Kind("filter", "delete_filter", "describe_filter", "filterArn")
SOLUTION = Kind("solution", "delete_solution", "describe_solution", "solutionArn")
DATASET = Kind("dataset", "delete_dataset", "describe_dataset", "datasetArn")
DATASET_GROUP = Kind(
    "dataset group", "delete_dataset_group", "describe_dataset_group", "datasetGroupArn"
)
SCHEMA = Kind("schema", "delete_schema", "describe_schema", "schemaArn", waits=False)


@dataclass(frozen=True, slots=True)
class Doomed:
    """One resource to delete, and the resources that must be gone before it can be."""

    what: str
    arn: str
    kind: Kind
    state_key: str | None = None
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Training:
    """A solution version still training: stopped before its solution is deleted."""

    what: str
    arn: str
    solution_arn: str


@dataclass(frozen=True, slots=True)
class Plan:
    training: list[Training]
    doomed: list[Doomed]


def _arn_state_keys(state: DeploymentState) -> dict[str, str]:
    return {arn: key for key, arn in state.items()}


class PersonalizeCleanup(PersonalizeRun):
    def _listed(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every entry, all pages read now: the plan lists in dependency order and reads twice."""
        return list(self._list(operation, key, **params))

    def _exists(self, operation: str, **params: Any) -> bool:
        try:
            getattr(self.client, operation)(**params)
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

    def plan(self) -> Plan:
        """Training to stop, then everything to delete, dependency order first to last."""
        keys = _arn_state_keys(self.state)
        doomed: list[Doomed] = []
        training: list[Training] = []

        def add(kind: Kind, entry: dict[str, Any], arn_field: str, after: list[str]) -> str:
            arn = str(entry[arn_field])
            what = f"{kind.noun} {entry.get('name', arn)}"
            doomed.append(Doomed(what, arn, kind, keys.get(arn), tuple(after)))
            return arn

        group = self._group_arn()
        if group is not None and not self._exists("describe_dataset_group", datasetGroupArn=group):
            self.report(f"dataset group {group}: already gone")
            group = None
        if group is not None:
            solutions = self._listed("list_solutions", "solutions", datasetGroupArn=group)
            campaigns = {
                solution["solutionArn"]: self._listed(
                    "list_campaigns", "campaigns", solutionArn=solution["solutionArn"]
                )
                for solution in solutions
            }
            for solution in solutions:
                training += [
                    Training(
                        f"training {version['solutionVersionArn'].rsplit('/', 1)[-1]}",
                        str(version["solutionVersionArn"]),
                        str(solution["solutionArn"]),
                    )
                    for version in self._listed(
                        "list_solution_versions",
                        "solutionVersions",
                        solutionArn=solution["solutionArn"],
                    )
                    if version.get("status") in IN_PROGRESS
                ]
            trackers = self._listed("list_event_trackers", "eventTrackers", datasetGroupArn=group)
            filters = self._listed("list_filters", "Filters", datasetGroupArn=group)
            datasets = self._listed("list_datasets", "datasets", datasetGroupArn=group)
            children: list[str] = []
            for entries in campaigns.values():
                for entry in entries:
                    children.append(add(CAMPAIGN, entry, "campaignArn", []))
            for entry in trackers:
                children.append(add(EVENT_TRACKER, entry, "eventTrackerArn", []))
            for entry in filters:
                children.append(add(FILTER, entry, "filterArn", []))
            for entry in solutions:
                solution_arn = str(entry["solutionArn"])
                before = [c["campaignArn"] for c in campaigns.get(solution_arn, [])]
                before += [t.arn for t in training if t.solution_arn == solution_arn]
                children.append(add(SOLUTION, entry, "solutionArn", before))
            dataset_arns = [add(DATASET, entry, "datasetArn", []) for entry in datasets]
            children += dataset_arns
            add(
                DATASET_GROUP,
                {"name": self.names["dataset_group"], "datasetGroupArn": group},
                "datasetGroupArn",
                children,
            )
        else:
            dataset_arns = []
        schema_names = {self.names["schema:interactions"], self.names["schema:items"]}
        for schema in self._listed("list_schemas", "schemas"):
            if schema["name"] in schema_names:
                add(SCHEMA, schema, "schemaArn", dataset_arns)
        return Plan(training, doomed)

    def _stop(self, item: Training) -> Outcome:
        """StopSolutionVersionCreation, then wait for CREATE STOPPED (training bills by hour)."""
        try:
            self.client.stop_solution_version_creation(solutionVersionArn=item.arn)
            self.report(f"{item.what}: stopping")
            status = wait_until_settled(
                lambda: self.client.describe_solution_version(solutionVersionArn=item.arn)[
                    "solutionVersion"
                ],
                item.what,
                self.timeouts.delete,
                self.pacing,
                self.report,
            )
        except ClientError as exc:
            ended = self._ended(item.arn)
            if ended:
                return Outcome(item.what, STOPPED, f"had ended by itself: {ended}")
            return Outcome(item.what, STILL_THERE, f"stopping failed: {client_error_text(exc)}")
        except (BotoCoreError, AwsError) as exc:
            return Outcome(item.what, STILL_THERE, f"stopping failed: {exc}")
        return Outcome(item.what, STOPPED, status)

    def _ended(self, version_arn: str) -> str | None:
        """The status of a training that ended between listing and stopping, else None."""
        try:
            version = self.client.describe_solution_version(solutionVersionArn=version_arn)
        except (ClientError, BotoCoreError):
            return None
        status = str(version["solutionVersion"].get("status", ""))
        return status if is_settled(status) else None

    def _delete(self, item: Doomed) -> Outcome:
        kind = item.kind
        method = getattr(self.client, kind.delete)
        describe = getattr(self.client, kind.describe)
        try:
            retry_in_use(
                lambda: method(**{kind.arn_param: item.arn}),
                f"deleting {item.what}",
                self.timeouts.delete,
                self.pacing,
                self.report,
            )
            if kind.waits:
                wait_until_gone(
                    lambda: describe(**{kind.arn_param: item.arn}),
                    item.what,
                    self.timeouts.delete,
                    self.pacing,
                    self.report,
                )
            else:
                self.report(f"{item.what}: deleted")
            outcome = Outcome(item.what, DELETED)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                self.report(f"{item.what}: not deleted: {client_error_text(exc)}")
                return Outcome(item.what, STILL_THERE, client_error_text(exc))
            self.report(f"{item.what}: already gone")
            outcome = Outcome(item.what, GONE, "already gone")
        except (BotoCoreError, AwsError) as exc:
            self.report(f"{item.what}: not deleted: {exc}")
            return Outcome(item.what, STILL_THERE, str(exc))
        if item.state_key:
            self.state.forget(item.state_key)
        return outcome

    def run(self, dry_run: bool) -> list[Outcome]:
        """One row per resource; a resource whose dependency is still there is not tried."""
        try:
            plan = self.plan()
        except AwsError as exc:
            return [Outcome(f"Personalize resources of {self.name}", STILL_THERE, str(exc))]
        if not plan.doomed:
            self.report("Personalize: nothing to delete")
        if dry_run:
            for item in plan.doomed:
                self.report(f"would delete {item.what} ({item.arn})")
            return [Outcome(t.what, WOULD_DELETE, "stop training") for t in plan.training] + [
                Outcome(item.what, WOULD_DELETE, item.arn) for item in plan.doomed
            ]
        outcomes = [self._stop(item) for item in plan.training]
        left = {
            item.arn: item.what
            for item, outcome in zip(plan.training, outcomes, strict=True)
            if outcome.state == STILL_THERE
        }
        for item in plan.doomed:
            blockers = [left[arn] for arn in item.after if arn in left]
            if blockers:
                why = f"not tried: {blockers[0]} is still there"
                outcome = Outcome(item.what, STILL_THERE, why)
            else:
                outcome = self._delete(item)
            if outcome.state == STILL_THERE:
                left[item.arn] = item.what
            outcomes.append(outcome)
        if not left:
            for key in ("tracking_id", "solution_version_arn"):
                self.state.forget(key)
            for key, _ in self.state.items():
                if key.startswith("import_job_arn:"):
                    self.state.forget(key)
        return outcomes
