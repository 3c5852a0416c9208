"""The arithmetic of ``srs cost``: the seed's estimate as it computes it, then the bill AWS sends.

The seed design document prices Amazon Personalize like a metered API (so much per thousand
recommendations, one training run a month) and lands on a small monthly figure. Reproducing its
arithmetic first, line by line, makes every later correction a visible change to one of its
lines rather than a second, unrelated number. The corrections are the ways the real bill
differs: a campaign bills provisioned capacity every hour whether asked or not, new solutions
retrain on a schedule, the v2 recipes are priced by the interactions they read, and streamed
events are ingested data. Last, the same workload is priced three ways (campaign, batch, one VM)
so the choice between them is made on the same inputs.

Everything here is pure: a workload and a checked price table in, numbers out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from srs.aws.cost.currency import Converter
from srs.aws.cost.prices import Price, PriceTable, SeedFigures, tiered_usd
from srs.errors import SRSError

HOURS_PER_MONTH = 730.0
"""AWS bills a month as a twelfth of a year's hours, not as a calendar month."""
DAYS_PER_MONTH = HOURS_PER_MONTH / 24.0
SECONDS_PER_HOUR = 3600.0
MONTHS_PER_YEAR = 12

BYTES_PER_INTERACTION = 48.0
"""One row of the prepared interactions CSV, so that a data size gives an interaction count
when the count is not given."""
BYTES_PER_EVENT = 200.0
"""One PutEvents event as sent (user, session, item, type, value, time as JSON): ingestion is
billed by the byte, and this is the size that turns an event count into gigabytes."""
DEFAULT_BATCH_JOBS_PER_MONTH = 4.0
"""A batch list is only as fresh as the model behind it, and the model retrains weekly by
default, so a weekly job is the natural cadence."""

LARGEST_FIGURE = 1e12
"""Beyond this a month's sums overflow or lose their cents, and no real workload comes near it."""

V2_RECIPES = ("aws-user-personalization-v2", "aws-personalized-ranking-v2")
"""Recipes whose training is priced by interactions processed, not by training hours."""
HOUR_RECIPES = ("aws-user-personalization", "aws-personalized-ranking")
RECIPES = V2_RECIPES + HOUR_RECIPES


class WorkloadError(SRSError):
    """A workload figure is out of range; ``field`` names it so a CLI can name its option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Workload:
    """What a month asks of the recommender.

    ``peak_tps`` holds for ``peak_hours_per_day`` hours a day and the rest of the day's requests
    spread evenly over the other hours. ``interactions``, ``events_per_day`` and ``users`` are
    derived when left out: from the data size, from one feedback event per recommendation, and
    from one user per daily recommendation (the most user lists a batch job could need).
    A ``retrain_days`` of zero means automatic training is off.
    """

    recommendations_per_day: float
    data_gb: float
    stored_gb: float
    training_hours: float
    interactions: float | None = None
    events_per_day: float | None = None
    users: float | None = None
    recipe: str = V2_RECIPES[0]
    min_provisioned_tps: int = 1
    peak_tps: float = 0.0
    peak_hours_per_day: float = 0.0
    trainings_per_month: float = 1.0
    retrain_days: float = 7.0
    batch_jobs_per_month: float = DEFAULT_BATCH_JOBS_PER_MONTH

    @property
    def interactions_per_training(self) -> float:
        if self.interactions is not None:
            return self.interactions
        return self.data_gb * 1e9 / BYTES_PER_INTERACTION

    @property
    def events(self) -> float:
        return self.recommendations_per_day if self.events_per_day is None else self.events_per_day

    @property
    def batch_users(self) -> float:
        return self.recommendations_per_day if self.users is None else self.users


def seed_workload(seed: SeedFigures) -> Workload:
    """The workload the seed document priced, with every other figure at its default."""
    return Workload(
        recommendations_per_day=seed.recommendations_per_day,
        data_gb=seed.data_gb,
        stored_gb=seed.stored_gb,
        training_hours=seed.training_hours,
    )


def check_workload(workload: Workload) -> Workload:
    non_negative = {
        "recommendations_per_day": workload.recommendations_per_day,
        "data_gb": workload.data_gb,
        "stored_gb": workload.stored_gb,
        "training_hours": workload.training_hours,
        "interactions": workload.interactions,
        "events_per_day": workload.events_per_day,
        "users": workload.users,
        "peak_tps": workload.peak_tps,
        "peak_hours_per_day": workload.peak_hours_per_day,
        "trainings_per_month": workload.trainings_per_month,
        "retrain_days": workload.retrain_days,
        "batch_jobs_per_month": workload.batch_jobs_per_month,
    }
    for name, value in non_negative.items():
        if value is not None and (not math.isfinite(value) or value < 0):
            raise WorkloadError(name, f"must be a number >= 0, got {value:g}")
        if value is not None and value > LARGEST_FIGURE:
            raise WorkloadError(name, f"must be at most {LARGEST_FIGURE:g}, got {value:g}")
    if workload.recipe not in RECIPES:
        raise WorkloadError(
            "recipe", f"must be one of {', '.join(RECIPES)}, got {workload.recipe!r}"
        )
    if workload.min_provisioned_tps > LARGEST_FIGURE:
        raise WorkloadError(
            "min_provisioned_tps",
            f"must be at most {LARGEST_FIGURE:g}, got {workload.min_provisioned_tps:g}",
        )
    if workload.min_provisioned_tps < 1:
        raise WorkloadError(
            "min_provisioned_tps",
            f"must be >= 1 (Personalize's minimum), got {workload.min_provisioned_tps}",
        )
    if workload.peak_hours_per_day > 24:
        raise WorkloadError(
            "peak_hours_per_day", f"must be <= 24, got {workload.peak_hours_per_day:g}"
        )
    if workload.retrain_days and not 1 <= workload.retrain_days <= 30:
        raise WorkloadError(
            "retrain_days",
            f"must be 0 (off) or 1 to 30 days (Personalize's range), got {workload.retrain_days:g}",
        )
    peak_requests = workload.peak_tps * SECONDS_PER_HOUR * workload.peak_hours_per_day
    if peak_requests > workload.recommendations_per_day:
        raise WorkloadError(
            "peak_tps",
            f"{workload.peak_tps:g} TPS for {workload.peak_hours_per_day:g} h is "
            f"{peak_requests:,.0f} requests, more than the {workload.recommendations_per_day:,.0f} "
            "recommendations a day",
        )
    return workload


def round_to(amount: float, step: float) -> float:
    """Round half up to a multiple of ``step``, as a person rounds a total to a round figure."""
    return math.floor(amount / step + 0.5) * step


@dataclass(frozen=True, slots=True)
class SeedBill:
    """The seed's estimate in its own currency, each figure as the seed computes it."""

    s3: float
    data_processing: float
    training: float
    inference: float
    recommendations_per_month: float
    maintenance_per_month: float
    initial: float
    month_rounded: float
    first_year: float

    @property
    def personalize(self) -> float:
        return self.data_processing + self.training + self.inference

    @property
    def month(self) -> float:
        return self.personalize + self.s3


def seed_bill(workload: Workload, seed: SeedFigures) -> SeedBill:
    """The seed's arithmetic on ``workload``: its unit prices, its month of whole days, its one
    training run counted every month, its rounded total, and its first year of development plus
    twelve months of AWS and the middle of its maintenance range."""
    recommendations = workload.recommendations_per_day * seed.days_per_month
    s3 = workload.stored_gb * seed.s3_storage_per_gb_month
    data = workload.data_gb * seed.data_processing_per_gb
    training = workload.training_hours * seed.training_per_hour
    inference = recommendations / 1000.0 * seed.inference_per_1000_recommendations
    month_rounded = round_to(data + training + inference + s3, seed.round_month_to)
    maintenance = (seed.maintenance_low_per_month + seed.maintenance_high_per_month) / 2.0
    initial = seed.development + seed.initial_aws_setup
    return SeedBill(
        s3=s3,
        data_processing=data,
        training=training,
        inference=inference,
        recommendations_per_month=recommendations,
        maintenance_per_month=maintenance,
        initial=initial,
        month_rounded=month_rounded,
        first_year=initial + MONTHS_PER_YEAR * (month_rounded + maintenance),
    )


def billed_tps_hours(workload: Workload) -> float:
    """TPS-hours a campaign bills in a month: every hour at max(minProvisionedTPS, used TPS)."""
    floor = float(workload.min_provisioned_tps)
    peak_hours = workload.peak_hours_per_day
    other_hours = 24.0 - peak_hours
    peak_requests = workload.peak_tps * SECONDS_PER_HOUR * peak_hours
    other_tps = (
        (workload.recommendations_per_day - peak_requests) / (SECONDS_PER_HOUR * other_hours)
        if other_hours > 0
        else 0.0
    )
    per_day = peak_hours * max(floor, workload.peak_tps) + other_hours * max(floor, other_tps)
    return per_day * DAYS_PER_MONTH


def automatic_retrainings(workload: Workload) -> float:
    """Automatic runs a month; Personalize skips one only when no new data arrived, and a
    workload that streams events always has new data."""
    return DAYS_PER_MONTH / workload.retrain_days if workload.retrain_days else 0.0


def batch_user_lists(workload: Workload) -> float:
    """Lists a month of batch jobs writes: one per input user per job, however long the list."""
    return workload.batch_users * workload.batch_jobs_per_month


def event_gb(workload: Workload) -> float:
    return workload.events * DAYS_PER_MONTH * BYTES_PER_EVENT / 1e9


@dataclass(frozen=True, slots=True)
class AwsBill:
    """One month of the workload on AWS and on one VM, in US dollars, line by line."""

    data_ingestion: float
    event_ingestion: float
    training: float
    retraining: float
    campaign: float
    batch: float
    s3: float
    vm: float
    disk: float

    @property
    def campaign_total(self) -> float:
        return self._personalize_common + self.campaign

    @property
    def batch_total(self) -> float:
        return self._personalize_common + self.batch

    @property
    def embedded_total(self) -> float:
        return self.vm + self.disk

    @property
    def _personalize_common(self) -> float:
        return (
            self.data_ingestion + self.event_ingestion + self.training + self.retraining + self.s3
        )


def training_usd(workload: Workload, runs: float, table: PriceTable, region: str) -> float:
    if workload.recipe in V2_RECIPES:
        price = table.price("personalize.v2_training", region)
        return runs * tiered_usd(workload.interactions_per_training / 1000.0, price.tiers)
    price = table.price("personalize.training_hour", region)
    return tiered_usd(runs * workload.training_hours, price.tiers)


def aws_bill(workload: Workload, table: PriceTable, region: str) -> AwsBill:
    def price(name: str) -> Price:
        return table.price(name, region)

    return AwsBill(
        data_ingestion=tiered_usd(workload.data_gb, price("personalize.data_ingestion").tiers),
        event_ingestion=tiered_usd(event_gb(workload), price("personalize.data_ingestion").tiers),
        training=training_usd(workload, workload.trainings_per_month, table, region),
        retraining=training_usd(workload, automatic_retrainings(workload), table, region),
        campaign=tiered_usd(
            billed_tps_hours(workload), price("personalize.campaign_tps_hour").tiers
        ),
        batch=tiered_usd(
            batch_user_lists(workload) / 1000.0, price("personalize.batch_user_list").tiers
        ),
        s3=tiered_usd(workload.stored_gb, price("s3.storage").tiers),
        vm=tiered_usd(HOURS_PER_MONTH, price("ec2.vm").tiers),
        disk=tiered_usd(table.embedded_disk_gb, price("ebs.disk").tiers),
    )


def first_year(month: float, seed: SeedFigures, convert: Converter) -> float:
    """A first year counted the seed's way, on another month's figure, in the shown currency."""
    maintenance = (seed.maintenance_low_per_month + seed.maintenance_high_per_month) / 2.0
    initial = seed.development + seed.initial_aws_setup
    return convert.convert(initial, seed.currency) + MONTHS_PER_YEAR * (
        month + convert.convert(maintenance, seed.currency)
    )


def with_defaults(workload: Workload, **changes: float | int | str | None) -> Workload:
    """``workload`` with the given fields replaced and the ``None`` ones left as they are."""
    given: dict[str, Any] = {key: value for key, value in changes.items() if value is not None}
    return replace(workload, **given)
