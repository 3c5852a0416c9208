"""``srs aws setup`` and ``srs aws cleanup``: storage first, then Personalize; reverse to remove.

This is the thin layer the CLI calls; each step lives in its own module. Set-up first checks
that Personalize exists in the region (botocore's endpoint data) and that the state file, if
any, is this deployment's, so a wrong region fails before anything is created. A dry run of
set-up reads what exists (account, bucket, role) and prints the Personalize plan by name,
creating nothing; a dry run of clean-up lists what would be deleted. Clean-up keeps the bucket
and the role while Personalize resources that read through them remain, unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srs.aws.bootstrap import StorageOptions, cleanup_storage, setup_storage
from srs.aws.cleanup_outcome import Outcome, anything_left
from srs.aws.clients import AwsClients, check_personalize_region
from srs.aws.errors import AwsError
from srs.aws.personalize_cleanup import PersonalizeCleanup
from srs.aws.personalize_setup import (
    DataSources,
    PersonalizeOptions,
    PersonalizeSetup,
    SetupResult,
    Timeouts,
    filter_name,
    resource_names,
)
from srs.aws.polling import Pacing, Report
from srs.aws.state import DeploymentState


@dataclass(frozen=True, slots=True)
class DeployOptions:
    state_path: Path
    storage: StorageOptions = field(default_factory=StorageOptions)
    personalize: PersonalizeOptions = field(default_factory=PersonalizeOptions)
    timeouts: Timeouts = field(default_factory=Timeouts)
    force: bool = False
    """Clean-up deletes bucket and role even while Personalize resources remain."""

    def __post_init__(self) -> None:
        if self.storage.name != self.personalize.name:
            raise AwsError(
                f"storage and Personalize options name two deployments "
                f"({self.storage.name!r}, {self.personalize.name!r})"
            )


def personalize_plan(options: PersonalizeOptions) -> list[str]:
    """What set-up will find or create, by name, in order."""
    names = resource_names(options.name)
    lines = [
        f"would create or reuse schema {names['schema:interactions']}",
        f"would create or reuse schema {names['schema:items']}",
        f"would create or reuse dataset group {names['dataset_group']}",
        f"would create or reuse datasets {names['dataset:interactions']}, "
        f"{names['dataset:items']} and import the uploaded CSVs",
        f"would create or reuse solution {names['solution']} (recipe {options.recipe_arn}, "
        f"automatic training {'on' if options.perform_auto_training else 'off'})",
        "would train a solution version (hours) and fetch its metrics",
    ]
    if options.campaign:
        lines.append(
            f"would create or reuse campaign {names['campaign']} "
            f"(minProvisionedTPS={options.min_provisioned_tps}: billed every hour it exists"
            + (", following the latest solution version)" if options.perform_auto_training else ")")
        )
    lines.append(f"would create or reuse event tracker {names['event_tracker']}")
    lines += [
        f"would create or reuse filter {filter_name(options.name, key)}: {expression}"
        for key, expression in sorted(options.filters.items())
    ]
    return lines


def run_setup(
    clients: AwsClients,
    personalize: Any,
    dataset_dir: Path,
    options: DeployOptions,
    pacing: Pacing,
    dry_run: bool,
    report: Report,
) -> SetupResult | None:
    """The whole set-up; None for a dry run (which prints the plan through ``report``)."""
    check_personalize_region(clients.region)
    state = DeploymentState.load(options.state_path)
    state.deployment(options.storage.name, clients.region, clients.region)
    storage = setup_storage(clients, options.storage, dataset_dir, state, dry_run, report)
    if dry_run:
        for line in personalize_plan(options.personalize):
            report(line)
        return None
    if storage.role_arn is None or "interactions.csv" not in storage.uploads:
        raise AwsError("set-up needs the IAM role and the uploaded interactions.csv")
    sources = DataSources(
        interactions_uri=storage.uploads["interactions.csv"],
        items_uri=storage.uploads.get("items.csv"),
        role_arn=storage.role_arn,
    )
    setup = PersonalizeSetup(
        personalize, state, options.personalize, pacing, report, options.timeouts
    )
    return setup.run(sources)


def run_cleanup(
    clients: AwsClients,
    personalize: Any,
    options: DeployOptions,
    pacing: Pacing,
    dry_run: bool,
    report: Report,
) -> list[Outcome]:
    """Personalize first (it reads the bucket through the role), then bucket and role."""
    state = DeploymentState.load(options.state_path)
    state.deployment(options.storage.name, clients.region, clients.region)
    outcomes = PersonalizeCleanup(
        personalize, state, options.personalize.name, pacing, report, options.timeouts
    ).run(dry_run)
    keep_reason = None
    if anything_left(outcomes) and not options.force:
        keep_reason = (
            "kept: Personalize resources above are still there and read through it; "
            "run clean-up again, or pass --force"
        )
    return outcomes + cleanup_storage(clients, options.storage, state, dry_run, report, keep_reason)
