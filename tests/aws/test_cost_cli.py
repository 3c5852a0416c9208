"""``srs cost`` as a person runs it: one table, the seed's figures first, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from srs.cli import USER_ERROR_EXIT, main

SHIPPED = Path(__file__).parents[2] / "src" / "srs" / "aws" / "cost" / "prices.toml"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["cost", *args])


def amounts(output: str, row: str, which: int = 0) -> list[float]:
    """The money cells of the table row named ``row`` (the ``which``-th such), as numbers."""
    line = [line for line in output.splitlines() if line[2:].startswith(row + " ")][which]
    cells = line[2 + len(row) :].split("  ")
    money = [cell.strip() for cell in cells if re.fullmatch(r"\s*[₹$][\d,.]+\s*", cell)]
    return [float(cell[1:].replace(",", "")) for cell in money]


def test_seed_prints_the_seeds_own_estimate_71_45_then_75_then_44000() -> None:
    result = run("--seed")
    assert result.exit_code == 0, result.output
    assert amounts(result.output, "Personalize, a month") == [71.45]
    assert amounts(result.output, "AWS, a month (≈)") == [75.0]
    assert amounts(result.output, "First year") == [44000.0]
    assert amounts(result.output, "Personalize training") == [59.31]
    assert amounts(result.output, "Personalize inference") == [12.0]
    assert "Campaign" not in result.output and "corrected" not in result.output


def test_the_bare_command_is_one_table_seed_corrections_and_three_columns() -> None:
    result = run()
    assert result.exit_code == 0, result.output
    out = result.output
    first, second, third = (
        out.index("1. The seed's estimate"),
        out.index("2. The seed's assumptions corrected"),
        out.index("3. The same workload three ways"),
    )
    assert first < second < third
    assert amounts(out, "Personalize, a month") == [71.45]
    header = next(line for line in out.splitlines() if "How / why" in line)
    assert header.split()[:4] == ["Seed", "Campaign", "Batch", "Embedded"]
    assert "max(minProvisionedTPS 1, used TPS) every hour it exists, even idle" in out
    assert "new solutions retrain every 7 days by default" in out
    assert "aws-user-personalization-v2 is priced by interactions processed, not hours" in out
    assert "feedback streamed through PutEvents is ingested data" in out
    campaign, batch, embedded = amounts(out, "A month", which=-1)
    assert campaign > batch and campaign > embedded
    # the exchange rate is dated and sourced, in the header and among the prices used
    assert "at 84 per USD (assumption, 2024-11-29:" in out
    assert re.search(r"exchange 84 INR per USD\s+-\s+2024-11-29\s+assumption", out)


def test_a_million_a_day_is_cheaper_in_batch_than_on_a_campaign() -> None:
    result = run("--recommendations-per-day", "1000000", "--currency", "USD")
    assert result.exit_code == 0, result.output
    campaign, batch, embedded = amounts(result.output, "A month", which=-1)
    assert embedded < batch < campaign
    recommendations = amounts(result.output, "Recommendations")
    assert recommendations[1] < recommendations[0]  # batch's user lists < campaign's TPS-hours


def test_batch_jobs_and_users_change_only_the_batch_column() -> None:
    weekly = amounts(run("--users", "10000", "--batch-jobs", "4").output, "Recommendations")
    daily = amounts(run("--users", "10000", "--batch-jobs", "30").output, "Recommendations")
    assert weekly[0] == daily[0]  # the campaign
    # 10,000 × 4 = 40 thousand lists, against 10,000 × 30 = 300 thousand, at one tier's price
    assert daily[1] == pytest.approx(weekly[1] * 300 / 40, rel=1e-3)


def test_dollars_and_a_given_rate() -> None:
    result = run("--currency", "usd", "--region", "us-east-1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("srs cost: us-east-1, in USD")
    month = [line for line in result.output.splitlines() if line.startswith("= A month")]
    assert len(month) == 2 and all("$" in line and "₹" not in line for line in month)
    given = run("--inr-per-usd", "90")
    assert "in INR at 90 per USD (--inr-per-usd)" in given.output
    # the seed's rupees do not move with the rate; the AWS dollars do
    assert amounts(given.output, "Personalize, a month") == [71.45]
    assert amounts(given.output, "Recommendations: campaign")[1] == pytest.approx(730 * 0.2 * 90)


def test_an_own_price_table(tmp_path: Path) -> None:
    own = tmp_path / "prices.toml"
    own.write_text(
        SHIPPED.read_text(encoding="utf-8").replace("inr_per_usd = 84.0", "inr_per_usd = 100.0"),
        encoding="utf-8",
    )
    result = run("--prices", str(own))
    assert result.exit_code == 0, result.output
    assert f"price table {own}" in result.output and "at 100 per USD" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data-gb", "-1"], "error: --data-gb must be a number >= 0, got -1"),
        (["--recommendations-per-day", "-5"], "error: --recommendations-per-day must be"),
        (["--users", "-1"], "error: --users must be a number >= 0"),
        (
            ["--recommendations-per-day", "1e308"],
            "error: --recommendations-per-day must be at most",
        ),
        (["--min-tps", "0"], "error: --min-tps must be >= 1"),
        (["--min-tps", "99999999999999999"], "error: --min-tps must be at most 1e+12"),
        (["--retrain-days", "45"], "error: --retrain-days must be 0 (off) or 1 to 30 days"),
        (["--recipe", "aws-sims"], "error: --recipe must be one of"),
        (["--currency", "EUR"], "error: currency must be one of INR, USD, got 'EUR'"),
        (["--region", "mars-1"], "no prices for region 'mars-1'; it has ap-south-1, us-east-1"),
        (["--inr-per-usd", "0"], "error: the INR per USD rate must be a number > 0, got 0"),
        (["--seed", "--users", "5"], "error: --seed prices the seed's own inputs; drop --users"),
        (["--prices", "/nonexistent/prices.toml"], "price table /nonexistent/prices.toml: cannot"),
        (
            ["--peak-tps", "100", "--peak-hours", "5"],
            "error: --peak-tps 100 TPS for 5 h is 1,800,000 requests, more than the 1,000",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_cost_is_a_top_level_command_and_not_under_aws() -> None:
    runner = CliRunner()
    assert "cost" in runner.invoke(main, ["--help"]).output
    assert runner.invoke(main, ["aws", "cost"]).exit_code != 0


README = Path(__file__).parents[2] / "README.md"


def readme_block(after: str) -> str:
    """The ```text block that follows the line ``after`` in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index("```text\n", text.index(after)) + len("```text\n")
    return text[start : text.index("```", start)]


def test_the_readme_shows_the_commands_real_output() -> None:
    assert readme_block("`srs cost`, the seed's workload:") == run().output
    fifty = run("--recommendations-per-day", "50000").output
    table = fifty[: fifty.index("Prices used")].rstrip("\n") + "\n"
    assert readme_block("`srs cost --recommendations-per-day 50000`") == table
