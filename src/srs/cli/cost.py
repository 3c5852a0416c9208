"""``srs cost``: the seed's AWS estimate reproduced, corrected line by line, and priced three ways.

Every workload option defaults to the seed's own figure, so the bare command prices the workload
the seed priced. Numbers are taken as plain numbers and checked by the estimator, so that a
negative or impossible figure is one line naming the option rather than a usage screen.
"""

from __future__ import annotations

from pathlib import Path

import click

from srs.errors import SRSError

OPTION_OF_FIELD = {
    "recommendations_per_day": "--recommendations-per-day",
    "data_gb": "--data-gb",
    "stored_gb": "--stored-gb",
    "training_hours": "--training-hours",
    "interactions": "--interactions",
    "events_per_day": "--events-per-day",
    "users": "--users",
    "recipe": "--recipe",
    "min_provisioned_tps": "--min-tps",
    "peak_tps": "--peak-tps",
    "peak_hours_per_day": "--peak-hours",
    "trainings_per_month": "--trainings",
    "retrain_days": "--retrain-days",
    "batch_jobs_per_month": "--batch-jobs",
}
"""The estimator names a workload field; the user typed an option."""


@click.command()
@click.option(
    "--recommendations-per-day",
    type=float,
    help="Recommendation requests a day [default: the seed's].",
)
@click.option(
    "--data-gb", type=float, help="Data imported into Personalize a month [default: the seed's]."
)
@click.option("--stored-gb", type=float, help="Data kept in S3 [default: the seed's].")
@click.option(
    "--training-hours",
    type=float,
    help="Billed hours of one training run, for hour-priced recipes [default: the seed's].",
)
@click.option(
    "--interactions",
    type=float,
    help="Interactions one v2 training processes [default: --data-gb at 48 bytes a row].",
)
@click.option(
    "--events-per-day",
    type=float,
    help="Feedback events sent through PutEvents [default: one per recommendation].",
)
@click.option(
    "--users",
    type=float,
    help="Users a batch job writes a list for [default: one per daily recommendation].",
)
@click.option(
    "--batch-jobs",
    "batch_jobs_per_month",
    type=float,
    help="Batch inference jobs a month [default: 4, as often as the model retrains].",
)
@click.option("--recipe", help="Personalize recipe [default: aws-user-personalization-v2].")
@click.option("--min-tps", "min_provisioned_tps", type=int, help="minProvisionedTPS [default: 1].")
@click.option("--peak-tps", type=float, help="TPS during the daily peak [default: 0].")
@click.option(
    "--peak-hours", "peak_hours_per_day", type=float, help="Hours a day at --peak-tps [default: 0]."
)
@click.option(
    "--trainings",
    "trainings_per_month",
    type=float,
    help="Deliberate training runs a month [default: 1].",
)
@click.option(
    "--retrain-days",
    type=float,
    help="Automatic training interval in days, 0 for off [default: 7, Personalize's].",
)
@click.option("--region", help="AWS region of the prices [default: the seed's].")
@click.option("--currency", help="INR or USD [default: the seed's].")
@click.option(
    "--inr-per-usd",
    "--rate",
    "inr_per_usd",
    type=float,
    help="Rupees per US dollar [default: the price table's dated rate].",
)
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Price table TOML with the shipped table's layout [default: the shipped table].",
)
@click.option(
    "--seed",
    "seed_only",
    is_flag=True,
    help="Only the seed's own estimate, on the seed's own inputs.",
)
def cost(
    region: str | None,
    currency: str | None,
    inr_per_usd: float | None,
    prices_path: Path | None,
    seed_only: bool,
    **workload: float | int | str | None,
) -> None:
    """A month on Amazon Personalize: the seed's estimate, its corrections, three ways to run it.

    First the seed's estimate line by line with its unit prices, then each of its assumptions
    corrected with the reason, then campaign, batch and one embedded VM side by side.
    """
    from srs.aws.cost import cost_command
    from srs.aws.cost.billing import WorkloadError

    given = [name for name, value in workload.items() if value is not None]
    if seed_only and given:
        raise SRSError(
            "--seed prices the seed's own inputs; drop "
            + ", ".join(OPTION_OF_FIELD[name] for name in given)
        )
    try:
        text = cost_command(
            workload,
            region=region,
            currency=currency,
            inr_per_usd=inr_per_usd,
            prices_path=prices_path,
            seed_only=seed_only,
        )
    except WorkloadError as exc:
        raise SRSError(f"{OPTION_OF_FIELD.get(exc.field, exc.field)} {exc}") from exc
    click.echo(text, nl=False)
