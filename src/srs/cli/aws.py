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
    auto_training: bool = False,
    force: bool = False,
) -> Any:
    from srs.aws.bootstrap import StorageOptions
    from srs.aws.deploy import DeployOptions
    from srs.aws.personalize_setup import DEFAULT_RECIPE_ARN, PersonalizeOptions

    filters = {"default": settings.default_filter} if settings.default_filter else {}
    return DeployOptions(
        state_path=state_file or settings.aws_state_path,
        storage=StorageOptions(name=name, data_prefix=settings.s3_prefix, bucket=bucket or None),
        personalize=PersonalizeOptions(
            name=name,
            recipe_arn=recipe or DEFAULT_RECIPE_ARN,
            min_provisioned_tps=min_tps,
            perform_auto_training=auto_training,
            campaign=campaign,
            filters=filters,
            refresh=refresh,
        ),
        force=force,
    )


def _aws_report(line: str) -> None:
    click.echo(line, err=True)


def _deployment(
    settings: Settings, state_file: Path | None, name: str | None, region: str | None
) -> tuple[str, str]:
    """(name, region) of the deployment: the state file's rule; a conflicting option is an error."""
    from srs.aws.naming import check_deployment_name
    from srs.aws.state import DeploymentState

    state = DeploymentState.load(state_file or settings.aws_state_path)
    name, region = state.deployment(name, region, settings.s3_region)
    return check_deployment_name(name), region


_region_option = click.option(
    "--region",
    help="AWS region (default: the state file's, else the s3_region setting); "
    "must match the state file's.",
)
_profile_option = click.option("--profile", help="AWS profile to use (default: boto3's chain).")
_aws_common = [
    _region_option,
    click.option(
        "--name",
        help="Deployment name, in every resource's name and tag (default: the state file's, "
        "else srs).",
    ),
    click.option("--bucket", help="Bucket name (default: srs-<name>-<account>-<region>)."),
    click.option(
        "--state-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where ARNs are recorded (default: <data dir>/aws-state.json).",
    ),
    _profile_option,
    click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing."),
]


def _with_aws_common(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_aws_common):
        function = option(function)
    return function


def retraining_estimate(dataset_dir: Path, recipe_arn: str, region: str) -> str | None:
    """A month of automatic training on the prepared data at the shipped price table's prices;
    None when the data is not prepared yet or the table does not price the region."""
    from srs.aws.cost.billing import V2_RECIPES, Workload, automatic_retrainings, training_usd
    from srs.aws.cost.prices import load_price_table

    interactions = dataset_dir / "interactions.csv"
    if not interactions.is_file():
        return None
    with interactions.open("rb") as stream:
        rows = max(sum(1 for _ in stream) - 1, 0)
    recipe = recipe_arn.rsplit("/", 1)[-1]
    try:
        table = load_price_table()
        workload = Workload(
            recommendations_per_day=0.0,
            data_gb=0.0,
            stored_gb=0.0,
            training_hours=table.seed.training_hours,
            interactions=float(rows),
            recipe=recipe,
        )
        runs = automatic_retrainings(workload)
        usd = training_usd(workload, runs, table, table.check_region(region))
    except SRSError:
        return None
    basis = (
        f"{rows:,} interactions a run"
        if recipe in V2_RECIPES
        else f"{table.seed.training_hours:g} h a run (the seed's figure)"
    )
    return (
        f"about {runs:.1f} runs a month, ${usd:,.2f} at the shipped price table's {region} "
        f"prices for {basis}"
    )


def auto_training_line(auto_training: bool, estimate: str | None = None) -> str:
    """The bill's consequence of the switch, said before anything is created."""
    cost = f" ({estimate})" if estimate else ""
    if auto_training:
        return (
            "automatic training: on — Personalize trains a new version every 7 days, each run "
            f"billed{cost}, and the campaign switches to it; 'srs cost' has the whole bill"
        )
    return (
        "automatic training: off — no training is billed beyond this run's; --auto-training "
        f"would retrain every 7 days{cost}; 'srs aws setup --refresh' retrains after new data"
    )


@aws_group.command("setup")
@_with_aws_common
@click.option("--recipe", help="Recipe ARN (default: aws-user-personalization-v2).")
@click.option("--min-tps", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--campaign/--no-campaign", default=True, show_default=True)
@click.option(
    "--auto-training/--no-auto-training",
    default=False,
    show_default=True,
    help="Let Personalize retrain weekly (billed) and the campaign follow the latest version.",
)
@click.option("--refresh", is_flag=True, help="Import again and retrain (after new data).")
@click.pass_context
def aws_setup(
    ctx: click.Context,
    region: str | None,
    name: str | None,
    bucket: str | None,
    state_file: Path | None,
    profile: str | None,
    dry_run: bool,
    recipe: str | None,
    min_tps: int,
    campaign: bool,
    auto_training: bool,
    refresh: bool,
) -> None:
    """Create (or resume) bucket, role and Personalize resources; print every ARN."""
    from srs.aws.clients import make_client, make_clients, make_session
    from srs.aws.deploy import run_setup
    from srs.aws.polling import Pacing

    settings = settings_of(ctx)
    name, region = _deployment(settings, state_file, name, region)
    options = _aws_options(
        settings, name, bucket, state_file, recipe, min_tps, campaign, refresh, auto_training
    )
    session = make_session(profile)
    # One published version for the estimate and every uploaded file, even if a prepare
    # publishes the next one meanwhile.
    dataset_dir = settings.dataset_dir.resolve()
    estimate = retraining_estimate(dataset_dir, options.personalize.recipe_arn, region)
    _aws_report(auto_training_line(auto_training, estimate))
    result = run_setup(
        make_clients(region, session=session),
        make_client("personalize", region, session=session),
        dataset_dir,
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
@click.option(
    "--force",
    is_flag=True,
    help="Delete bucket and role even while Personalize resources that read them remain.",
)
@click.pass_context
def aws_cleanup(
    ctx: click.Context,
    region: str | None,
    name: str | None,
    bucket: str | None,
    state_file: Path | None,
    profile: str | None,
    dry_run: bool,
    force: bool,
) -> None:
    """Delete everything set-up created, in dependency order; exit 1 while anything is left."""
    from srs.aws.cleanup_outcome import anything_left
    from srs.aws.clients import make_client, make_clients, make_session
    from srs.aws.deploy import run_cleanup
    from srs.aws.polling import Pacing

    settings = settings_of(ctx)
    name, region = _deployment(settings, state_file, name, region)
    options = _aws_options(settings, name, bucket, state_file, force=force)
    _aws_report(f"deployment {name} in {region}")
    session = make_session(profile)
    outcomes = run_cleanup(
        make_clients(region, session=session),
        make_client("personalize", region, session=session),
        options,
        Pacing(),
        dry_run,
        _aws_report,
    )
    table = Table(title=f"Clean-up of {name} in {region}")
    for column in ("resource", "state", "why"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        table.add_row(outcome.resource, outcome.state, outcome.why)
    Console(width=max(Console().width, 120)).print(table)
    if anything_left(outcomes):
        ctx.exit(1)


@aws_group.command("batch")
@_region_option
@_profile_option
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
    profile: str | None,
    state_file: Path | None,
    job_name: str | None,
    num_results: int,
) -> None:
    """Recommend for every user with one batch inference job (no campaign needed)."""
    from datetime import UTC, datetime

    import pandas as pd

    from srs.aws.batch import BatchOptions, load_batch_results, run_batch_job
    from srs.aws.clients import make_client, make_clients, make_session
    from srs.aws.naming import Deployment
    from srs.aws.polling import Pacing
    from srs.aws.state import DeploymentState
    from srs.data.store import S3Store

    settings = settings_of(ctx)
    deployment, region = _deployment(settings, state_file, None, region)
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
        deployment=Deployment(deployment, region).key,
    )
    session = make_session(profile)
    clients = make_clients(region, session=session)
    store = S3Store(bucket=options.bucket, prefix=options.data_prefix, client=clients.s3)
    key = run_batch_job(
        make_client("personalize", region, session=session),
        store,
        users,
        options,
        state,
        Pacing(),
        _aws_report,
    )
    results = load_batch_results(store, key)
    state.record("batch_output_key", key)
    click.echo(f"{len(results)} of {len(users)} users have recommendations at {store.uri(key)}")
