"""Cost arithmetic: every expected figure below is worked out by hand in the comment beside it."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest

from srs.aws.cost import build_report
from srs.aws.cost.billing import (
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    Workload,
    WorkloadError,
    aws_bill,
    billed_tps_hours,
    check_workload,
    round_to,
    seed_bill,
    seed_workload,
)
from srs.aws.cost.currency import CurrencyError, converter
from srs.aws.cost.prices import (
    REQUIRED_PRICES,
    STATUSES,
    PriceTable,
    PriceTableError,
    Tier,
    load_price_table,
    parse_price_table,
    tiered_usd,
)
from srs.aws.cost.report import report

REGION = "test-1"


def flat(name: str, usd: float, unit: str = "unit") -> dict[str, Any]:
    return {
        "name": name,
        "region": REGION,
        "unit": unit,
        "usd": usd,
        "source": "test figure",
        "as_of": "2026-01-01",
        "status": "assumption",
    }


def tiered(name: str, tiers: list[dict[str, float]]) -> dict[str, Any]:
    entry = flat(name, 0.0)
    del entry["usd"]
    entry["tiers"] = tiers
    return entry


def document() -> dict[str, Any]:
    """Round figures, independent of the shipped table, so the arithmetic is checkable."""
    return {
        "exchange": {
            "inr_per_usd": 80.0,
            "source": "test rate",
            "as_of": "2026-01-01",
            "status": "assumption",
        },
        "seed": {
            "source": "the seed document",
            "as_of": "2026-12-05",
            "region": "ap-south-1",
            "currency": "INR",
            "status": "seed",
            "s3_storage_per_gb_month": 1.85,
            "data_processing_per_gb": 1.42,
            "training_per_hour": 19.77,
            "inference_per_1000_recommendations": 0.40,
            "development": 25000.0,
            "initial_aws_setup": 100.0,
            "maintenance_low_per_month": 1000.0,
            "maintenance_high_per_month": 2000.0,
            "days_per_month": 30.0,
            "round_month_to": 5.0,
            "workload": {
                "stored_gb": 1.0,
                "data_gb": 0.1,
                "training_hours_low": 2.0,
                "training_hours": 3.0,
                "recommendations_per_day": 1000.0,
            },
        },
        "embedded": {"disk_gb": 20.0},
        "price": [
            flat("personalize.data_ingestion", 0.05, "GB"),
            flat("personalize.training_hour", 0.24, "training hour"),
            flat("personalize.v2_training", 0.002, "1,000 interactions processed"),
            tiered(
                "personalize.campaign_tps_hour",
                [{"up_to": 20000, "usd": 0.20}, {"up_to": 200000, "usd": 0.10}, {"usd": 0.05}],
            ),
            tiered(
                "personalize.batch_user_list",
                [{"up_to": 20000, "usd": 0.06}, {"usd": 0.04}],
            ),
            flat("s3.storage", 0.025, "GB-month"),
            flat("ec2.vm", 0.02, "hour"),
            flat("ebs.disk", 0.1, "GB-month"),
        ],
    }


@pytest.fixture
def table() -> PriceTable:
    return parse_price_table(document(), "test table")


def workload(**changes: Any) -> Workload:
    fields: dict[str, Any] = {
        "recommendations_per_day": 0.0,
        "data_gb": 0.0,
        "stored_gb": 0.0,
        "training_hours": 0.0,
        "retrain_days": 0.0,
    }
    fields.update(changes)
    return Workload(**fields)


def usd(table: PriceTable) -> Any:
    return converter("USD", None, table.exchange)


# --- the seed's own arithmetic ---------------------------------------------------------------


def test_the_shipped_seed_figures_give_the_seeds_71_45_then_75_then_44000() -> None:
    seed = load_price_table().seed
    bill = seed_bill(seed_workload(seed), seed)
    assert bill.s3 == pytest.approx(1.85)  # 1 GB × ₹1.85
    assert bill.data_processing == pytest.approx(0.142)  # 0.1 GB × ₹1.42, written ₹0.14
    assert bill.training == pytest.approx(59.31)  # 3 h × ₹19.77
    assert bill.inference == pytest.approx(12.0)  # 1,000 × 30 days ÷ 1,000 × ₹0.40
    assert f"{bill.personalize:.2f}" == "71.45"  # 0.142 + 59.31 + 12
    assert f"{bill.month:.2f}" == "73.30"  # + S3 1.85
    assert bill.month_rounded == 75  # ≈ ₹75: to the nearest ₹5
    assert bill.maintenance_per_month == 1500  # the middle of ₹1,000–2,000
    assert bill.initial == 25100  # development 25,000 + initial set-up 100
    # 25,100 + 12 × (75 + 1,500) = 25,100 + 18,900
    assert bill.first_year == pytest.approx(44000)


def test_the_seeds_method_scales_its_per_recommendation_inference(table: PriceTable) -> None:
    seed = table.seed
    bill = seed_bill(
        Workload(recommendations_per_day=50_000, data_gb=0.1, stored_gb=1, training_hours=3), seed
    )
    assert bill.inference == pytest.approx(600.0)  # 50,000 × 30 ÷ 1,000 × ₹0.40
    assert bill.month_rounded == 660  # 0.142 + 59.31 + 600 + 1.85 = 661.30
    assert bill.first_year == pytest.approx(25100 + 12 * (660 + 1500))


@pytest.mark.parametrize(
    ("amount", "rounded"), [(73.30, 75), (72.49, 70), (72.5, 75), (661.3, 660), (0.0, 0)]
)
def test_totals_round_half_up_to_the_step(amount: float, rounded: float) -> None:
    assert round_to(amount, 5) == rounded


# --- the corrections -------------------------------------------------------------------------


def test_an_idle_campaign_bills_its_minimum_tps_every_hour(table: PriceTable) -> None:
    idle = workload()
    assert billed_tps_hours(idle) == pytest.approx(HOURS_PER_MONTH)  # 730 h × max(1, 0)
    assert aws_bill(idle, table, REGION).campaign == pytest.approx(146.0)  # 730 × $0.20
    assert billed_tps_hours(workload(min_provisioned_tps=5)) == pytest.approx(3650)  # 730 × 5


def test_peak_hours_bill_the_peak_and_quiet_hours_the_floor() -> None:
    # 10 TPS for 2 h = 72,000 requests; 39,600 more over 22 h = 0.5 TPS, billed at the floor 1.
    peaky = workload(recommendations_per_day=111_600, peak_tps=10, peak_hours_per_day=2)
    # (2 × 10 + 22 × 1) TPS-h a day × 730/24 days = 1,277.5 TPS-h
    assert billed_tps_hours(peaky) == pytest.approx(1277.5)


def test_the_seed_workload_on_a_campaign_is_the_floor_not_its_requests(table: PriceTable) -> None:
    seed = seed_workload(table.seed)
    # 1,000 a day is 0.012 TPS: every hour bills the floor of 1 TPS.
    assert billed_tps_hours(seed) == pytest.approx(HOURS_PER_MONTH)
    bill = aws_bill(seed, table, REGION)
    assert bill.campaign == pytest.approx(146.0)
    assert bill.campaign > 100 * seed_bill(seed, table.seed).inference / 80  # the seed's ₹12


def test_automatic_retraining_bills_a_run_every_interval(table: PriceTable) -> None:
    on = workload(training_hours=2, recipe="aws-user-personalization", retrain_days=7)
    bill = aws_bill(on, table, REGION)
    # 730/24 days ÷ 7 = 4.345 runs × 2 h × $0.24
    assert bill.retraining == pytest.approx(HOURS_PER_MONTH / 24 / 7 * 2 * 0.24)
    assert aws_bill(workload(training_hours=2, retrain_days=0), table, REGION).retraining == 0


def test_the_v2_recipe_is_priced_by_interactions_processed_not_hours(table: PriceTable) -> None:
    v2 = workload(interactions=5_000_000, training_hours=3)
    # 5,000,000 ÷ 1,000 × $0.002, however many hours the run takes
    assert aws_bill(v2, table, REGION).training == pytest.approx(10.0)
    longer = workload(interactions=5_000_000, training_hours=30)
    assert aws_bill(longer, table, REGION).training == pytest.approx(10.0)
    doubled = workload(interactions=10_000_000, training_hours=3)
    assert aws_bill(doubled, table, REGION).training == pytest.approx(20.0)
    # an hour-priced recipe: 3 h × $0.24, whatever the interactions
    v1 = workload(interactions=5_000_000, training_hours=3, recipe="aws-user-personalization")
    assert aws_bill(v1, table, REGION).training == pytest.approx(0.72)


def test_interactions_default_to_the_data_size_at_a_prepared_row_each(table: PriceTable) -> None:
    derived = workload(data_gb=0.096)
    # 0.096 GB ÷ 48 bytes a row = 2,000,000 interactions × $0.002 per 1,000
    assert derived.interactions_per_training == pytest.approx(2_000_000)
    assert aws_bill(derived, table, REGION).training == pytest.approx(4.0)


def test_events_sent_through_put_events_are_billed_as_ingested_data(table: PriceTable) -> None:
    streaming = workload(recommendations_per_day=5000, events_per_day=100_000)
    # 100,000 × 730/24 days × 200 B = 0.6083 GB × $0.05
    expected = 100_000 * DAYS_PER_MONTH * 200 / 1e9 * 0.05
    assert aws_bill(streaming, table, REGION).event_ingestion == pytest.approx(expected)
    # one event per recommendation when not given
    default = workload(recommendations_per_day=100_000)
    assert aws_bill(default, table, REGION).event_ingestion == pytest.approx(expected)


def test_batch_is_priced_per_user_list_per_job_not_per_request(table: PriceTable) -> None:
    weekly = workload(recommendations_per_day=1_000_000, users=1000, batch_jobs_per_month=4)
    # 1,000 users × 4 jobs = 4,000 lists = 4 thousand × $0.06, whatever the requests
    assert aws_bill(weekly, table, REGION).batch == pytest.approx(0.24)
    daily = workload(recommendations_per_day=10, users=1000, batch_jobs_per_month=30)
    assert aws_bill(daily, table, REGION).batch == pytest.approx(30 * 0.06)
    # past the first tier: 30,000 thousand lists = 20,000 × 0.06 + 10,000 × 0.04
    many = workload(users=1_000_000, batch_jobs_per_month=30)
    assert aws_bill(many, table, REGION).batch == pytest.approx(1200 + 400)


@pytest.mark.parametrize("prices", ["test", "shipped"])
def test_a_million_a_day_costs_less_in_batch_than_on_a_campaign(
    table: PriceTable, prices: str
) -> None:
    used = table if prices == "test" else load_price_table()
    region = REGION if prices == "test" else "ap-south-1"
    million = with_seed_defaults(used, recommendations_per_day=1_000_000)
    bill = aws_bill(million, used, region)
    # the campaign: 1,000,000 ÷ 86,400 = 11.57 TPS × 730 h = 8,449 TPS-h × $0.20
    assert bill.campaign == pytest.approx(1e6 / 86400 * HOURS_PER_MONTH * 0.2)
    assert bill.batch < bill.campaign
    assert bill.batch_total < bill.campaign_total


def with_seed_defaults(table: PriceTable, **changes: Any) -> Workload:
    seed = seed_workload(table.seed)
    return Workload(
        **{
            "recommendations_per_day": seed.recommendations_per_day,
            "data_gb": seed.data_gb,
            "stored_gb": seed.stored_gb,
            "training_hours": seed.training_hours,
            **changes,
        }
    )


def test_the_embedded_column_is_one_vm_and_its_disk(table: PriceTable) -> None:
    bill = aws_bill(workload(recommendations_per_day=1_000_000), table, REGION)
    assert bill.embedded_total == pytest.approx(730 * 0.02 + 20 * 0.1)  # VM + 20 GB disk


# --- the report ------------------------------------------------------------------------------


def test_the_report_has_the_seed_then_its_corrections_then_three_columns(
    table: PriceTable,
) -> None:
    result = report(seed_workload(table.seed), table, REGION, usd(table))
    seed_section, corrections, comparison = result.sections
    assert "seed's estimate" in seed_section.title
    why = {line.name: line.why for line in corrections.lines}
    assert "max(minProvisionedTPS 1, used TPS) every hour" in why["Recommendations: campaign"]
    assert "even idle" in why["Recommendations: campaign"]
    assert "retrain every 7 days" in why["Automatic retraining"]
    assert "priced by interactions processed, not hours" in why["Training, deliberate runs"]
    assert "PutEvents" in why["Event ingestion (PutEvents)"]
    month = comparison.lines[-2]
    assert month.name == "A month"
    assert None not in (month.campaign, month.batch, month.embedded)
    assert month.seed is None


def test_corrections_compare_each_line_with_the_seeds_own(table: PriceTable) -> None:
    result = report(seed_workload(table.seed), table, REGION, usd(table))
    lines = {line.name: line for line in result.sections[1].lines}
    campaign = lines["Recommendations: campaign"]
    assert campaign.seed == pytest.approx(12.0 / 80)  # the seed's ₹12 at 80 per USD
    assert campaign.campaign == pytest.approx(146.0)
    total = lines["A month"]
    assert total.seed == pytest.approx(73.302 / 80)
    assert total.campaign == pytest.approx(result.aws.campaign_total)


def test_the_first_year_is_counted_the_seeds_way_for_each_column(table: PriceTable) -> None:
    inr = converter("INR", None, table.exchange)
    result = report(seed_workload(table.seed), table, REGION, inr)
    first_year = result.sections[2].lines[-1]
    embedded_month = (730 * 0.02 + 20 * 0.1) * 80  # $16.60 at ₹80
    # 25,100 + 12 × (month + 1,500)
    assert first_year.embedded == pytest.approx(25100 + 12 * (embedded_month + 1500))


def test_the_seed_alone_leaves_out_the_corrections(table: PriceTable) -> None:
    result = report(seed_workload(table.seed), table, REGION, usd(table), seed_only=True)
    assert len(result.sections) == 1


def test_build_report_defaults_to_the_seeds_region_and_currency() -> None:
    result = build_report(load_price_table(), {})
    assert result.region == "ap-south-1" and result.convert.currency == "INR"
    assert result.convert.inr_per_usd == load_price_table().exchange.inr_per_usd


# --- currency --------------------------------------------------------------------------------


def test_rupees_and_dollars_convert_through_one_rate(table: PriceTable) -> None:
    inr = converter("inr", None, table.exchange)
    assert inr.from_usd(2.0) == 160.0 and inr.from_inr(5.0) == 5.0
    given = converter("USD", 90.0, table.exchange)
    assert given.from_inr(90.0) == 1.0 and given.rate_given
    with pytest.raises(CurrencyError, match="currency must be one of INR, USD, got 'EUR'"):
        converter("EUR", None, table.exchange)
    with pytest.raises(CurrencyError, match="must be a number > 0, got -1"):
        converter("INR", -1.0, table.exchange)


# --- the price table -------------------------------------------------------------------------


def test_every_shipped_figure_names_its_source_date_and_region() -> None:
    shipped = load_price_table()
    assert set(shipped.regions) >= {"ap-south-1", "us-east-1"}
    for (name, region), price in shipped.prices.items():
        assert price.provenance.region == region
        assert price.provenance.source.strip()
        assert price.provenance.status in STATUSES
        date.fromisoformat(price.provenance.as_of)
        assert name in REQUIRED_PRICES
    rate = shipped.exchange
    assert rate.inr_per_usd > 0 and rate.provenance.source.strip()
    date.fromisoformat(rate.provenance.as_of)
    assert shipped.seed.provenance.status == "seed"


def test_tiers_price_each_slice_at_its_own_rate() -> None:
    tiers = [Tier(20000, 0.2), Tier(200000, 0.1), Tier(None, 0.05)]
    assert tiered_usd(0, tiers) == 0
    assert tiered_usd(100, tiers) == pytest.approx(20.0)
    assert tiered_usd(25000, tiers) == pytest.approx(4500.0)  # 20,000 × 0.2 + 5,000 × 0.1
    # 20,000 × 0.2 + 180,000 × 0.1 + 50,000 × 0.05
    assert tiered_usd(250000, tiers) == pytest.approx(24500.0)


def broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["exchange"].pop("as_of"), r"\[exchange\]: 'as_of' must be a non-empty"),
        (lambda d: d["exchange"].update(as_of="late 2024"), "must be a date YYYY-MM-DD"),
        (
            lambda d: d["exchange"].update(inr_per_usd=0),
            "'inr_per_usd' must be a finite number > 0",
        ),
        (lambda d: d["price"][0].update(status="guess"), "'status' must be one of"),
        (lambda d: d["price"][0].pop("source"), "'source' must be a non-empty string"),
        (lambda d: d["price"][1].update(usd="cheap"), "'usd' must be a number, got 'cheap'"),
        (lambda d: d["price"].pop(2), "region test-1 lacks personalize.v2_training"),
        (lambda d: d["price"].append(d["price"][0]), "appears twice for test-1"),
        (
            lambda d: d["price"][3].update(tiers=[{"usd": 0.1}, {"usd": 0.2}]),
            "only the last tier may omit 'up_to'",
        ),
        (lambda d: d["seed"].pop("training_per_hour"), r"\[seed\]: 'training_per_hour'"),
    ],
)
def test_a_bad_price_table_names_the_table_and_the_key(change: Any, message: str) -> None:
    with pytest.raises(PriceTableError, match=message) as raised:
        parse_price_table(broken(change), "my table")
    assert str(raised.value).startswith("my table")


def test_an_unpriced_region_is_named_with_the_regions_there_are(table: PriceTable) -> None:
    with pytest.raises(PriceTableError, match=r"no prices for region 'eu-west-9'; it has test-1"):
        report(workload(), table, "eu-west-9", usd(table))


def test_an_unreadable_price_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text("[exchange\n", encoding="utf-8")
    with pytest.raises(PriceTableError, match=f"price table {bad}: not valid TOML"):
        load_price_table(bad)
    with pytest.raises(PriceTableError, match="cannot read"):
        load_price_table(tmp_path / "missing.toml")


# --- workload checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"data_gb": -1.0}, "data_gb", "must be a number >= 0, got -1"),
        ({"users": -5.0}, "users", "must be a number >= 0"),
        ({"recommendations_per_day": float("nan")}, "recommendations_per_day", ">= 0"),
        ({"min_provisioned_tps": 0}, "min_provisioned_tps", "must be >= 1"),
        ({"retrain_days": 45.0}, "retrain_days", "0 \\(off\\) or 1 to 30 days"),
        ({"recipe": "aws-sims"}, "recipe", "must be one of"),
        ({"peak_hours_per_day": 25.0}, "peak_hours_per_day", "must be <= 24"),
        ({"peak_tps": 100.0, "peak_hours_per_day": 1.0}, "peak_tps", "more than the 10"),
    ],
)
def test_a_bad_workload_names_its_field(changes: dict[str, Any], field: str, message: str) -> None:
    fields: dict[str, Any] = {"recommendations_per_day": 10.0}
    fields.update(changes)
    with pytest.raises(WorkloadError, match=message) as raised:
        check_workload(workload(**fields))
    assert raised.value.field == field


def test_every_shipped_region_has_personalize_in_botocores_endpoint_data() -> None:
    available = set(boto3.session.Session().get_available_regions("personalize"))
    assert set(load_price_table().regions) <= available
