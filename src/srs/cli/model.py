"""Model commands: train, recommend, similar, evaluate."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from srs.cli.base import settings_of
from srs.config import Settings
from srs.errors import SRSError


def _require_prepared(settings: Settings) -> None:
    """On an empty data directory, say to run ``srs prepare`` instead of naming a missing file."""
    from srs.data.dataset_version import current_dataset
    from srs.data.prepare import INTERACTIONS_FILE, ITEMS_FILE
    from srs.data.store import open_store, require_prepared

    store = open_store(settings)
    dataset = current_dataset(store)
    require_prepared(store, (dataset.key(INTERACTIONS_FILE), dataset.key(ITEMS_FILE)))


@click.command()
@click.option(
    "--recipe",
    type=click.Choice(
        ["user-personalization", "popularity-count", "similar-items", "trending-now"]
    ),
    default="user-personalization",
    show_default=True,
)
@click.option(
    "--tune/--no-tune",
    default=True,
    show_default=True,
    help="Choose settings on validation folds of the training data.",
)
@click.option(
    "--evaluate/--no-evaluate", default=True, show_default=True, help="Measure held-out metrics."
)
@click.option(
    "--blend/--no-blend",
    default=True,
    show_default=True,
    help="Learn user-personalization's blend on validation folds; keep it only if it wins "
    "there by more than the folds disagree.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Activate the new version even if it ranks below popularity on held-out users.",
)
@click.pass_context
def train(
    ctx: click.Context, recipe: str, tune: bool, evaluate: bool, blend: bool, force: bool
) -> None:
    """Train on the prepared data and recorded events, then activate the new version."""
    from srs.training import train_and_activate

    console = Console(stderr=True)
    with console.status("training") as status:
        loaded = train_and_activate(
            settings_of(ctx),
            recipe,
            tune=tune,
            evaluate=evaluate,
            blend=blend,
            force=force,
            progress=lambda step: status.update(step),
        )
    training = loaded.training
    verb = "activated" if training.get("activated", True) else "saved (not activated)"
    click.echo(
        f"{verb} {loaded.version}: {recipe}, {training['interactions']:,} interactions "
        f"({training['events']:,} from events), {training['training_seconds']:.2f} s"
    )
    decision = training.get("blend")
    if decision:
        verdict = "kept" if decision["adopted"] else "not kept"
        detail = decision.get("reason") or (
            f"validation nDCG@10 {decision['validation_ndcg_at_10']:.4f} blended, "
            f"{decision['item_item_ndcg_at_10']:.4f} without"
        )
        click.echo(f"blend {verdict}: {detail}")
    _print_tuning(training)
    _print_metrics(training)


def _print_tuning(training: dict[str, Any]) -> None:
    """What was chosen, the validation score of the defaults beside it, and why."""
    shown = {k: v for k, v in training["parameters"].items() if k != "blend"}
    tuning = training.get("tuning")
    if tuning:
        shown.update(tuning["weighting"])
    if shown:
        click.echo("parameters: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if not tuning:
        return
    click.echo(
        f"validation ({tuning['folds']} folds, nDCG@10): defaults {tuning['default_score']:.4f}, "
        f"chosen {tuning['chosen_score']:.4f}, popularity {tuning['popularity_score']:.4f}"
    )
    click.echo(f"why: {tuning['why']}")
    if not tuning["timestamps_informative"]:
        click.echo(f"timestamps: {tuning['timestamps']}, so no time settings were tried")


def _print_metrics(training: dict[str, Any]) -> None:
    """The held-out metrics beside popularity's, with what they can be trusted for."""
    metrics, baseline = training["metrics"], training.get("baseline_metrics") or {}
    if not metrics:
        return
    users = training.get("heldout_users")
    if training.get("heldout_split"):
        click.echo(f"held out: {training['heldout_split']}")
    click.echo(f"  {'metric (held-out users: ' + str(users) + ')':<46} {'model':>8} {'popular':>8}")
    for name, value in metrics.items():
        popular = baseline.get(name)
        shown = "" if popular is None else f"{popular:8.4f}"
        click.echo(f"  {name:<46} {value:8.4f} {shown}")
    if training.get("metrics_reliable") is False:
        click.echo(
            f"warning: metrics from {users} held-out users (fewer than "
            f"{training['min_reliable_users']}) are not reliable",
            err=True,
        )
    if training.get("worse_than_baseline"):
        if training.get("activated", True):
            click.echo("warning: this version ranks below popularity on held-out users", err=True)
        else:
            click.echo(
                f"warning: this version ranks below popularity on held-out users, so "
                f"{training['kept_version']} keeps serving; 'srs train --force' activates it",
                err=True,
            )


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _print_recommendations(title: str, recommendations: Any) -> None:
    table = Table(title=title)
    for column in ("#", "service", "category", "score", "reason"):
        table.add_column(column)
    for rank, item in enumerate(recommendations.item_list, start=1):
        score = "" if item.score is None else f"{item.score:.4f}"
        table.add_row(str(rank), item.service_name, item.category, score, item.reason)
    Console().print(table)


@click.command()
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
    from srs.serving.local_service import LocalRecommendationService

    filter_values = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep:
            raise SRSError(f"--value {value!r}: expected NAME=VALUES")
        filter_values[name] = text
    _require_prepared(settings_of(ctx))
    service = LocalRecommendationService.from_settings(settings_of(ctx), on_fallback=_warn)
    answer = service.recommend(user_id, num_results, filter_expression, filter_values or None)
    _print_recommendations(f"for {user_id}", answer)


@click.command()
@click.argument("service_name")
@click.option("--num", "num_results", type=int, default=10, show_default=True)
@click.pass_context
def similar(ctx: click.Context, service_name: str, num_results: int) -> None:
    """Services often used with SERVICE_NAME (a name such as 'Amazon S3', or an item ID)."""
    from srs.serving.local_service import LocalRecommendationService

    service = LocalRecommendationService.from_settings(settings_of(ctx), on_fallback=_warn)
    by_name = {item.service_name.lower(): item.item_id for item in service.items()}
    item_id = by_name.get(service_name.lower(), service_name)
    if item_id not in {item.item_id for item in service.items()}:
        raise SRSError(f"unknown service {service_name!r}; 'srs similar --help' takes a name or ID")
    _print_recommendations(f"similar to {service_name}", service.similar(item_id, num_results))


@click.command()
@click.option("--tune/--no-tune", default=True, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_context
def evaluate(ctx: click.Context, tune: bool, seed: int) -> None:
    """Compare every recipe offline with Personalize's method and metric names."""
    from srs.data.store import open_store
    from srs.engine.evaluation.comparison import evaluate_recipes
    from srs.engine.evaluation.metrics import PERSONALIZE_METRICS
    from srs.events.store import EventStore
    from srs.training import load_training_data

    settings = settings_of(ctx)
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
