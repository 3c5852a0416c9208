"""The ``srs`` command: a thin layer that turns arguments into calls and results into text.

User errors (:class:`srs.errors.SRSError`) print one line on stderr and exit 2;
``--verbose`` turns on logging for the curious.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from srs.config import DATASET_PREFIX, Settings, load_settings
from srs.errors import SRSError

USER_ERROR_EXIT = 2
log = logging.getLogger("srs")


class SRSGroup(click.Group):
    """Turns a user error anywhere below into one line on stderr and exit code 2.

    Operating-system errors (a full disk, a read-only directory) are the user's to fix too,
    so they get the same one line rather than a traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SRSError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(USER_ERROR_EXIT)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(USER_ERROR_EXIT)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


@contextmanager
def progress_bar(
    description: str, total: int | None, unit_bytes: bool
) -> Iterator[Callable[[int], None]]:
    """A rich bar on stderr; yields the callback that advances it."""
    counter = DownloadColumn() if unit_bytes else MofNCompleteColumn()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        counter,
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda advance: progress.advance(task, advance)


@click.group(cls=SRSGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (else $SRS_CONFIG).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (else $SRS_DATA_DIR, default ./data).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what SRS does.")
@click.version_option(package_name="srs")
@click.pass_context
def main(
    ctx: click.Context, config_file: Path | None, data_dir: Path | None, verbose: bool
) -> None:
    """SRS, the Service Recommendation System: recommends AWS services to your users."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    try:
        ctx.obj = load_settings(config_file=config_file, overrides={"data_dir": data_dir})
    except SRSError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(USER_ERROR_EXIT)
    log.debug("settings: %s", ctx.obj)


@main.command()
@click.option(
    "--users", type=click.IntRange(min=1), help="Number of users (default from settings)."
)
@click.option(
    "--interactions-per-user",
    type=click.IntRange(min=1),
    help="Mean interactions per user (default from settings).",
)
@click.option("--seed", type=int, help="Random seed; the same seed gives the same file.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Source CSV to write (default: the data directory's source file).",
)
@click.option(
    "--ground-truth/--no-ground-truth",
    default=True,
    show_default=True,
    help="Also write each user's persona to ground_truth.csv beside the output.",
)
@click.pass_context
def generate(
    ctx: click.Context,
    users: int | None,
    interactions_per_user: int | None,
    seed: int | None,
    output: Path | None,
    ground_truth: bool,
) -> None:
    """Write a synthetic source CSV of users drawn from personas."""
    from srs.catalog import load_catalog
    from srs.data.synthetic import generate_interactions, write_source

    settings = _settings(ctx)
    target = output or settings.source_path
    target.parent.mkdir(parents=True, exist_ok=True)
    data = generate_interactions(
        users=users or settings.users,
        interactions_per_user=interactions_per_user or settings.interactions_per_user,
        seed=settings.seed if seed is None else seed,
        catalog=load_catalog(),
    )
    truth = target.parent / settings.ground_truth_path.name if ground_truth else None
    with progress_bar("writing", total=len(data.interactions), unit_bytes=False) as advance:
        rows = write_source(data, target, ground_truth_path=truth, progress=advance)
    click.echo(f"wrote {rows:,} interactions of {data.ground_truth.shape[0]:,} users to {target}")
    if truth is not None:
        click.echo(f"wrote personas to {truth}")


@main.command()
@click.option(
    "--source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Source CSV (default: the data directory's source file).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset directory (default: DATA_DIR/dataset).",
)
@click.pass_context
def prepare(ctx: click.Context, source: Path | None, out_dir: Path | None) -> None:
    """Validate the source CSV and write Personalize's interactions and items datasets."""
    from srs.catalog import load_catalog
    from srs.data.prepare import prepare_dataset
    from srs.data.store import open_store

    settings = _settings(ctx)
    source = source or settings.source_path
    out_dir = out_dir or settings.dataset_dir
    size = source.stat().st_size if source.is_file() else None
    with progress_bar("preparing", total=size, unit_bytes=True) as advance:
        result = prepare_dataset(
            source,
            out_dir,
            catalog=load_catalog(),
            block_bytes=settings.chunk_bytes,
            progress=advance,
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"prepared {result.rows:,} interactions, {result.users:,} users, "
        f"{result.items:,} services ({result.new_items:,} new IDs)"
    )
    store = open_store(settings)
    for name, path in result.outputs.items():
        key = DATASET_PREFIX + name
        if store.local_path(key) != path.resolve():
            store.put_file(key, path)
        click.echo(f"  {name:<26} {store.uri(key)}")


@main.command()
@click.argument("user_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.pass_context
def history(ctx: click.Context, user_id: str, limit: int, offset: int) -> None:
    """Show a user's interactions, newest first, from the prepared dataset."""
    import pandas as pd

    from srs.data.history import InteractionHistory
    from srs.data.prepare import INTERACTIONS_FILE, ITEMS_FILE
    from srs.data.store import open_store

    store = open_store(_settings(ctx))
    interactions = InteractionHistory.from_store(store, key=DATASET_PREFIX + INTERACTIONS_FILE)
    total = interactions.count(user_id)
    if total == 0:
        location = store.uri(DATASET_PREFIX + INTERACTIONS_FILE)
        raise SRSError(f"user {user_id!r} has no interactions in {location}")
    with store.open_read(DATASET_PREFIX + ITEMS_FILE) as handle:
        items = pd.read_csv(handle, dtype=str, keep_default_na=False)
    described = {
        item: (name, category)
        for item, name, category in zip(
            items["ITEM_ID"], items["SERVICE_NAME"], items["CATEGORY"], strict=True
        )
    }
    shown = f"{offset + 1}–{min(total, offset + limit)}"
    table = Table(title=f"{user_id}: {total:,} interactions (showing {shown})")
    for column in ("when (UTC)", "service", "category", "event", "value"):
        table.add_column(column)
    for row in interactions.get_user_history(user_id, limit=limit, offset=offset):
        name, category = described.get(row.item_id, (row.item_id, ""))
        when = pd.Timestamp(row.timestamp, unit="s").strftime("%Y-%m-%d %H:%M")
        table.add_row(when, name, category, row.event_type, f"{row.event_value:g}")
    Console().print(table)


@main.group()
def events() -> None:
    """Feedback events recorded by the web app and API."""


@events.command("export")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write (default: DATA_DIR/events_export.csv).",
)
@click.pass_context
def export_events(ctx: click.Context, output: Path | None) -> None:
    """Write every stored event in Personalize's interactions CSV format."""
    from srs.events import EventStore

    settings = _settings(ctx)
    if not settings.events_path.exists():
        raise SRSError(f"{settings.events_path}: no events have been recorded yet")
    target = output or settings.data_dir / "events_export.csv"
    rows = EventStore(settings.events_path).export_csv(target)
    click.echo(f"exported {rows:,} events to {target}")


@main.command()
@click.option(
    "--recipe",
    type=click.Choice(
        ["user-personalization", "popularity-count", "similar-items", "trending-now"]
    ),
    default="user-personalization",
    show_default=True,
)
@click.option(
    "--tune/--no-tune", default=True, show_default=True, help="Grid-search on validation."
)
@click.option(
    "--evaluate/--no-evaluate", default=True, show_default=True, help="Measure held-out metrics."
)
@click.pass_context
def train(ctx: click.Context, recipe: str, tune: bool, evaluate: bool) -> None:
    """Train on the prepared data and recorded events, then activate the new version."""
    from srs.training import train_and_activate

    console = Console(stderr=True)
    with console.status("training") as status:
        loaded = train_and_activate(
            _settings(ctx),
            recipe,
            tune=tune,
            evaluate=evaluate,
            progress=lambda step: status.update(step),
        )
    training = loaded.training
    click.echo(
        f"activated {loaded.version}: {recipe}, {training['interactions']:,} interactions "
        f"({training['events']:,} from events), {training['training_seconds']:.2f} s"
    )
    if training["parameters"]:
        click.echo(
            "parameters: " + ", ".join(f"{k}={v}" for k, v in training["parameters"].items())
        )
    for name, value in training["metrics"].items():
        click.echo(f"  {name:<46} {value:.4f}")


def _print_recommendations(title: str, recommendations: Any) -> None:
    table = Table(title=title)
    for column in ("#", "service", "category", "score", "reason"):
        table.add_column(column)
    for rank, item in enumerate(recommendations.item_list, start=1):
        score = "" if item.score is None else f"{item.score:.4f}"
        table.add_row(str(rank), item.service_name, item.category, score, item.reason)
    Console().print(table)


@main.command()
@click.argument("user_id")
@click.option("--num", "num_results", type=int, default=10, show_default=True)
@click.option("--filter", "filter_expression", help="Personalize filter expression.")
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="NAME=VALUES",
    help='Filter parameter, e.g. CATEGORY=\'"Storage","Compute"\' (repeatable).',
)
@click.pass_context
def recommend(
    ctx: click.Context,
    user_id: str,
    num_results: int,
    filter_expression: str | None,
    values: tuple[str, ...],
) -> None:
    """Recommend services to USER_ID with the active model."""
    from srs.local_service import LocalRecommendationService

    filter_values = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep:
            raise SRSError(f"--value {value!r}: expected NAME=VALUES")
        filter_values[name] = text
    service = LocalRecommendationService.from_settings(_settings(ctx))
    answer = service.recommend(user_id, num_results, filter_expression, filter_values or None)
    _print_recommendations(f"for {user_id}", answer)


@main.command()
@click.argument("service_name")
@click.option("--num", "num_results", type=int, default=10, show_default=True)
@click.pass_context
def similar(ctx: click.Context, service_name: str, num_results: int) -> None:
    """Services often used with SERVICE_NAME (a name such as 'Amazon S3', or an item ID)."""
    from srs.local_service import LocalRecommendationService

    service = LocalRecommendationService.from_settings(_settings(ctx))
    by_name = {item.service_name.lower(): item.item_id for item in service.items()}
    item_id = by_name.get(service_name.lower(), service_name)
    if item_id not in {item.item_id for item in service.items()}:
        raise SRSError(f"unknown service {service_name!r}; 'srs similar --help' takes a name or ID")
    _print_recommendations(f"similar to {service_name}", service.similar(item_id, num_results))


@main.command()
@click.option("--tune/--no-tune", default=True, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def evaluate(ctx: click.Context, tune: bool, seed: int) -> None:
    """Compare every recipe offline with Personalize's method and metric names."""
    from srs.data.store import open_store
    from srs.engine.comparison import evaluate_recipes
    from srs.engine.metrics import PERSONALIZE_METRICS
    from srs.events import EventStore
    from srs.training import load_training_data

    settings = _settings(ctx)
    events = EventStore(settings.events_path) if settings.events_path.exists() else None
    data = load_training_data(open_store(settings), events)
    with Console(stderr=True).status("evaluating recipes"):
        table = evaluate_recipes(data.interactions, data.items, tune=tune, seed=seed)
    shown = Table(title="offline metrics (10% of users held out, newest 10% of each scored)")
    shown.add_column("metric", no_wrap=True)
    recipes = [str(name) for name in table.index]
    for recipe in recipes:
        shown.add_column(recipe, justify="right", no_wrap=True)
    for metric in (*PERSONALIZE_METRICS, "training_seconds"):
        if metric in table.columns:
            shown.add_row(metric, *(f"{v:.4f}" for v in table[metric].tolist()))
    console = Console()
    console.width = max(console.width, 140)  # metric names are long; wrap nothing
    console.print(shown)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="gunicorn workers (default: the workers setting, else two per core).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads per worker; more than 1 uses gunicorn's threaded workers.",
)
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader.")
@click.pass_context
def serve(
    ctx: click.Context, host: str, port: int, workers: int | None, threads: int, dev: bool
) -> None:
    """Serve the web interface and the REST API (gunicorn) until stopped."""
    from srs.web.serve import serve as run_server

    settings = _settings(ctx)
    if not (settings.dataset_dir / "items.csv").exists() and settings.store == "local":
        raise SRSError(f"{settings.dataset_dir}: no prepared dataset; run 'srs prepare' first")
    click.echo(f"serving on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    status = run_server(
        settings,
        host=host,
        port=port,
        workers=workers or settings.workers or None,
        dev=dev,
        threads=threads,
    )
    ctx.exit(status)


@main.command()
@click.option("--data-gb", type=click.FloatRange(min=0), default=1.0, show_default=True)
@click.option(
    "--training-hours",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Billed training hours of one training run.",
)
@click.option(
    "--trainings",
    "trainings_per_month",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Deliberate training runs a month.",
)
@click.option(
    "--recommendations-per-day",
    type=click.FloatRange(min=0),
    default=10_000,
    show_default=True,
)
@click.option("--peak-tps", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option(
    "--peak-hours",
    "peak_hours_per_day",
    type=click.FloatRange(0, 24),
    default=0.0,
    show_default=True,
    help="Hours a day at the peak TPS.",
)
@click.option("--mode", type=click.Choice(["campaign", "batch"]), default="campaign")
@click.option("--min-tps", "min_provisioned_tps", type=click.IntRange(min=1), default=1)
@click.option(
    "--retrain-days",
    type=click.FloatRange(min=0),
    default=7.0,
    show_default=True,
    help="Automatic retraining interval; 0 turns automatic retraining off.",
)
@click.option("--currency", type=click.Choice(["USD", "INR"], case_sensitive=False), default="USD")
@click.option("--rate", type=float, help="INR per USD (default: the price table's).")
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Price table TOML with the shipped table's keys (default: the shipped table).",
)
def cost(
    data_gb: float,
    training_hours: float,
    trainings_per_month: int,
    recommendations_per_day: float,
    peak_tps: float,
    peak_hours_per_day: float,
    mode: str,
    min_provisioned_tps: int,
    retrain_days: float,
    currency: str,
    rate: float | None,
    prices_path: Path | None,
) -> None:
    """Estimate a month on Amazon Personalize beside the embedded default's cost."""
    from srs.aws.cost import Workload, cost_command

    workload = Workload(
        data_gb=data_gb,
        training_hours=training_hours,
        trainings_per_month=trainings_per_month,
        recommendations_per_day=recommendations_per_day,
        peak_tps=peak_tps,
        peak_hours_per_day=peak_hours_per_day,
        mode="batch" if mode == "batch" else "campaign",
        min_provisioned_tps=min_provisioned_tps,
        automatic_retraining=retrain_days > 0,
        retraining_interval_days=retrain_days or 7.0,
    )
    click.echo(
        cost_command(workload, currency=currency, rate=rate, prices_path=prices_path), nl=False
    )


@main.group("aws")
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

    settings = _settings(ctx)
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

    settings = _settings(ctx)
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

    settings = _settings(ctx)
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
