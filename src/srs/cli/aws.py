"""The AWS path: ``srs aws setup|cleanup|batch`` (``srs cost`` is in ``srs.cli.cost``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from srs.cli.base import settings_of
from srs.config import Settings
from srs.errors import SRSError


@click.group("aws")
def aws_group() -> None:
    """Deploy on Amazon S3 + Amazon Personalize, and remove the deployment."""


def _aws_options(
    settings: Settings,
    name: str,
    bucket: str | None,
    state_file: Path | None,
    recipe: str | None = None,
    min_tps: int = 1,
    campaign: bool = True,
    refresh: bool = False,
) -> Any:
    from srs.aws.bootstrap import StorageOptions
    from srs.aws.deploy import DeployOptions
    from srs.aws.personalize_setup import DEFAULT_RECIPE_ARN, PersonalizeOptions

    filters = {"default": settings.default_filter} if settings.default_filter else {}
    return DeployOptions(
        state_path=state_file or settings.aws_state_path,
        storage=StorageOptions(data_prefix=settings.s3_prefix, bucket=bucket or None),
        personalize=PersonalizeOptions(
            name=name,
            recipe_arn=recipe or DEFAULT_RECIPE_ARN,
            min_provisioned_tps=min_tps,
            campaign=campaign,
            filters=filters,
            refresh=refresh,
        ),
    )


def _aws_report(line: str) -> None:
    click.echo(line, err=True)


_aws_common = [
    click.option("--region", help="AWS region (default: the s3_region setting)."),
    click.option("--name", default="srs", show_default=True, help="Prefix of every resource."),
    click.option("--bucket", help="Bucket name (default: srs-<account>-<region>)."),
    click.option(
        "--state-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where ARNs are recorded (default: <data dir>/aws-state.json).",
    ),
    click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing."),
]


def _with_aws_common(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_aws_common):
        function = option(function)
    return function


@aws_group.command("setup")
@_with_aws_common
@click.option("--recipe", help="Recipe ARN (default: aws-user-personalization-v2).")
@click.option("--min-tps", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--campaign/--no-campaign", default=True, show_default=True)
@click.option("--refresh", is_flag=True, help="Import again and retrain (after new data).")
@click.pass_context
def aws_setup(
    ctx: click.Context,
    region: str | None,
    name: str,
    bucket: str | None,
    state_file: Path | None,
    dry_run: bool,
    recipe: str | None,
    min_tps: int,
    campaign: bool,
    refresh: bool,
) -> None:
    """Create (or resume) bucket, role and Personalize resources; print every ARN."""
    from srs.aws.clients import make_client, make_clients
    from srs.aws.deploy import run_setup
    from srs.aws.polling import Pacing

    settings = settings_of(ctx)
    region = region or settings.s3_region
    options = _aws_options(settings, name, bucket, state_file, recipe, min_tps, campaign, refresh)
    result = run_setup(
        make_clients(region),
        make_client("personalize", region),
        settings.dataset_dir,
        options,
        Pacing(),
        dry_run,
        _aws_report,
    )
    if result is None:
        return
    for key, value in sorted(result.arns.items()):
        click.echo(f"{key}\t{value}")
    _print_metrics_side_by_side(result.metrics, _local_metrics(settings))


def _local_metrics(settings: Settings) -> dict[str, float]:
    """The active local model's offline metrics; none when no model was trained here."""
    from srs.data.store import open_store
    from srs.engine.model_store import ModelStore

    try:
        models = ModelStore(open_store(settings), settings.model_cache_dir)
        training = models.load_active(verify=False).training
    except SRSError:
        return {}
    return {name: float(value) for name, value in training.get("metrics", {}).items()}


def _print_metrics_side_by_side(personalize: dict[str, float], local: dict[str, float]) -> None:
    from srs.aws.personalize_setup import metrics_side_by_side

    table = Table(title="Offline metrics (Personalize's names)")
    table.add_column("metric")
    table.add_column("Personalize", justify="right")
    table.add_column("local engine", justify="right")
    for name, remote, here in metrics_side_by_side(personalize, local):
        table.add_row(
            name,
            "—" if remote is None else f"{remote:.4f}",
            "—" if here is None else f"{here:.4f}",
        )
    Console().print(table)


@aws_group.command("cleanup")
@_with_aws_common
@click.pass_context
def aws_cleanup(
    ctx: click.Context,
    region: str | None,
    name: str,
    bucket: str | None,
    state_file: Path | None,
    dry_run: bool,
) -> None:
    """Delete everything set-up created, in dependency order; safe to run twice."""
    from srs.aws.clients import make_client, make_clients
    from srs.aws.deploy import run_cleanup
    from srs.aws.polling import Pacing

    settings = settings_of(ctx)
    region = region or settings.s3_region
    options = _aws_options(settings, name, bucket, state_file)
    run_cleanup(
        make_clients(region),
        make_client("personalize", region),
        options,
        Pacing(),
        dry_run,
        _aws_report,
    )


@aws_group.command("batch")
@click.option("--region", help="AWS region (default: the s3_region setting).")
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where set-up recorded its ARNs (default: <data dir>/aws-state.json).",
)
@click.option("--job-name", help="Unique job name (default: srs-batch-<UTC time>).")
@click.option("--num", "num_results", type=click.IntRange(1, 500), default=25, show_default=True)
@click.pass_context
def aws_batch(
    ctx: click.Context,
    region: str | None,
    state_file: Path | None,
    job_name: str | None,
    num_results: int,
) -> None:
    """Recommend for every user with one batch inference job (no campaign needed)."""
    from datetime import UTC, datetime

    import pandas as pd

    from srs.aws.batch import BatchOptions, load_batch_results, run_batch_job
    from srs.aws.clients import make_client, make_clients
    from srs.aws.polling import Pacing
    from srs.aws.state import DeploymentState
    from srs.data.store import S3Store

    settings = settings_of(ctx)
    region = region or settings.s3_region
    state = DeploymentState.load(state_file or settings.aws_state_path)
    needed = ["solution_version_arn", "role_arn", "bucket"]
    missing = [key for key in needed if not state.get(key)]
    if missing:
        raise SRSError(f"{state.path}: no {', '.join(missing)} recorded; run 'srs aws setup' first")
    interactions = settings.dataset_dir / "interactions.csv"
    if not interactions.is_file():
        raise SRSError(f"{interactions}: no prepared interactions; run 'srs prepare' first")
    users = sorted(pd.read_csv(interactions, usecols=["USER_ID"], dtype=str)["USER_ID"].unique())
    name = job_name or f"srs-batch-{datetime.now(tz=UTC):%Y%m%d%H%M%S}"
    options = BatchOptions(
        job_name=name,
        solution_version_arn=str(state.get("solution_version_arn")),
        role_arn=str(state.get("role_arn")),
        bucket=str(state.get("bucket")),
        data_prefix=state.get("data_prefix") or "",
        num_results=num_results,
        filter_arn=state.get("filter_arn:default"),
    )
    clients = make_clients(region)
    store = S3Store(bucket=options.bucket, prefix=options.data_prefix, client=clients.s3)
    key = run_batch_job(
        make_client("personalize", region), store, users, options, state, Pacing(), _aws_report
    )
    results = load_batch_results(store, key)
    state.record("batch_output_key", key)
    click.echo(f"{len(results)} of {len(users)} users have recommendations at {store.uri(key)}")
