"""Cost estimator: every expected figure below is worked out by hand in the comment beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srs.aws.cost import (
    HOURS_PER_MONTH,
    PriceTable,
    PriceTableError,
    Tier,
    Workload,
    WorkloadError,
    cost_command,
    estimate,
    load_price_table,
    parse_price_table,
    tiered_amount,
)


def table_document() -> dict[str, Any]:
    """Round figures, independent of the shipped table, so the arithmetic is checkable."""
    return {
        "source": {"name": "test figures", "as_of": "2026-01-01", "region": "us-east-1"},
        "personalize": {
            "data_ingestion_per_gb": 0.05,
            "training_per_hour": 0.24,
            "realtime_tps_hour_tiers": [
                {"up_to": 20000, "price": 0.20},
                {"up_to": 200000, "price": 0.10},
                {"price": 0.05},
            ],
            "batch_per_1000_tiers": [{"up_to": 20000, "price": 0.06}, {"price": 0.04}],
        },
        "s3": {"storage_per_gb_month": 0.025},
        "embedded": {
            "vm_name": "small",
            "vm_per_hour": 0.02,
            "disk_per_gb_month": 0.1,
            "disk_gb": 20,
        },
        "currency": {"usd_to_inr": 80.0},
    }


@pytest.fixture
def prices() -> PriceTable:
    return parse_price_table(table_document(), "test table")


def by_name(items: Any, prefix: str) -> Any:
    matches = [item for item in items if item.name.startswith(prefix)]
    assert len(matches) == 1, [item.name for item in items]
    return matches[0]


def test_tiers_price_each_slice_at_its_own_rate() -> None:
    tiers = [Tier(20000, 0.2), Tier(200000, 0.1), Tier(None, 0.05)]
    assert tiered_amount(0, tiers) == 0
    assert tiered_amount(100, tiers) == pytest.approx(20.0)
    # 20000 × 0.2 + 5000 × 0.1
    assert tiered_amount(25000, tiers) == pytest.approx(4500.0)
    # 20000 × 0.2 + 180000 × 0.1 + 50000 × 0.05
    assert tiered_amount(250000, tiers) == pytest.approx(24500.0)


def test_idle_campaign_bills_its_minimum_tps_every_hour(prices: PriceTable) -> None:
    workload = Workload(
        data_gb=2, training_hours=3, recommendations_per_day=0, automatic_retraining=False
    )
    result = estimate(workload, prices)
    naive_tps = by_name(result.naive, "Real-time")
    assert naive_tps.quantity == 0 and naive_tps.amount == 0
    campaign = by_name(result.corrected, "Real-time")
    # 730 h × max(1, 0) TPS = 730 TPS-h × $0.20
    assert campaign.quantity == pytest.approx(730.0)
    assert campaign.amount == pytest.approx(146.0)
    # the naive bill: 2 GB × 0.05 + 3 h × 0.24
    assert result.naive_total == pytest.approx(0.10 + 0.72)
    # corrected: the same + campaign 146 + S3 2 GB × 0.025
    assert result.corrected_total == pytest.approx(0.10 + 0.72 + 146.0 + 0.05)


def test_peak_hours_bill_the_peak_and_quiet_hours_the_floor(prices: PriceTable) -> None:
    # 10 TPS for 2 h = 72000 requests; 39600 more over 22 h = 0.5 TPS, billed at the floor 1.
    workload = Workload(
        data_gb=0,
        training_hours=0,
        recommendations_per_day=111600,
        peak_tps=10,
        peak_hours_per_day=2,
        automatic_retraining=False,
    )
    result = estimate(workload, prices)
    campaign = by_name(result.corrected, "Real-time")
    # (2 × 10 + 22 × 1) TPS-h a day × 730/24 days = 1277.5 TPS-h × 0.20
    assert campaign.quantity == pytest.approx(1277.5)
    assert campaign.amount == pytest.approx(255.5)
    naive = by_name(result.naive, "Real-time")
    # 111600 × 730/24 requests ÷ 3600 = 942.916… TPS-h
    assert naive.quantity == pytest.approx(111600 * 730 / 24 / 3600)
    assert naive.amount == pytest.approx(111600 * 730 / 24 / 3600 * 0.2)


def test_min_provisioned_tps_raises_the_floor(prices: PriceTable) -> None:
    workload = Workload(
        data_gb=0,
        training_hours=0,
        recommendations_per_day=0,
        min_provisioned_tps=5,
        automatic_retraining=False,
        campaign_hours=100,
    )
    campaign = by_name(estimate(workload, prices).corrected, "Real-time")
    # 100 h × 5 TPS = 500 TPS-h × 0.20
    assert campaign.quantity == pytest.approx(500.0)
    assert campaign.amount == pytest.approx(100.0)


def test_automatic_retraining_adds_a_run_every_interval(prices: PriceTable) -> None:
    workload = Workload(
        data_gb=0, training_hours=2, recommendations_per_day=0, retraining_interval_days=7
    )
    result = estimate(workload, prices)
    retraining = by_name(result.corrected, "Automatic retraining")
    # 730/24 days ÷ 7 = 4.345 runs × 2 h = 8.690 h × 0.24
    assert retraining.quantity == pytest.approx(730 / 24 / 7 * 2)
    assert retraining.amount == pytest.approx(730 / 24 / 7 * 2 * 0.24)
    assert not [item for item in result.naive if item.name.startswith("Automatic")]


def test_batch_mode_prices_thousands_of_recommendations_and_no_campaign(
    prices: PriceTable,
) -> None:
    workload = Workload(
        data_gb=0,
        training_hours=0,
        recommendations_per_day=1_000_000,
        mode="batch",
        automatic_retraining=False,
    )
    result = estimate(workload, prices)
    batch = by_name(result.corrected, "Batch")
    # 1e6 × 730/24 = 30416.67 thousand: 20000 × 0.06 + 10416.67 × 0.04
    assert batch.quantity == pytest.approx(1e6 * 730 / 24 / 1000)
    assert batch.amount == pytest.approx(1200 + (1e6 * 730 / 24 / 1000 - 20000) * 0.04)
    assert not [item for item in result.corrected if item.name.startswith("Real-time")]


def test_embedded_default_is_one_vm_and_its_disk(prices: PriceTable) -> None:
    workload = Workload(data_gb=1, training_hours=1, recommendations_per_day=1000)
    result = estimate(workload, prices)
    # 730 h × 0.02 + 20 GB × 0.1
    assert result.embedded_total == pytest.approx(14.6 + 2.0)


def test_inr_converts_every_amount_at_the_given_rate(prices: PriceTable) -> None:
    workload = Workload(data_gb=2, training_hours=3, recommendations_per_day=500)
    usd = estimate(workload, prices)
    inr = estimate(workload, prices, currency="inr", rate=90.0)
    assert inr.currency == "INR" and inr.rate == 90.0
    assert inr.corrected_total == pytest.approx(usd.corrected_total * 90)
    assert inr.embedded_total == pytest.approx(usd.embedded_total * 90)
    default_rate = estimate(workload, prices, currency="INR")
    assert default_rate.naive_total == pytest.approx(usd.naive_total * 80)


@pytest.mark.parametrize(
    ("changes", "currency", "rate", "message"),
    [
        ({"data_gb": -1.0}, "USD", None, "'data_gb' must be a number >= 0"),
        ({"min_provisioned_tps": 0}, "USD", None, "'min_provisioned_tps' must be >= 1"),
        ({"peak_tps": 100.0, "peak_hours_per_day": 1.0}, "USD", None, "more than"),
        ({"campaign_hours": 800.0}, "USD", None, "'campaign_hours' must be <= 730"),
        ({}, "EUR", None, "currency must be one of USD, INR"),
        ({}, "USD", 80.0, "a rate applies to INR only"),
        ({}, "INR", -1.0, "rate must be"),
    ],
)
def test_bad_workload_is_named(
    prices: PriceTable, changes: dict[str, Any], currency: str, rate: float | None, message: str
) -> None:
    fields: dict[str, Any] = {
        "data_gb": 1.0,
        "training_hours": 1.0,
        "recommendations_per_day": 10.0,
    }
    fields.update(changes)
    with pytest.raises(WorkloadError, match=message):
        estimate(Workload(**fields), prices, currency=currency, rate=rate)


def test_bad_price_table_names_the_table_and_the_key() -> None:
    document = table_document()
    document["personalize"]["training_per_hour"] = "cheap"
    with pytest.raises(PriceTableError, match=r"my table: 'training_per_hour' must be a number"):
        parse_price_table(document, "my table")
    document = table_document()
    del document["source"]["as_of"]
    with pytest.raises(PriceTableError, match="'as_of'"):
        parse_price_table(document, "my table")
    document = table_document()
    document["personalize"]["realtime_tps_hour_tiers"] = [{"price": 0.1}, {"price": 0.2}]
    with pytest.raises(PriceTableError, match="only the last tier may omit 'up_to'"):
        parse_price_table(document, "my table")


def test_unreadable_price_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "prices.toml"
    broken.write_text("[source\n", encoding="utf-8")
    with pytest.raises(PriceTableError, match=f"price table {broken}: not valid TOML"):
        load_price_table(broken)
    with pytest.raises(PriceTableError, match="cannot read"):
        load_price_table(tmp_path / "missing.toml")


def test_shipped_table_names_its_source_and_date() -> None:
    shipped = load_price_table()
    assert "personalize" in shipped.source.lower()
    assert any("aws.amazon.com/personalize/pricing" in url for url in shipped.urls)
    assert shipped.as_of
    assert shipped.training_per_hour > 0 and shipped.vm_per_hour > 0


def test_rendered_estimate_shows_the_three_bills_and_what_the_naive_one_misses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        "\n".join(
            [
                "[source]",
                'name = "test figures"',
                'as_of = "2026-01-01"',
                "[personalize]",
                "data_ingestion_per_gb = 0.05",
                "training_per_hour = 0.24",
                "[[personalize.realtime_tps_hour_tiers]]",
                "price = 0.2",
                "[[personalize.batch_per_1000_tiers]]",
                "price = 0.06",
                "[s3]",
                "storage_per_gb_month = 0.025",
                "[embedded]",
                'vm_name = "small"',
                "vm_per_hour = 0.02",
                "disk_per_gb_month = 0.1",
                "disk_gb = 20",
                "[currency]",
                "usd_to_inr = 80.0",
            ]
        ),
        encoding="utf-8",
    )
    workload = Workload(
        data_gb=0, training_hours=0, recommendations_per_day=0, automatic_retraining=False
    )
    text = cost_command(workload, prices_path=path)
    assert "test figures" in text and "as of 2026-01-01" in text and "NOT CHECKED" in text
    assert "Naive estimate" in text and "corrected" in text and "Embedded default" in text
    # The idle campaign is the whole difference: 730 TPS-h × $0.20.
    assert f"misses ${HOURS_PER_MONTH * 0.2:,.2f} a month" in text
    assert "₹" in cost_command(workload, currency="INR", rate=83.0, prices_path=path)
