"""The table ``srs cost`` prints, as rows: each figure beside the reason it differs.

The arithmetic lives in ``billing``; this module only decides which figures stand on which row
and in which column, and writes the reason beside each (the unit price and the quantity that
give it), so that a reader can redo any line by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from srs.aws.cost.billing import (
    BYTES_PER_EVENT,
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    V2_RECIPES,
    AwsBill,
    SeedBill,
    Workload,
    automatic_retrainings,
    aws_bill,
    batch_user_lists,
    billed_tps_hours,
    check_workload,
    event_gb,
    first_year,
    seed_bill,
)
from srs.aws.cost.currency import Converter, money
from srs.aws.cost.prices import Price, PriceTable, SeedFigures


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the table; amounts in the shown currency, None where a column does not apply."""

    name: str
    seed: float | None = None
    campaign: float | None = None
    batch: float | None = None
    embedded: float | None = None
    why: str = ""
    total: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Report:
    region: str
    convert: Converter
    table: PriceTable
    workload: Workload
    seed: SeedBill
    aws: AwsBill
    sections: tuple[Section, ...]
    seed_only: bool = False

    @property
    def prices(self) -> tuple[Price, ...]:
        return tuple(
            price
            for (_, region), price in sorted(self.table.prices.items())
            if region == self.region
        )


def _seed_hours_note(workload: Workload, seed: SeedFigures) -> str:
    if workload.training_hours != seed.training_hours:
        return ""
    return f" (the top of the seed's {seed.training_hours_low:g}–{seed.training_hours:g} h)"


def _seed_section(workload: Workload, bill: SeedBill, seed: SeedFigures, c: Converter) -> Section:
    def own(amount: float, decimals: int = 2) -> str:
        return money(amount, seed.currency, decimals)

    def shown(amount: float) -> float:
        return c.convert(amount, seed.currency)

    return Section(
        f"1. The seed's estimate: its unit prices ({seed.provenance.region}, {seed.currency}), "
        f"its {seed.days_per_month:g}-day month",
        (
            Line(
                "S3 storage",
                seed=shown(bill.s3),
                why=f"{workload.stored_gb:g} GB × {own(seed.s3_storage_per_gb_month)} per GB-month",
            ),
            Line(
                "Personalize data processing",
                seed=shown(bill.data_processing),
                why=f"{workload.data_gb:g} GB × {own(seed.data_processing_per_gb)} per GB "
                f"= {own(bill.data_processing, 3)}",
            ),
            Line(
                "Personalize training",
                seed=shown(bill.training),
                why=f"{workload.training_hours:g} h{_seed_hours_note(workload, seed)} × "
                f"{own(seed.training_per_hour)} per hour, one run counted in every month",
            ),
            Line(
                "Personalize inference",
                seed=shown(bill.inference),
                why=f"{workload.recommendations_per_day:,.0f} a day × {seed.days_per_month:g} days "
                f"= {bill.recommendations_per_month:,.0f} × "
                f"{own(seed.inference_per_1000_recommendations)} per 1,000",
            ),
            Line(
                "Personalize, a month",
                seed=shown(bill.personalize),
                why="data processing + training + inference",
                total=True,
            ),
            Line(
                "AWS, a month (≈)",
                seed=shown(bill.month_rounded),
                why=f"Personalize + S3 = {own(bill.month)}, rounded to the nearest "
                f"{own(seed.round_month_to, 0)}",
                total=True,
            ),
            Line(
                "First year",
                seed=shown(bill.first_year),
                why=f"{own(seed.development, 0)} development + {own(seed.initial_aws_setup, 0)} "
                f"set-up + 12 × ({own(bill.month_rounded, 0)} AWS + "
                f"{own(bill.maintenance_per_month, 0)} maintenance, the middle of "
                f"{own(seed.maintenance_low_per_month, 0)}–"
                f"{own(seed.maintenance_high_per_month, 0)})",
                total=True,
            ),
        ),
    )


def _training_arithmetic(
    workload: Workload, runs: float, table: PriceTable, region: str, c: Converter
) -> str:
    if workload.recipe in V2_RECIPES:
        price = table.price("personalize.v2_training", region)
        return (
            f"{runs:.2f} runs × {workload.interactions_per_training:,.0f} interactions × "
            f"{c.text(c.from_usd(price.first_usd), 4)} per 1,000"
        )
    price = table.price("personalize.training_hour", region)
    return (
        f"{runs:.2f} runs × {workload.training_hours:g} h × "
        f"{c.text(c.from_usd(price.first_usd))} per training hour"
    )


def _training_why(workload: Workload, table: PriceTable, region: str, c: Converter) -> str:
    arithmetic = _training_arithmetic(workload, workload.trainings_per_month, table, region, c)
    if workload.recipe in V2_RECIPES:
        return f"{workload.recipe} is priced by interactions processed, not hours: {arithmetic}"
    return f"{workload.recipe} is priced by training hour: {arithmetic}"


def _corrections_section(
    workload: Workload, seed: SeedBill, aws: AwsBill, table: PriceTable, region: str, c: Converter
) -> Section:
    def seed_shown(amount: float) -> float:
        return c.convert(amount, table.seed.currency)

    def unit(name: str, decimals: int = 2) -> str:
        return c.text(c.from_usd(table.price(name, region).first_usd), decimals)

    retrainings = automatic_retrainings(workload)
    retraining_why = (
        f"new solutions retrain every {workload.retrain_days:g} days by default, each run billed "
        f"in full: {_training_arithmetic(workload, retrainings, table, region, c)}"
        if retrainings
        else "automatic training off (--retrain-days 0)"
    )
    tps_hours = billed_tps_hours(workload)
    campaign_total = c.from_usd(aws.campaign_total)
    return Section(
        f"2. The seed's assumptions corrected, one line each: its figure, then the campaign's "
        f"({region}, the table's prices)",
        (
            Line(
                "Data ingestion (bulk import)",
                seed=seed_shown(seed.data_processing),
                campaign=c.from_usd(aws.data_ingestion),
                why=f"{workload.data_gb:g} GB × {unit('personalize.data_ingestion')} per GB",
            ),
            Line(
                "Training, deliberate runs",
                seed=seed_shown(seed.training),
                campaign=c.from_usd(aws.training),
                why=_training_why(workload, table, region, c),
            ),
            Line(
                "Automatic retraining",
                seed=0.0,
                campaign=c.from_usd(aws.retraining),
                why=retraining_why,
            ),
            Line(
                "Recommendations: campaign",
                seed=seed_shown(seed.inference),
                campaign=c.from_usd(aws.campaign),
                why=f"a campaign bills max(minProvisionedTPS {workload.min_provisioned_tps}, used "
                f"TPS) every hour it exists, even idle: {tps_hours:,.0f} TPS-h × "
                f"{unit('personalize.campaign_tps_hour')} (tiered)",
            ),
            Line(
                "Event ingestion (PutEvents)",
                seed=0.0,
                campaign=c.from_usd(aws.event_ingestion),
                why=f"feedback streamed through PutEvents is ingested data: "
                f"{workload.events * DAYS_PER_MONTH:,.0f} events × {BYTES_PER_EVENT:g} B "
                f"= {event_gb(workload):.4f} GB × {unit('personalize.data_ingestion')} per GB",
            ),
            Line(
                "S3 storage",
                seed=seed_shown(seed.s3),
                campaign=c.from_usd(aws.s3),
                why=f"{workload.stored_gb:g} GB × {unit('s3.storage', 3)} per GB-month",
            ),
            Line(
                "A month",
                seed=seed_shown(seed.month),
                campaign=campaign_total,
                why=f"{campaign_total / seed_shown(seed.month):,.0f} times the seed's sum"
                if seed.month
                else "",
                total=True,
            ),
        ),
    )


def _comparison_section(
    workload: Workload, aws: AwsBill, table: PriceTable, region: str, c: Converter
) -> Section:
    lists = batch_user_lists(workload)
    per_list = c.text(c.from_usd(table.price("personalize.batch_user_list", region).first_usd), 3)
    vm = table.price("ec2.vm", region)
    campaign_month = c.from_usd(aws.campaign_total)
    batch_month = c.from_usd(aws.batch_total)
    embedded_month = c.from_usd(aws.embedded_total)
    training = c.from_usd(aws.training + aws.retraining)
    return Section(
        f"3. The same workload three ways, a month ({region})",
        (
            Line(
                "Data and event ingestion",
                campaign=c.from_usd(aws.data_ingestion + aws.event_ingestion),
                batch=c.from_usd(aws.data_ingestion + aws.event_ingestion),
                embedded=0.0,
                why="the VM reads the prepared CSV and keeps events in SQLite",
            ),
            Line(
                "Training and retraining",
                campaign=training,
                batch=training,
                embedded=0.0,
                why="the VM trains on its own cores",
            ),
            Line(
                "Recommendations",
                campaign=c.from_usd(aws.campaign),
                batch=c.from_usd(aws.batch),
                embedded=0.0,
                why=f"batch: {workload.batch_users:,.0f} users × "
                f"{workload.batch_jobs_per_month:g} jobs = {lists:,.0f} user lists × "
                f"{per_list} per 1,000 (tiered), whatever the requests; the VM answers from memory",
            ),
            Line(
                "S3 storage",
                campaign=c.from_usd(aws.s3),
                batch=c.from_usd(aws.s3),
                embedded=0.0,
            ),
            Line(
                f"VM {vm.label}".strip(),
                embedded=c.from_usd(aws.vm),
                why=f"{HOURS_PER_MONTH:g} h × {c.text(c.from_usd(vm.first_usd), 4)} per hour",
            ),
            Line(
                "VM disk",
                embedded=c.from_usd(aws.disk),
                why=f"{table.embedded_disk_gb:g} GB × "
                f"{c.text(c.from_usd(table.price('ebs.disk', region).first_usd), 4)} per GB-month",
            ),
            Line(
                "A month",
                campaign=campaign_month,
                batch=batch_month,
                embedded=embedded_month,
                total=True,
            ),
            Line(
                "First year, the seed's way",
                campaign=first_year(campaign_month, table.seed, c),
                batch=first_year(batch_month, table.seed, c),
                embedded=first_year(embedded_month, table.seed, c),
                why="development + set-up + 12 × (a month + maintenance), as the seed counts",
                total=True,
            ),
        ),
    )


def report(
    workload: Workload, table: PriceTable, region: str, convert: Converter, seed_only: bool = False
) -> Report:
    """The whole table for ``workload``; ``seed_only`` keeps the seed's own estimate alone."""
    check_workload(workload)
    table.check_region(region)
    seed = seed_bill(workload, table.seed)
    aws = aws_bill(workload, table, region)
    sections = [_seed_section(workload, seed, table.seed, convert)]
    if not seed_only:
        sections.append(_corrections_section(workload, seed, aws, table, region, convert))
        sections.append(_comparison_section(workload, aws, table, region, convert))
    return Report(
        region=region,
        convert=convert,
        table=table,
        workload=workload,
        seed=seed,
        aws=aws,
        sections=tuple(sections),
        seed_only=seed_only,
    )
