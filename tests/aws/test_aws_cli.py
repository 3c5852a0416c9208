"""``srs aws setup|cleanup --dry-run`` end to end against moto's server, changing nothing.

The CLI builds its clients from boto3's own chain, so this test points that chain at moto with
environment variables for the duration of the invocation only (dummy credentials).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from srs.cli import main


def moto_environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def test_setup_dry_run_prints_the_plan(
    moto_endpoint: str, prepared_data_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_data_dir / "dataset", data_dir / "dataset")
    bucket = f"srs-cli-{uuid.uuid4().hex[:12]}"
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data_dir), "aws", "setup", "--dry-run", "--bucket", bucket],
        env=moto_environment(moto_endpoint),
    )
    assert result.exit_code == 0, result.output
    assert f"bucket {bucket}: would create in us-east-1" in result.stderr
    assert "would create or reuse campaign srs-campaign (minProvisionedTPS=1" in result.stderr
    assert "would create or reuse filter srs-default" in result.stderr
    assert "testing" not in result.output
    assert not (data_dir / "aws-state.json").exists()


def test_aws_commands_have_help() -> None:
    for command in (["aws"], ["aws", "setup"], ["aws", "cleanup"], ["cost"]):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
    assert "--dry-run" in CliRunner().invoke(main, ["aws", "cleanup", "--help"]).output


def test_batch_before_setup_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "aws", "batch"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'aws-state.json'}: no solution_version_arn, role_arn, bucket "
        "recorded; run 'srs aws setup' first"
    )


def test_metrics_print_beside_the_local_engine_and_no_model_means_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srs.cli.aws import _local_metrics, _print_metrics_side_by_side
    from srs.config import load_settings

    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    assert _local_metrics(settings) == {}
    _print_metrics_side_by_side({"coverage": 0.25, "precision_at_5": 0.1}, {"coverage": 0.5})
    printed = capsys.readouterr().out
    assert "coverage" in printed and "0.2500" in printed and "0.5000" in printed
    assert "precision_at_5" in printed and "—" in printed
