"""A month's bill for a workload on Amazon Personalize, beside the embedded default's.

A naive estimate prices the obvious: the data ingested, one training run, and the
recommendations asked for, converted to TPS-hours from the request count. That is the estimate
a first set-up script makes, and it misses what dominates small workloads: a campaign bills at
least its ``minProvisionedTPS`` for every hour it exists, idle or not, and a solution retrains
automatically (every 7 days by default) at the full training price. The estimate therefore
carries three lists of line items: the naive ones, the corrected bill, and the embedded
default's bill for the same workload, so the difference is visible line by line.

Prices come from a table shipped as package data (``prices.toml``) that names its source and
date; everything here is pure arithmetic on that table, so it is tested with hand-computed
figures.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from srs.errors import SRSError

HOURS_PER_MONTH = 730.0
"""AWS bills a month as 730 hours (365 × 24 / 12)."""
DAYS_PER_MONTH = HOURS_PER_MONTH / 24.0
SECONDS_PER_HOUR = 3600.0
CURRENCIES = ("USD", "INR")
Mode = Literal["campaign", "batch"]


class PriceTableError(SRSError):
    """The price table is missing a figure or holds one that is not a usable price."""


class WorkloadError(SRSError):
    """A workload figure is out of range (negative, or a peak that cannot hold)."""


@dataclass(frozen=True, slots=True)
class Tier:
    """Price per unit for the quantity up to ``up_to`` (None: no upper bound)."""

    up_to: float | None
    price: float


@dataclass(frozen=True, slots=True)
class PriceTable:
    source: str
    urls: tuple[str, ...]
    region: str
    as_of: str
    checked: bool
    data_ingestion_per_gb: float
    training_per_hour: float
    realtime_tps_hour_tiers: tuple[Tier, ...]
    batch_per_1000_tiers: tuple[Tier, ...]
    s3_storage_per_gb_month: float
    vm_name: str
    vm_per_hour: float
    disk_per_gb_month: float
    disk_gb: float
    usd_to_inr: float


@dataclass(frozen=True, slots=True)
class Workload:
    """What a month asks of the recommender.

    ``peak_tps`` holds for ``peak_hours_per_day`` hours a day; the rest of the day's
    recommendations spread evenly over the other hours. ``trainings_per_month`` counts the
    deliberate training runs; automatic retraining (Personalize's default for new solutions)
    adds one run every ``retraining_interval_days`` unless switched off.
    """

    data_gb: float
    training_hours: float
    recommendations_per_day: float
    peak_tps: float = 0.0
    mode: Mode = "campaign"
    min_provisioned_tps: int = 1
    peak_hours_per_day: float = 0.0
    trainings_per_month: int = 1
    automatic_retraining: bool = True
    retraining_interval_days: float = 7.0
    stored_gb: float | None = None
    campaign_hours: float = HOURS_PER_MONTH
    results_per_recommendation: int = 25


@dataclass(frozen=True, slots=True)
class LineItem:
    """One line of a bill; ``amount`` and ``unit_price`` are in the estimate's currency."""

    name: str
    quantity: float
    unit: str
    unit_price: float
    amount: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Estimate:
    currency: str
    rate: float
    prices: PriceTable
    workload: Workload
    naive: list[LineItem] = field(default_factory=list)
    corrected: list[LineItem] = field(default_factory=list)
    embedded: list[LineItem] = field(default_factory=list)

    @property
    def naive_total(self) -> float:
        return sum(item.amount for item in self.naive)

    @property
    def corrected_total(self) -> float:
        return sum(item.amount for item in self.corrected)

    @property
    def embedded_total(self) -> float:
        return sum(item.amount for item in self.embedded)


def _number(table: Mapping[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceTableError(f"{where}: '{key}' must be a number, got {value!r}")
    if value < 0 or not math.isfinite(value):
        raise PriceTableError(f"{where}: '{key}' must be a finite price >= 0, got {value!r}")
    return float(value)


def _section(table: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = table.get(key)
    if not isinstance(value, Mapping):
        raise PriceTableError(f"{where}: section [{key}] is missing")
    return value


def _tiers(table: Mapping[str, Any], key: str, where: str) -> tuple[Tier, ...]:
    rows = table.get(key)
    if not isinstance(rows, list) or not rows:
        raise PriceTableError(f"{where}: '{key}' needs at least one [[{key}]] tier")
    tiers: list[Tier] = []
    previous = 0.0
    for index, row in enumerate(rows, start=1):
        at = f"{where}: {key} tier {index}"
        if not isinstance(row, Mapping):
            raise PriceTableError(f"{at}: must be a table with 'price' and 'up_to'")
        price = _number(row, "price", at)
        is_last = index == len(rows)
        if "up_to" not in row:
            if not is_last:
                raise PriceTableError(f"{at}: only the last tier may omit 'up_to'")
            tiers.append(Tier(None, price))
            continue
        up_to = _number(row, "up_to", at)
        if up_to <= previous:
            raise PriceTableError(f"{at}: 'up_to' {up_to:g} must exceed the previous {previous:g}")
        previous = up_to
        tiers.append(Tier(up_to, price))
    return tuple(tiers)


def parse_price_table(document: Mapping[str, Any], where: str) -> PriceTable:
    """Check and convert a parsed TOML price table; ``where`` names it in error messages."""
    source = _section(document, "source", where)
    personalize = _section(document, "personalize", where)
    s3 = _section(document, "s3", where)
    embedded = _section(document, "embedded", where)
    currency = _section(document, "currency", where)
    as_of = source.get("as_of")
    name = source.get("name")
    if not isinstance(as_of, str) or not as_of:
        raise PriceTableError(f"{where}: [source] 'as_of' (the date of the figures) is missing")
    if not isinstance(name, str) or not name:
        raise PriceTableError(f"{where}: [source] 'name' (where the figures come from) is missing")
    return PriceTable(
        source=name,
        urls=tuple(str(url) for url in source.get("urls", [])),
        region=str(source.get("region", "")),
        as_of=as_of,
        checked=bool(source.get("checked", False)),
        data_ingestion_per_gb=_number(personalize, "data_ingestion_per_gb", where),
        training_per_hour=_number(personalize, "training_per_hour", where),
        realtime_tps_hour_tiers=_tiers(personalize, "realtime_tps_hour_tiers", where),
        batch_per_1000_tiers=_tiers(personalize, "batch_per_1000_tiers", where),
        s3_storage_per_gb_month=_number(s3, "storage_per_gb_month", where),
        vm_name=str(embedded.get("vm_name", "VM")),
        vm_per_hour=_number(embedded, "vm_per_hour", where),
        disk_per_gb_month=_number(embedded, "disk_per_gb_month", where),
        disk_gb=_number(embedded, "disk_gb", where),
        usd_to_inr=_number(currency, "usd_to_inr", where),
    )


def load_price_table(path: Path | None = None) -> PriceTable:
    """The shipped table, or the one at ``path`` (same keys) when the user has fresher figures."""
    if path is None:
        text = resources.files("srs.aws").joinpath("prices.toml").read_text(encoding="utf-8")
        where = "shipped price table srs/aws/prices.toml"
    else:
        where = f"price table {path}"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PriceTableError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceTableError(f"{where}: not valid TOML: {exc}") from exc
    return parse_price_table(document, where)


def tiered_amount(quantity: float, tiers: Sequence[Tier]) -> float:
    """Price ``quantity`` units through volume tiers, each tier at its own price."""
    amount = 0.0
    lower = 0.0
    for tier in tiers:
        upper = math.inf if tier.up_to is None else tier.up_to
        in_tier = max(0.0, min(quantity, upper) - lower)
        amount += in_tier * tier.price
        lower = upper
        if quantity <= upper:
            break
    return amount


def check_workload(workload: Workload) -> Workload:
    checks: list[tuple[str, float]] = [
        ("data_gb", workload.data_gb),
        ("training_hours", workload.training_hours),
        ("recommendations_per_day", workload.recommendations_per_day),
        ("peak_tps", workload.peak_tps),
        ("peak_hours_per_day", workload.peak_hours_per_day),
        ("trainings_per_month", workload.trainings_per_month),
        ("campaign_hours", workload.campaign_hours),
    ]
    if workload.stored_gb is not None:
        checks.append(("stored_gb", workload.stored_gb))
    for name, value in checks:
        if not math.isfinite(value) or value < 0:
            raise WorkloadError(f"workload '{name}' must be a number >= 0, got {value!r}")
    if workload.mode not in ("campaign", "batch"):
        raise WorkloadError(f"workload 'mode' must be 'campaign' or 'batch', got {workload.mode!r}")
    if workload.min_provisioned_tps < 1:
        raise WorkloadError(
            f"workload 'min_provisioned_tps' must be >= 1 (Personalize's minimum), "
            f"got {workload.min_provisioned_tps}"
        )
    if workload.peak_hours_per_day > 24:
        raise WorkloadError(
            f"workload 'peak_hours_per_day' must be <= 24, got {workload.peak_hours_per_day}"
        )
    if workload.campaign_hours > HOURS_PER_MONTH:
        raise WorkloadError(
            f"workload 'campaign_hours' must be <= {HOURS_PER_MONTH:g} (one month), "
            f"got {workload.campaign_hours}"
        )
    peak_requests = workload.peak_tps * SECONDS_PER_HOUR * workload.peak_hours_per_day
    if peak_requests > workload.recommendations_per_day:
        raise WorkloadError(
            f"workload: {workload.peak_tps:g} TPS for {workload.peak_hours_per_day:g} h is "
            f"{peak_requests:.0f} requests, more than recommendations_per_day "
            f"({workload.recommendations_per_day:.0f})"
        )
    if workload.retraining_interval_days <= 0:
        raise WorkloadError(
            f"workload 'retraining_interval_days' must be > 0, "
            f"got {workload.retraining_interval_days}"
        )
    return workload


def billed_tps_hours_per_day(workload: Workload) -> float:
    """TPS-hours a campaign bills in a day: each hour at max(minProvisionedTPS, actual TPS)."""
    floor = float(workload.min_provisioned_tps)
    peak_hours = workload.peak_hours_per_day
    other_hours = 24.0 - peak_hours
    peak_requests = workload.peak_tps * SECONDS_PER_HOUR * peak_hours
    other_tps = (
        (workload.recommendations_per_day - peak_requests) / (SECONDS_PER_HOUR * other_hours)
        if other_hours > 0
        else 0.0
    )
    return peak_hours * max(floor, workload.peak_tps) + other_hours * max(floor, other_tps)


def automatic_retrainings_per_month(workload: Workload) -> float:
    if not workload.automatic_retraining:
        return 0.0
    return DAYS_PER_MONTH / workload.retraining_interval_days


class _Biller:
    """Builds line items in one currency, so every amount is converted in one place."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def item(
        self, name: str, quantity: float, unit: str, amount_usd: float, note: str = ""
    ) -> LineItem:
        unit_price = amount_usd / quantity if quantity else 0.0
        return LineItem(name, quantity, unit, unit_price * self.rate, amount_usd * self.rate, note)


def _naive_items(workload: Workload, prices: PriceTable, bill: _Biller) -> list[LineItem]:
    recommendations = workload.recommendations_per_day * DAYS_PER_MONTH
    items = [
        bill.item(
            "Data ingestion",
            workload.data_gb,
            "GB",
            workload.data_gb * prices.data_ingestion_per_gb,
        ),
        bill.item(
            "Training",
            workload.training_hours * workload.trainings_per_month,
            "training h",
            workload.training_hours * workload.trainings_per_month * prices.training_per_hour,
        ),
    ]
    if workload.mode == "campaign":
        tps_hours = recommendations / SECONDS_PER_HOUR
        items.append(
            bill.item(
                "Real-time recommendations (requests ÷ 3600)",
                tps_hours,
                "TPS-h",
                tiered_amount(tps_hours, prices.realtime_tps_hour_tiers),
            )
        )
    else:
        thousands = recommendations / 1000.0
        items.append(
            bill.item(
                "Batch recommendations",
                thousands,
                "1000 recs",
                tiered_amount(thousands, prices.batch_per_1000_tiers),
            )
        )
    return items


def _corrected_items(workload: Workload, prices: PriceTable, bill: _Biller) -> list[LineItem]:
    items = _naive_items(workload, prices, bill)
    if workload.mode == "campaign":
        days = workload.campaign_hours / 24.0
        tps_hours = billed_tps_hours_per_day(workload) * days
        items[-1] = bill.item(
            "Real-time recommendations (campaign)",
            tps_hours,
            "TPS-h",
            tiered_amount(tps_hours, prices.realtime_tps_hour_tiers),
            f"each of {workload.campaign_hours:g} h bills max(minProvisionedTPS="
            f"{workload.min_provisioned_tps}, actual TPS), idle or not",
        )
    retrainings = automatic_retrainings_per_month(workload)
    if retrainings:
        hours = retrainings * workload.training_hours
        items.append(
            bill.item(
                "Automatic retraining",
                hours,
                "training h",
                hours * prices.training_per_hour,
                f"{retrainings:.2f} runs a month, one every "
                f"{workload.retraining_interval_days:g} days (Personalize's default)",
            )
        )
    stored = workload.data_gb if workload.stored_gb is None else workload.stored_gb
    items.append(
        bill.item(
            "S3 storage (prepared data, batch input and output)",
            stored,
            "GB-month",
            stored * prices.s3_storage_per_gb_month,
        )
    )
    return items


def _embedded_items(prices: PriceTable, bill: _Biller) -> list[LineItem]:
    return [
        bill.item(
            f"VM {prices.vm_name}",
            HOURS_PER_MONTH,
            "h",
            HOURS_PER_MONTH * prices.vm_per_hour,
            "serves, trains and stores events; training and requests cost nothing extra",
        ),
        bill.item(
            "VM disk",
            prices.disk_gb,
            "GB-month",
            prices.disk_gb * prices.disk_per_gb_month,
        ),
    ]


def resolve_rate(currency: str, rate: float | None, prices: PriceTable) -> tuple[str, float]:
    """The currency code and its units per US dollar (USD is always 1)."""
    code = currency.upper()
    if code not in CURRENCIES:
        raise WorkloadError(f"currency must be one of {', '.join(CURRENCIES)}, got {currency!r}")
    if code == "USD":
        if rate is not None and rate != 1.0:
            raise WorkloadError(f"a rate applies to INR only; USD is 1, got rate {rate}")
        return code, 1.0
    chosen = prices.usd_to_inr if rate is None else rate
    if not math.isfinite(chosen) or chosen <= 0:
        raise WorkloadError(f"rate must be a number of INR per USD > 0, got {chosen!r}")
    return code, chosen


def estimate(
    workload: Workload, prices: PriceTable, currency: str = "USD", rate: float | None = None
) -> Estimate:
    """The naive, the corrected and the embedded bill for one month of ``workload``."""
    check_workload(workload)
    code, chosen_rate = resolve_rate(currency, rate, prices)
    bill = _Biller(chosen_rate)
    return Estimate(
        currency=code,
        rate=chosen_rate,
        prices=prices,
        workload=workload,
        naive=_naive_items(workload, prices, bill),
        corrected=_corrected_items(workload, prices, bill),
        embedded=_embedded_items(prices, bill),
    )


def _money(amount: float, currency: str, decimals: int = 2) -> str:
    symbol = "$" if currency == "USD" else "₹"
    return f"{symbol}{amount:,.{decimals}f}"


def _table(title: str, items: Sequence[LineItem], total: float, currency: str) -> list[str]:
    width = max([len(item.name) for item in items] + [len(title), 5])
    lines = [title, "-" * (width + 48)]
    for item in items:
        quantity = f"{item.quantity:,.2f} {item.unit}"
        price = f"@ {_money(item.unit_price, currency, decimals=4)}"
        lines.append(
            f"{item.name:<{width}}  {quantity:>22}  {price:>12}  "
            f"{_money(item.amount, currency):>12}"
        )
        if item.note:
            lines.append(f"{'':<{width}}    ({item.note})")
    lines.append(f"{'Total':<{width}}  {'':>22}  {'':>12}  {_money(total, currency):>12}")
    return lines


def render_estimate(result: Estimate) -> str:
    """Plain text for a terminal or a file: the three bills, their totals and the source."""
    prices = result.prices
    workload = result.workload
    lines = [
        f"Monthly estimate ({HOURS_PER_MONTH:g} h), mode {workload.mode}, in {result.currency}"
        + (f" at {result.rate:g} per USD" if result.currency != "USD" else ""),
        f"Prices: {prices.source}, {prices.region}, as of {prices.as_of}"
        + ("" if prices.checked else " (NOT CHECKED: verify against the pricing pages)"),
        "",
    ]
    lines += _table(
        "Naive estimate (what a first set-up script prices)",
        result.naive,
        result.naive_total,
        result.currency,
    )
    lines.append("")
    lines += _table(
        "Amazon Personalize, corrected", result.corrected, result.corrected_total, result.currency
    )
    lines.append("")
    lines += _table(
        "Embedded default (one small VM)", result.embedded, result.embedded_total, result.currency
    )
    missed = _money(result.corrected_total - result.naive_total, result.currency)
    lines += ["", f"The naive estimate misses {missed} a month."]
    return "\n".join(lines) + "\n"


def cost_command(
    workload: Workload,
    currency: str = "USD",
    rate: float | None = None,
    prices_path: Path | None = None,
) -> str:
    """What ``srs cost`` prints: load the table, estimate, render. Raises SRSError subclasses."""
    prices = load_price_table(prices_path)
    return render_estimate(estimate(workload, prices, currency, rate))
