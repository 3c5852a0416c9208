"""``srs cost``'s table as plain text: the same bytes on a terminal, in a file and in the README.

Plain columns rather than a terminal widget, so that the output does not depend on the width of
whatever prints it and can be pasted and compared as it is.
"""

from __future__ import annotations

from srs.aws.cost.billing import HOURS_PER_MONTH
from srs.aws.cost.prices import Price
from srs.aws.cost.report import Line, Report

COLUMNS = ("Seed", "Campaign", "Batch", "Embedded")


def _cell(amount: float | None, report: Report) -> str:
    return "" if amount is None else report.convert.text(amount)


def _cells(line: Line, report: Report) -> list[str]:
    amounts = (line.seed, line.campaign, line.batch, line.embedded)
    return [_cell(amount, report) for amount in amounts]


def _header(report: Report) -> list[str]:
    c = report.convert
    exchange = report.table.exchange.provenance
    source = (
        "--inr-per-usd"
        if c.rate_given
        else f"{exchange.status}, {exchange.as_of}: {exchange.source}"
    )
    rate = (
        f"in INR at {c.inr_per_usd:g} per USD ({source})"
        if c.currency == "INR"
        else f"in USD; the seed's rupees at {c.inr_per_usd:g} INR per USD ({source})"
    )
    w = report.workload
    retraining = f"every {w.retrain_days:g} days" if w.retrain_days else "off"
    if report.seed_only:
        return [
            f"srs cost --seed: the seed's own estimate, {rate}.",
            f"Workload (the seed's): {w.recommendations_per_day:,.0f} recommendations a day; "
            f"{w.data_gb:g} GB processed; {w.stored_gb:g} GB in S3; {w.training_hours:g} h of "
            "training.",
            "",
        ]
    return [
        f"srs cost: {report.region}, {rate}; a month is {HOURS_PER_MONTH:g} h.",
        f"Workload: {w.recommendations_per_day:,.0f} recommendations a day; "
        f"{w.data_gb:g} GB imported ({w.interactions_per_training:,.0f} interactions); "
        f"{w.stored_gb:g} GB in S3; recipe {w.recipe}; minProvisionedTPS "
        f"{w.min_provisioned_tps}; automatic training {retraining}; batch "
        f"{w.batch_users:,.0f} users × {w.batch_jobs_per_month:g} jobs a month.",
        "",
    ]


def _sources(report: Report) -> list[str]:
    rows: list[tuple[str, str, str, str, str]] = []
    seed = report.table.seed.provenance
    rows.append(("seed unit prices (section 1)", seed.region, seed.as_of, seed.status, seed.source))
    price: Price
    for price in () if report.seed_only else report.prices:
        p = price.provenance
        amount = report.convert.text(report.convert.from_usd(price.first_usd), 4)
        tiers = " (tiered)" if len(price.tiers) > 1 else ""
        rows.append(
            (
                f"{price.name} {amount} per {price.unit}{tiers}",
                p.region,
                p.as_of,
                p.status,
                p.source,
            )
        )
    exchange = report.table.exchange.provenance
    rows.append(
        (
            f"exchange {report.table.exchange.inr_per_usd:g} INR per USD",
            "-",
            exchange.as_of,
            exchange.status,
            exchange.source,
        )
    )
    widths = [max(len(row[index]) for row in rows) for index in range(4)]
    lines = [f"Prices used ({report.table.where}):"]
    for row in rows:
        lines.append(
            "  "
            + "  ".join(cell.ljust(widths[index]) for index, cell in enumerate(row[:4]))
            + "  "
            + row[4]
        )
    return lines


def render_report(report: Report) -> str:
    """The table, a line per figure, and below it where every unit price comes from."""
    columns = [
        index
        for index in range(4)
        if any(_cells(line, report)[index] for section in report.sections for line in section.lines)
    ]
    body = [(line, _cells(line, report)) for section in report.sections for line in section.lines]
    name_width = max([len(line.name) for line, _ in body] + [4]) + 2
    widths = {
        index: max([len(cells[index]) for _, cells in body] + [len(COLUMNS[index])])
        for index in columns
    }

    def row(name: str, cells: list[str], why: str) -> str:
        amounts = "  ".join(cells[index].rjust(widths[index]) for index in columns)
        return f"{name.ljust(name_width)}{amounts}  {why}".rstrip()

    rule = "-" * (name_width + sum(widths.values()) + 2 * len(columns) + 12)
    lines = _header(report)
    lines.append(row("", list(COLUMNS), "How / why"))
    for section in report.sections:
        lines += [rule, section.title]
        for line in section.lines:
            name = f"= {line.name}" if line.total else f"  {line.name}"
            lines.append(row(name, _cells(line, report), line.why))
    lines += [rule, ""]
    lines += _sources(report)
    return "\n".join(lines) + "\n"
