"""``srs cost`` as a person runs it: the three bills in the asked currency, one-line errors."""

from __future__ import annotations

from click.testing import CliRunner

from srs.cli import USER_ERROR_EXIT, main


def test_cost_prints_naive_corrected_and_embedded_bills() -> None:
    result = CliRunner().invoke(
        main, ["cost", "--recommendations-per-day", "0", "--retrain-days", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "Naive estimate" in result.output
    assert "Amazon Personalize, corrected" in result.output
    assert "Embedded default" in result.output
    assert "minProvisionedTPS=1" in result.output
    assert "Automatic retraining" not in result.output


def test_cost_in_rupees_at_a_given_rate() -> None:
    result = CliRunner().invoke(main, ["cost", "--currency", "INR", "--rate", "83.5"])
    assert result.exit_code == 0, result.output
    assert "in INR at 83.5 per USD" in result.output
    assert "₹" in result.output and "$" not in result.output


def test_impossible_peak_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(
        main, ["cost", "--peak-tps", "100", "--peak-hours", "5", "--recommendations-per-day", "10"]
    )
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stdout == ""
    assert result.stderr.strip().startswith("error: workload: 100 TPS for 5 h")
    assert len(result.stderr.strip().splitlines()) == 1
