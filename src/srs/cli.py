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
