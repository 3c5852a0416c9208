"""What SRS costs on AWS: the seed's estimate reproduced, then corrected, then three ways.

``prices`` loads and checks the price table (each figure with its source, date and region),
``currency`` converts and writes amounts, ``billing`` holds the arithmetic, ``report`` puts its
figures on rows with their reasons and ``render`` lays the rows out as text;
:func:`cost_command` is what ``srs cost`` runs.
"""

from __future__ import annotations

from pathlib import Path

from srs.aws.cost.billing import Workload, seed_workload, with_defaults
from srs.aws.cost.currency import converter
from srs.aws.cost.prices import PriceTable, load_price_table
from srs.aws.cost.render import render_report
from srs.aws.cost.report import Report, report


def build_report(
    table: PriceTable,
    changes: dict[str, float | int | str | None],
    region: str | None = None,
    currency: str | None = None,
    inr_per_usd: float | None = None,
    seed_only: bool = False,
) -> Report:
    """The report for the seed's workload with ``changes`` (None: keep the seed's figure), in
    the seed's region and currency unless others are asked for."""
    workload: Workload = with_defaults(seed_workload(table.seed), **changes)
    convert = converter(currency or table.seed.currency, inr_per_usd, table.exchange)
    return report(
        workload, table, region or table.seed.provenance.region, convert, seed_only=seed_only
    )


def cost_command(
    changes: dict[str, float | int | str | None],
    region: str | None = None,
    currency: str | None = None,
    inr_per_usd: float | None = None,
    prices_path: Path | None = None,
    seed_only: bool = False,
) -> str:
    """What ``srs cost`` prints. Raises :class:`srs.errors.SRSError` subclasses on bad input."""
    table = load_price_table(prices_path)
    return render_report(
        build_report(table, changes, region, currency, inr_per_usd, seed_only=seed_only)
    )


__all__ = ["build_report", "cost_command"]
