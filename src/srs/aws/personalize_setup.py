"""Building the Personalize side of a deployment, resumably: every resource is found by name first.

The sequence is the seed's: schemas, dataset group, datasets, import jobs, solution, solution
version (training), metrics, campaign, event tracker, filters. Each step first looks for a
resource of its name and reuses it, waits on it if it is still being created, and creates it
only when it is missing, recording its ARN in the state file before waiting. So a run that
crashed or timed out half-way is resumed by running it again, and nothing is created twice.

A schema of the same name with other fields is deleted and recreated when no dataset uses it
(the seed's behaviour); when one does, set-up stops and says so rather than guess.

Every resource that takes tags is created with ``srs:deployment`` (schemas take none). Automatic
training is off unless asked for: it bills a training run every week. When it is on, the
campaign follows the solution's latest version (``syncWithLatestSolutionVersion``); otherwise
the retrained versions would be billed and never served.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.errors import AwsError, aws_error, error_code
from srs.aws.naming import Deployment
from srs.aws.polling import Pacing, Report, is_failed, wait_until_active
from srs.aws.state import DeploymentState
from srs.data.schemas import INTERACTIONS_SCHEMA, ITEMS_SCHEMA

DEFAULT_RECIPE_ARN = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
IN_PROGRESS = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds each kind of wait may take before set-up stops (and can be resumed)."""

    resource: float = 15 * 60
    import_job: float = 2 * 3600
    training: float = 8 * 3600
    campaign: float = 2 * 3600
    delete: float = 60 * 60


@dataclass(frozen=True, slots=True)
class PersonalizeOptions:
    """What to build; ``name`` prefixes every resource name, so two deployments can coexist."""

    name: str = "srs"
    recipe_arn: str = DEFAULT_RECIPE_ARN
    min_provisioned_tps: int = 1
    perform_auto_training: bool = False
    """Personalize retrains weekly (billed) and the campaign serves each new version."""
    campaign: bool = True
    filters: Mapping[str, str] = field(default_factory=dict)
    refresh: bool = False
    """Import the data again and retrain even though finished ones exist (new data)."""


@dataclass(frozen=True, slots=True)
class DataSources:
    """Where the prepared CSVs are on S3, and the role Personalize reads them with."""

    interactions_uri: str
    role_arn: str
    items_uri: str | None = None


@dataclass(frozen=True, slots=True)
class SetupResult:
    arns: dict[str, str]
    metrics: dict[str, float]
    tracking_id: str | None


def resource_names(name: str) -> dict[str, str]:
    """Every resource's name, derived from the deployment name (so re-runs find them)."""
    return {
        "dataset_group": f"{name}-dataset-group",
        "schema:interactions": f"{name}-interactions-schema",
        "schema:items": f"{name}-items-schema",
        "dataset:interactions": f"{name}-interactions",
        "dataset:items": f"{name}-items",
        "solution": f"{name}-solution",
        "campaign": f"{name}-campaign",
        "event_tracker": f"{name}-event-tracker",
    }


def filter_name(name: str, key: str) -> str:
    return f"{name}-{key}"


def same_schema(existing: str, wanted: Mapping[str, Any]) -> bool:
    """Schemas compare as JSON values: whitespace and key order do not make them differ."""
    try:
        return bool(json.loads(existing) == wanted)
    except json.JSONDecodeError:
        return False


def latest_version_arn(solution_arn: str) -> str:
    """The solution-version ARN a campaign that syncs with the latest version is given."""
    return f"{solution_arn}/$LATEST"


def campaign_changes(
    campaign: Mapping[str, Any], version_arn: str, min_provisioned_tps: int, sync: bool = False
) -> list[str]:
    """What an existing campaign must change to match the set-up, as words for the report.

    A re-run with only a new ``--min-tps`` must still update the campaign: it bills that
    floor every hour, so leaving the old one in place would silently keep the old cost. A
    campaign that syncs with the latest version follows the solution by itself.
    """
    changes = []
    synced = bool((campaign.get("campaignConfig") or {}).get("syncWithLatestSolutionVersion"))
    if synced != sync:
        changes.append(f"syncWithLatestSolutionVersion {synced} -> {sync}")
    if not sync and campaign.get("solutionVersionArn") != version_arn:
        changes.append(f"to {version_arn}")
    if campaign.get("minProvisionedTPS") != min_provisioned_tps:
        changes.append(
            f"minProvisionedTPS {campaign.get('minProvisionedTPS')} -> {min_provisioned_tps}"
        )
    return changes


def metrics_side_by_side(
    personalize: Mapping[str, float], local: Mapping[str, float]
) -> list[tuple[str, float | None, float | None]]:
    """Rows (metric, Personalize, local engine) over the union of names, sorted."""
    names = sorted(set(personalize) | set(local))
    return [(name, personalize.get(name), local.get(name)) for name in names]


@dataclass(frozen=True, slots=True)
class NamedResource:
    """How Personalize spells the operations and fields of one kind of named resource."""

    noun: str
    key: str
    """The describe answer's key; the ARN field is this plus ``Arn``."""
    list_operation: str
    list_key: str
    create_operation: str
    describe_operation: str

    @property
    def arn_field(self) -> str:
        return f"{self.key}Arn"


DATASET_GROUP = NamedResource(
    "dataset group",
    "datasetGroup",
    "list_dataset_groups",
    "datasetGroups",
    "create_dataset_group",
    "describe_dataset_group",
)
SOLUTION = NamedResource(
    "solution", "solution", "list_solutions", "solutions", "create_solution", "describe_solution"
)
CAMPAIGN = NamedResource(
    "campaign", "campaign", "list_campaigns", "campaigns", "create_campaign", "describe_campaign"
)
EVENT_TRACKER = NamedResource(
    "event tracker",
    "eventTracker",
    "list_event_trackers",
    "eventTrackers",
    "create_event_tracker",
    "describe_event_tracker",
)
FILTER = NamedResource(
    "filter", "filter", "list_filters", "Filters", "create_filter", "describe_filter"
)


class PersonalizeRun:
    """What set-up and clean-up both hold: the client, the state file, the deployment's resource
    names, how to wait and how to report.

    Every call goes through :meth:`_call` or :meth:`_list`, so a botocore failure reaches the
    user as one :class:`AwsError` that names the Personalize operation.
    """

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
        self.name = name
        self.names = resource_names(name)
        self.pacing = pacing
        self.report = report
        self.timeouts = timeouts or Timeouts()

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, f"Personalize {operation}") from exc
        return result

    def _list(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every entry over all pages, through botocore's paginator, a page when it is needed."""
        try:
            for page in self.client.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, f"Personalize {operation}") from exc


class PersonalizeSetup(PersonalizeRun):
    """Runs the set-up sequence against one client; see the module docstring."""

    def __init__(
        self,
        client: Any,
        state: DeploymentState,
        options: PersonalizeOptions,
        pacing: Pacing,
        report: Report,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(client, state, options.name, pacing, report, timeouts)
        self.options = options
        self.tags = Deployment(options.name, client.meta.region_name).personalize_tags()

    # -- plumbing -------------------------------------------------------------------------

    def _find(self, operation: str, key: str, name: str, **params: Any) -> dict[str, Any] | None:
        return next(
            (entry for entry in self._list(operation, key, **params) if entry["name"] == name),
            None,
        )

    def _wait(
        self, describe: str, arn_param: str, arn: str, key: str, what: str, timeout: float
    ) -> Mapping[str, Any]:
        def poll() -> Mapping[str, Any]:
            resource: Mapping[str, Any] = self._call(describe, **{arn_param: arn})[key]
            return resource

        return wait_until_active(poll, what, timeout, self.pacing, self.report)

    def _ensure(
        self,
        state_key: str,
        what: str,
        found: Mapping[str, Any] | None,
        arn_field: str,
        create: Callable[[], str],
        describe: str,
        describe_key: str,
        timeout: float | None = None,
        refind: Callable[[], Mapping[str, Any] | None] | None = None,
    ) -> str:
        """Reuse ``found`` or create; record the ARN; wait until ACTIVE.

        A create that answers ResourceAlreadyExists lost a race with another run (or a list
        that did not show the resource yet): ``refind`` looks again and the resource is reused.
        """
        if found is None:
            try:
                arn = create()
                self.report(f"{what}: created {arn}")
            except AwsError as exc:
                if exc.code != "ResourceAlreadyExistsException" or refind is None:
                    raise
                found = refind()
                if found is None:
                    raise
                self.report(f"{what}: created meanwhile by another run")
        if found is not None:
            arn = str(found[arn_field])
            self.report(f"{what}: exists ({found.get('status', 'ACTIVE')}), reusing {arn}")
        self.state.record(state_key, arn)
        if found is None or found.get("status", "ACTIVE") != "ACTIVE":
            self._wait(
                describe, arn_field, arn, describe_key, what, timeout or self.timeouts.resource
            )
        return arn

    def _ensure_named(
        self,
        resource: NamedResource,
        name: str,
        state_key: str,
        listed_under: Mapping[str, str],
        timeout: float | None = None,
        **fields: Any,
    ) -> tuple[str, bool]:
        """:meth:`_ensure` for a resource found by ``name`` among those ``listed_under`` its
        parent and created with ``fields``; the flag says whether it existed already."""

        def find() -> dict[str, Any] | None:
            return self._find(resource.list_operation, resource.list_key, name, **listed_under)

        def create() -> str:
            created = self._call(resource.create_operation, name=name, **fields, tags=self.tags)
            return str(created[resource.arn_field])

        found = find()
        arn = self._ensure(
            state_key,
            f"{resource.noun} {name}",
            found,
            resource.arn_field,
            create,
            resource.describe_operation,
            resource.key,
            timeout,
            refind=find,
        )
        return arn, found is not None

    # -- steps ----------------------------------------------------------------------------

    def schema(self, kind: str, schema: Mapping[str, Any]) -> str:
        name = self.names[f"schema:{kind}"]
        what = f"schema {name}"
        found = self._find("list_schemas", "schemas", name)
        if found is not None:
            existing = self._call("describe_schema", schemaArn=found["schemaArn"])["schema"]
            if same_schema(existing.get("schema", ""), schema):
                arn = str(found["schemaArn"])
                self.report(f"{what}: exists with the same fields, reusing")
                self.state.record(f"schema_arn:{kind}", arn)
                return arn
            self._delete_unused_schema(str(found["schemaArn"]), what)
        arn = str(self._call("create_schema", name=name, schema=json.dumps(schema))["schemaArn"])
        self.report(f"{what}: created {arn}")
        self.state.record(f"schema_arn:{kind}", arn)
        return arn

    def _delete_unused_schema(self, arn: str, what: str) -> None:
        try:
            self.client.delete_schema(schemaArn=arn)
        except ClientError as exc:
            if error_code(exc) == "ResourceInUseException":
                raise AwsError(
                    f"{what} exists with other fields and a dataset uses it; run 'srs aws "
                    "cleanup' or choose another --name"
                ) from exc
            raise aws_error(exc, f"deleting the outdated {what}") from exc
        self.report(f"{what}: had other fields and no dataset used it; deleted to recreate")

    def dataset_group(self) -> str:
        name = self.names["dataset_group"]
        return self._ensure_named(DATASET_GROUP, name, "dataset_group_arn", {})[0]

    def dataset(self, kind: str, group_arn: str, schema_arn: str) -> str:
        name = self.names[f"dataset:{kind}"]
        dataset_type = kind.capitalize()
        found = next(
            (
                entry
                for entry in self._list("list_datasets", "datasets", datasetGroupArn=group_arn)
                if entry.get("datasetType", "").lower() == kind
            ),
            None,
        )
        return self._ensure(
            f"dataset_arn:{kind}",
            f"{kind} dataset {name}",
            found,
            "datasetArn",
            lambda: str(
                self._call(
                    "create_dataset",
                    name=name,
                    schemaArn=schema_arn,
                    datasetGroupArn=group_arn,
                    datasetType=dataset_type,
                    tags=self.tags,
                )["datasetArn"]
            ),
            "describe_dataset",
            "dataset",
        )

    def _reusable(self, status: str) -> bool:
        """A finished import or training is reused unless refreshing; a running one always is."""
        if is_failed(status):
            return False
        return status in IN_PROGRESS or not self.options.refresh

    def import_job(self, kind: str, dataset_arn: str, uri: str, role_arn: str) -> str:
        """Reuse an ACTIVE import, wait on a running one, else start one (after a FAILED too)."""
        jobs = list(
            self._list("list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset_arn)
        )
        usable = [job for job in jobs if self._reusable(job.get("status", ""))]
        usable.sort(key=lambda job: str(job.get("creationDateTime", "")), reverse=True)
        job_name = f"{self.names[f'dataset:{kind}']}-import-{len(jobs) + 1}"
        return self._ensure(
            f"import_job_arn:{kind}",
            f"{kind} import",
            usable[0] if usable else None,
            "datasetImportJobArn",
            lambda: str(
                self._call(
                    "create_dataset_import_job",
                    jobName=job_name,
                    datasetArn=dataset_arn,
                    dataSource={"dataLocation": uri},
                    roleArn=role_arn,
                    tags=self.tags,
                )["datasetImportJobArn"]
            ),
            "describe_dataset_import_job",
            "datasetImportJob",
            self.timeouts.import_job,
        )

    def solution(self, group_arn: str) -> str:
        """The solution, with automatic training switched to what the options say."""
        name = self.names["solution"]
        arn, existed = self._ensure_named(
            SOLUTION,
            name,
            "solution_arn",
            {"datasetGroupArn": group_arn},
            datasetGroupArn=group_arn,
            recipeArn=self.options.recipe_arn,
            performAutoTraining=self.options.perform_auto_training,
        )
        if existed:
            self._converge_auto_training(arn, name)
        return arn

    def _converge_auto_training(self, arn: str, name: str) -> None:
        """A reused solution made with the other setting is updated (UpdateSolution)."""
        wanted = self.options.perform_auto_training
        current = bool(
            self._call("describe_solution", solutionArn=arn)["solution"].get("performAutoTraining")
        )
        if current == wanted:
            return
        self._call("update_solution", solutionArn=arn, performAutoTraining=wanted)
        self.report(f"solution {name}: updating automatic training {current} -> {wanted}")

        def poll() -> Mapping[str, Any]:
            solution = self._call("describe_solution", solutionArn=arn)["solution"]
            latest: Mapping[str, Any] = solution.get("latestSolutionUpdate") or solution
            return latest

        wait_until_active(
            poll, f"solution {name} update", self.timeouts.resource, self.pacing, self.report
        )

    def solution_version(self, solution_arn: str) -> str:
        versions = list(
            self._list("list_solution_versions", "solutionVersions", solutionArn=solution_arn)
        )
        usable = [v for v in versions if self._reusable(v.get("status", ""))]
        usable.sort(key=lambda v: str(v.get("creationDateTime", "")), reverse=True)
        return self._ensure(
            "solution_version_arn",
            "training (solution version)",
            usable[0] if usable else None,
            "solutionVersionArn",
            lambda: str(
                self._call("create_solution_version", solutionArn=solution_arn, tags=self.tags)[
                    "solutionVersionArn"
                ]
            ),
            "describe_solution_version",
            "solutionVersion",
            self.timeouts.training,
        )

    def metrics(self, version_arn: str) -> dict[str, float]:
        response = self._call("get_solution_metrics", solutionVersionArn=version_arn)
        return {name: float(value) for name, value in response.get("metrics", {}).items()}

    def campaign(self, solution_arn: str, version_arn: str) -> str:
        """The campaign, moved onto ``version_arn`` (or the latest) when it serves another."""
        name = self.names["campaign"]
        sync = self.options.perform_auto_training
        target = latest_version_arn(solution_arn) if sync else version_arn
        config = {"syncWithLatestSolutionVersion": sync}
        arn, existed = self._ensure_named(
            CAMPAIGN,
            name,
            "campaign_arn",
            {"solutionArn": solution_arn},
            self.timeouts.campaign,
            solutionVersionArn=target,
            minProvisionedTPS=self.options.min_provisioned_tps,
            campaignConfig=config,
        )
        if not existed:
            return arn
        campaign = self._call("describe_campaign", campaignArn=arn)["campaign"]
        changes = campaign_changes(campaign, version_arn, self.options.min_provisioned_tps, sync)
        if changes:
            self._call(
                "update_campaign",
                campaignArn=arn,
                solutionVersionArn=target,
                minProvisionedTPS=self.options.min_provisioned_tps,
                campaignConfig=config,
            )
            self.report(f"campaign {name}: updating {', '.join(changes)}")
            self._wait_update(arn, name)
        return arn

    def _wait_update(self, arn: str, name: str) -> None:
        """An update keeps the campaign ACTIVE; its latestCampaignUpdate carries the progress."""

        def poll() -> Mapping[str, Any]:
            campaign = self._call("describe_campaign", campaignArn=arn)["campaign"]
            latest: Mapping[str, Any] = campaign.get("latestCampaignUpdate") or campaign
            return latest

        wait_until_active(
            poll, f"campaign {name} update", self.timeouts.campaign, self.pacing, self.report
        )

    def event_tracker(self, group_arn: str) -> tuple[str, str]:
        name = self.names["event_tracker"]
        arn, _ = self._ensure_named(
            EVENT_TRACKER,
            name,
            "event_tracker_arn",
            {"datasetGroupArn": group_arn},
            datasetGroupArn=group_arn,
        )
        tracker = self._call("describe_event_tracker", eventTrackerArn=arn)["eventTracker"]
        tracking_id = str(tracker["trackingId"])
        self.state.record("tracking_id", tracking_id)
        return arn, tracking_id

    def filter(self, group_arn: str, key: str, expression: str) -> str:
        name = filter_name(self.options.name, key)
        return self._ensure_named(
            FILTER,
            name,
            f"filter_arn:{key}",
            {"datasetGroupArn": group_arn},
            datasetGroupArn=group_arn,
            filterExpression=expression,
        )[0]

    # -- the whole sequence ---------------------------------------------------------------

    def run(self, sources: DataSources) -> SetupResult:
        interactions_schema = self.schema("interactions", INTERACTIONS_SCHEMA)
        items_schema = self.schema("items", ITEMS_SCHEMA) if sources.items_uri else None
        group = self.dataset_group()
        interactions = self.dataset("interactions", group, interactions_schema)
        self.import_job("interactions", interactions, sources.interactions_uri, sources.role_arn)
        if sources.items_uri and items_schema:
            items = self.dataset("items", group, items_schema)
            self.import_job("items", items, sources.items_uri, sources.role_arn)
        solution = self.solution(group)
        version = self.solution_version(solution)
        metrics = self.metrics(version)
        if self.options.campaign:
            self.campaign(solution, version)
        _, tracking_id = self.event_tracker(group)
        for key, expression in sorted(self.options.filters.items()):
            self.filter(group, key, expression)
        return SetupResult(arns=dict(self.state.items()), metrics=metrics, tracking_id=tracking_id)
