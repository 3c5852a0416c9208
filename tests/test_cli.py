"""The ``srs`` command as a person uses it: help everywhere, one-line errors, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from srs.cli import USER_ERROR_EXIT, main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("command", [[], ["generate"], ["prepare"], ["history"]])
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert "--help" in result.output


def test_missing_source_is_one_line_on_stderr_and_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "--data-dir", str(tmp_path), "prepare")
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "aws_synthetic_service_recommendation_data.csv: source file does not exist" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_setting_is_one_line_and_exit_2(runner: CliRunner) -> None:
    result = invoke(runner, "prepare", env={"SRS_USERS": "lots"})
    assert result.exit_code == USER_ERROR_EXIT
    assert result.stderr.strip() == "error: setting 'SRS_USERS': 'lots' is not a valid int"
