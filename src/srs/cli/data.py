"""Data commands: generate, prepare, history, events."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from srs.cli.base import progress_bar, settings_of
from srs.errors import SRSError


@click.command()
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

    settings = settings_of(ctx)
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


@click.command()
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
@click.option(
    "--items",
    "items_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your own item metadata: columns name, category[, description], or Personalize's "
    "items CSV (ITEM_ID, SERVICE_NAME, CATEGORY, DESCRIPTION). Describes services the "
    "catalogue lacks and overrides it where both describe one.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse event types SRS does not know instead of keeping them "
    "(name them in the event_types setting).",
)
@click.pass_context
def prepare(
    ctx: click.Context,
    source: Path | None,
    out_dir: Path | None,
    items_path: Path | None,
    strict: bool,
) -> None:
    """Validate the source CSV and write Personalize's interactions and items datasets.

    Event types are mapped onto SRS's (Launch, launches → launched) and service
    names onto the catalogue's (EC2 → Amazon EC2) before IDs are given; the
    tables printed say what was mapped and what was not.
    """
    from srs.catalog import load_catalog
    from srs.data.dataset_version import publish_to
    from srs.data.prepare import prepare_dataset
    from srs.data.publish import PublishedDataset
    from srs.data.store import open_store
    from srs.data.vocabulary import EventVocabulary, normalise_event_type

    settings = settings_of(ctx)
    source = source or settings.source_path
    out_dir = out_dir or settings.dataset_dir
    size = source.stat().st_size if source.is_file() else None
    store = open_store(settings)
    uris: dict[str, str] = {}

    def publish(published: PublishedDataset) -> None:
        uris.update(publish_to(store, published, out_dir))

    with progress_bar("preparing", total=size, unit_bytes=True) as advance:
        result = prepare_dataset(
            source,
            out_dir,
            catalog=load_catalog(),
            block_bytes=settings.chunk_bytes,
            progress=advance,
            vocabulary=EventVocabulary(settings.event_types),
            items=items_path,
            strict=strict,
            on_publish=publish,
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"prepared {result.rows:,} interactions, {result.users:,} users, "
        f"{result.items:,} services ({result.new_items:,} new IDs)"
    )
    console = Console()
    event_types = Table(title="event types")
    for column in ("as written", "event type", "rows"):
        event_types.add_column(column, justify="right" if column == "rows" else "left")
    for seen in result.event_types:
        meaning = seen.canonical or (
            f"{normalise_event_type(seen.written)} (unknown; line {seen.first_line})"
        )
        event_types.add_row(seen.written, meaning, f"{seen.rows:,}")
    console.print(event_types)
    if result.aliased_services:
        aliased = Table(title="services written another way")
        for column in ("as written", "catalogue name", "rows"):
            aliased.add_column(column, justify="right" if column == "rows" else "left")
        for service in result.aliased_services:
            aliased.add_row(service.written, service.name, f"{service.rows:,}")
        console.print(aliased)
    if result.unknown_services:
        unknown = Table(title="services neither in the catalogue nor in --items")
        for column in ("service", "rows", "did you mean"):
            unknown.add_column(column, justify="right" if column == "rows" else "left")
        shown = 50
        for missing in result.unknown_services[:shown]:
            unknown.add_row(missing.name, f"{missing.rows:,}", ", ".join(missing.suggestions))
        console.print(unknown)
        hidden = len(result.unknown_services) - shown
        if hidden > 0:
            click.echo(f"… and {hidden:,} more services neither in the catalogue nor in --items")
    for name in result.outputs:
        click.echo(f"  {name:<26} {uris[name]}")


@click.command()
@click.argument("user_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.pass_context
def history(ctx: click.Context, user_id: str, limit: int, offset: int) -> None:
    """Show a user's interactions, newest first: the feedback recorded since the data was
    prepared, then the prepared dataset (as the web page and the API show them)."""
    import pandas as pd

    from srs.data.dataset_version import current_dataset
    from srs.data.prepare import INTERACTIONS_FILE, ITEMS_FILE
    from srs.data.store import open_store, require_prepared
    from srs.serving.local_service import LocalRecommendationService

    settings = settings_of(ctx)
    store = open_store(settings)
    dataset = current_dataset(store)
    require_prepared(store, (dataset.key(INTERACTIONS_FILE), dataset.key(ITEMS_FILE)))
    service = LocalRecommendationService.from_settings(settings, answer_tables=False)
    page = service.history(user_id, limit=limit, offset=offset)
    shown = (
        f"showing {offset + 1}–{min(page.total, offset + limit)}"
        if page.interactions
        else f"none from {offset + 1}"
    )
    table = Table(title=f"{user_id}: {page.total:,} interactions ({shown})")
    for column in ("when (UTC)", "service", "category", "event", "value"):
        table.add_column(column)
    for entry in page.interactions:
        when = pd.Timestamp(entry.timestamp, unit="s").strftime("%Y-%m-%d %H:%M")
        value = f"{entry.event_value:g}"
        table.add_row(when, entry.service_name, entry.category, entry.event_type, value)
    Console().print(table)


@click.group()
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
    from srs.events.store import EventStore

    settings = settings_of(ctx)
    if not settings.events_path.exists():
        raise SRSError(f"{settings.events_path}: no events have been recorded yet")
    target = output or settings.data_dir / "events_export.csv"
    rows = EventStore(settings.events_path).export_csv(target)
    click.echo(f"exported {rows:,} events to {target}")


@events.command("compact")
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(min=1),
    required=True,
    metavar="DAYS",
    help="Delete events whose time is more than DAYS days ago.",
)
@click.pass_context
def compact_events(ctx: click.Context, older_than: int) -> None:
    """Delete old events, keep the data page's counts in step and shrink the file."""
    from srs.events.store import EventStore

    settings = settings_of(ctx)
    if not settings.events_path.exists():
        raise SRSError(f"{settings.events_path}: no events have been recorded yet")
    removed = EventStore(settings.events_path).compact(older_than)
    click.echo(f"removed {removed:,} events older than {older_than} days")
