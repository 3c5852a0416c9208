"""The price table: every unit price ``srs cost`` uses, each with its source, date and region.

An estimate is only as good as its figures, and AWS prices change and differ by region, so no
figure lives in code. The table is package data (``prices.toml``) or the user's own file with the
same layout; this module checks it once on load, so that billing can trust every figure it is
given and a bad file is reported by name and key instead of surfacing as a wrong total.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from srs.errors import SRSError

STATUSES = ("seed", "checked", "unchecked", "assumption")
"""How far a figure can be trusted; explained at the top of the shipped table."""

REQUIRED_PRICES = (
    "personalize.data_ingestion",
    "personalize.training_hour",
    "personalize.v2_training",
    "personalize.campaign_tps_hour",
    "personalize.batch_user_list",
    "s3.storage",
    "ec2.vm",
    "ebs.disk",
)
"""Every region in a table must price all of these, or a column would silently read zero."""

SHIPPED_TABLE = "srs/aws/cost/prices.toml"


class PriceTableError(SRSError):
    """The price table is missing a figure or holds one that is not a usable price."""


@dataclass(frozen=True, slots=True)
class Tier:
    """Price per unit for the month's quantity up to ``up_to`` (None: no upper bound)."""

    up_to: float | None
    usd: float


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a figure comes from; shown beside it so a reader can judge and re-check it."""

    source: str
    as_of: str
    region: str
    status: str


@dataclass(frozen=True, slots=True)
class Price:
    """One AWS unit price in US dollars, flat (one tier) or tiered by the month's quantity."""

    name: str
    unit: str
    tiers: tuple[Tier, ...]
    provenance: Provenance
    label: str = ""

    @property
    def first_usd(self) -> float:
        """The price of the first unit, which is what a small workload pays."""
        return self.tiers[0].usd


@dataclass(frozen=True, slots=True)
class SeedFigures:
    """The seed document's own unit prices (in its currency) and the workload it priced."""

    s3_storage_per_gb_month: float
    data_processing_per_gb: float
    training_per_hour: float
    inference_per_1000_recommendations: float
    development: float
    initial_aws_setup: float
    maintenance_low_per_month: float
    maintenance_high_per_month: float
    days_per_month: float
    round_month_to: float
    stored_gb: float
    data_gb: float
    training_hours_low: float
    training_hours: float
    recommendations_per_day: float
    currency: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    inr_per_usd: float
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class PriceTable:
    where: str
    prices: Mapping[tuple[str, str], Price]
    seed: SeedFigures
    exchange: ExchangeRate
    embedded_disk_gb: float

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({region for _, region in self.prices}))

    def price(self, name: str, region: str) -> Price:
        try:
            return self.prices[(name, region)]
        except KeyError:
            raise PriceTableError(f"{self.where}: no price '{name}' for region {region}") from None

    def check_region(self, region: str) -> str:
        """The region, if the table prices it; else an error that lists the regions it has."""
        if region not in self.regions:
            raise PriceTableError(
                f"{self.where} has no prices for region {region!r}; "
                f"it has {', '.join(self.regions)} (add the region's figures and pass --prices)"
            )
        return region


def _number(table: Mapping[str, Any], key: str, where: str, positive: bool = False) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceTableError(f"{where}: '{key}' must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise PriceTableError(f"{where}: '{key}' must be a finite number {bound}, got {value!r}")
    return float(value)


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PriceTableError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


def _section(table: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = table.get(key)
    if not isinstance(value, Mapping):
        raise PriceTableError(f"{where}: section [{key}] is missing")
    return value


def _provenance(table: Mapping[str, Any], where: str, region: str | None = None) -> Provenance:
    as_of = _text(table, "as_of", where)
    try:
        date.fromisoformat(as_of)
    except ValueError:
        raise PriceTableError(
            f"{where}: 'as_of' must be a date YYYY-MM-DD, got {as_of!r}"
        ) from None
    status = _text(table, "status", where)
    if status not in STATUSES:
        raise PriceTableError(
            f"{where}: 'status' must be one of {', '.join(STATUSES)}, got {status!r}"
        )
    return Provenance(
        source=_text(table, "source", where),
        as_of=as_of,
        region=region if region is not None else _text(table, "region", where),
        status=status,
    )


def _tiers(entry: Mapping[str, Any], where: str) -> tuple[Tier, ...]:
    if "usd" in entry and "tiers" in entry:
        raise PriceTableError(f"{where}: give either 'usd' or 'tiers', not both")
    if "usd" in entry:
        return (Tier(None, _number(entry, "usd", where)),)
    rows = entry.get("tiers")
    if not isinstance(rows, list) or not rows:
        raise PriceTableError(f"{where}: needs 'usd' or a non-empty 'tiers' list")
    tiers: list[Tier] = []
    previous = 0.0
    for index, row in enumerate(rows, start=1):
        at = f"{where} tier {index}"
        if not isinstance(row, Mapping):
            raise PriceTableError(f"{at}: must be a table with 'usd' and 'up_to'")
        usd = _number(row, "usd", at)
        if "up_to" not in row:
            if index != len(rows):
                raise PriceTableError(f"{at}: only the last tier may omit 'up_to'")
            tiers.append(Tier(None, usd))
            continue
        up_to = _number(row, "up_to", at)
        if up_to <= previous:
            raise PriceTableError(f"{at}: 'up_to' {up_to:g} must exceed the previous {previous:g}")
        previous = up_to
        tiers.append(Tier(up_to, usd))
    return tuple(tiers)


def _price(entry: Any, index: int, where: str) -> Price:
    at = f"{where}: [[price]] {index}"
    if not isinstance(entry, Mapping):
        raise PriceTableError(f"{at}: must be a table")
    name = _text(entry, "name", at)
    at = f"{where}: price {name!r}"
    region = _text(entry, "region", at)
    at = f"{at} ({region})"
    label = entry.get("label", "")
    return Price(
        name=name,
        unit=_text(entry, "unit", at),
        tiers=_tiers(entry, at),
        provenance=_provenance(entry, at, region=region),
        label=str(label),
    )


def _seed(document: Mapping[str, Any], where: str) -> SeedFigures:
    section = _section(document, "seed", where)
    at = f"{where}: [seed]"
    workload = _section(section, "workload", f"{where}: [seed]")
    at_workload = f"{where}: [seed.workload]"
    currency = _text(section, "currency", at)
    if currency not in ("INR", "USD"):
        raise PriceTableError(f"{at}: 'currency' must be INR or USD, got {currency!r}")
    return SeedFigures(
        s3_storage_per_gb_month=_number(section, "s3_storage_per_gb_month", at),
        data_processing_per_gb=_number(section, "data_processing_per_gb", at),
        training_per_hour=_number(section, "training_per_hour", at),
        inference_per_1000_recommendations=_number(
            section, "inference_per_1000_recommendations", at
        ),
        development=_number(section, "development", at),
        initial_aws_setup=_number(section, "initial_aws_setup", at),
        maintenance_low_per_month=_number(section, "maintenance_low_per_month", at),
        maintenance_high_per_month=_number(section, "maintenance_high_per_month", at),
        days_per_month=_number(section, "days_per_month", at, positive=True),
        round_month_to=_number(section, "round_month_to", at, positive=True),
        stored_gb=_number(workload, "stored_gb", at_workload),
        data_gb=_number(workload, "data_gb", at_workload),
        training_hours_low=_number(workload, "training_hours_low", at_workload),
        training_hours=_number(workload, "training_hours", at_workload),
        recommendations_per_day=_number(workload, "recommendations_per_day", at_workload),
        currency=currency,
        provenance=_provenance(section, at),
    )


def parse_price_table(document: Mapping[str, Any], where: str) -> PriceTable:
    """Check and convert a parsed TOML price table; ``where`` names it in error messages."""
    exchange = _section(document, "exchange", where)
    at_exchange = f"{where}: [exchange]"
    rate = ExchangeRate(
        inr_per_usd=_number(exchange, "inr_per_usd", at_exchange, positive=True),
        provenance=_provenance(exchange, at_exchange, region="-"),
    )
    entries = document.get("price")
    if not isinstance(entries, list) or not entries:
        raise PriceTableError(f"{where}: needs at least one [[price]] entry")
    prices: dict[tuple[str, str], Price] = {}
    for index, entry in enumerate(entries, start=1):
        price = _price(entry, index, where)
        key = (price.name, price.provenance.region)
        if key in prices:
            raise PriceTableError(f"{where}: price {key[0]!r} appears twice for {key[1]}")
        prices[key] = price
    for region in sorted({region for _, region in prices}):
        missing = [name for name in REQUIRED_PRICES if (name, region) not in prices]
        if missing:
            raise PriceTableError(f"{where}: region {region} lacks {', '.join(missing)}")
    embedded = _section(document, "embedded", where)
    return PriceTable(
        where=where,
        prices=prices,
        seed=_seed(document, where),
        exchange=rate,
        embedded_disk_gb=_number(embedded, "disk_gb", f"{where}: [embedded]"),
    )


def load_price_table(path: Path | None = None) -> PriceTable:
    """The shipped table, or the one at ``path`` (same layout) when the user has fresher figures."""
    if path is None:
        text = resources.files("srs.aws.cost").joinpath("prices.toml").read_text(encoding="utf-8")
        where = f"shipped price table {SHIPPED_TABLE}"
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


def tiered_usd(quantity: float, tiers: Sequence[Tier]) -> float:
    """Price ``quantity`` units through volume tiers, each slice at its own tier's price."""
    amount = 0.0
    lower = 0.0
    for tier in tiers:
        upper = math.inf if tier.up_to is None else tier.up_to
        amount += max(0.0, min(quantity, upper) - lower) * tier.usd
        lower = upper
        if quantity <= upper:
            break
    return amount
