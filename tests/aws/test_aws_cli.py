"""``srs aws setup|cleanup --dry-run`` end to end against moto's server, changing nothing.

The CLI builds its clients from boto3's own chain, so this test points that chain at moto with
environment variables for the duration of the invocation only (dummy credentials).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aws_support import make_aws_clients
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


# -- region, profile, credentials, and the clean-up table -----------------------------------


def no_credentials_environment(tmp_path: Path) -> dict[str, str | None]:
    """boto3's chain finds nothing: no keys, no files, no instance metadata."""
    return {
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "AWS_WEB_IDENTITY_TOKEN_FILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def write_state(path: Path, **resources: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "resources": resources}))


def test_dry_run_without_credentials_prints_the_plan_with_placeholders(
    prepared_data_dir: Path, tmp_path: Path
) -> None:
    """Defect 8: the plan needs no account; the account is shown as a placeholder."""
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_data_dir / "dataset", data_dir / "dataset")
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data_dir), "aws", "setup", "--dry-run", "--region", "ap-south-1"],
        env=no_credentials_environment(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert "no AWS credentials: the plan below shows <account-id>" in result.stderr
    assert "bucket srs-srs-<account-id>-ap-south-1: would create in ap-south-1" in result.stderr
    assert "IAM role srs-personalize-srs-ap-south-1: would create" in result.stderr
    assert "would create or reuse campaign srs-campaign" in result.stderr
    assert not (data_dir / "aws-state.json").exists()


def test_profile_is_used_and_an_unknown_one_is_one_line(
    moto_endpoint: str, prepared_data_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_data_dir / "dataset", data_dir / "dataset")
    environment = no_credentials_environment(tmp_path)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[srs-test]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    environment["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    environment["AWS_ENDPOINT_URL"] = moto_endpoint
    base = ["--data-dir", str(data_dir), "aws", "setup", "--dry-run"]
    result = CliRunner().invoke(main, [*base, "--profile", "srs-test"], env=environment)
    assert result.exit_code == 0, result.output
    assert "account 123456789012, region us-east-1" in result.stderr
    missing = CliRunner().invoke(main, [*base, "--profile", "nope"], env=environment)
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (
        "error: --profile 'nope': no such profile in the AWS config or credentials file"
    )


def test_later_commands_use_the_recorded_region(prepared_data_dir: Path, tmp_path: Path) -> None:
    """Defect 2: no --region means the state file's region, not the setting's us-east-1."""
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_data_dir / "dataset", data_dir / "dataset")
    write_state(data_dir / "aws-state.json", region="ap-south-1", name="shop")
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data_dir), "aws", "setup", "--dry-run"],
        env=no_credentials_environment(tmp_path),
    )
    assert result.exit_code == 0, result.output
    assert "bucket srs-shop-<account-id>-ap-south-1: would create in ap-south-1" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["aws", "cleanup", "--region", "us-east-1"],
        ["aws", "batch", "--region", "us-east-1"],
        ["aws", "setup", "--dry-run", "--region", "us-east-1"],
    ],
)
def test_a_region_other_than_the_recorded_one_is_an_error(
    command: list[str], tmp_path: Path
) -> None:
    """Defect 2: clean-up, batch and set-up refuse to act on another region than the bill's."""
    state = tmp_path / "aws-state.json"
    write_state(state, region="ap-south-1", name="srs", bucket="srs-srs-123456789012-ap-south-1")
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path), *command], env=no_credentials_environment(tmp_path)
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {state} records deployment 'srs' in ap-south-1, but --region us-east-1 was "
        "given; leave it out to act on the recorded deployment, or pass --state-file for "
        "another deployment"
    )


def test_a_region_without_personalize_is_refused(prepared_data_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_data_dir / "dataset", data_dir / "dataset")
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data_dir), "aws", "setup", "--dry-run", "--region", "eu-west-2"],
        env=no_credentials_environment(tmp_path),
    )
    assert result.exit_code == 2
    assert "error: Amazon Personalize is not available in eu-west-2" in result.stderr
    assert "ap-south-1" in result.stderr and "eu-west-1" in result.stderr


def test_auto_training_says_what_it_costs(prepared_data_dir: Path, tmp_path: Path) -> None:
    """Defect 5: off by default, and the line says what switching it on would add a month."""
    data_dir = tmp_path / "data"
    shutil.copytree(prepared_data_dir / "dataset", data_dir / "dataset")
    rows = len((data_dir / "dataset" / "interactions.csv").read_text().splitlines()) - 1
    base = ["--data-dir", str(data_dir), "aws", "setup", "--dry-run"]
    environment = no_credentials_environment(tmp_path)
    off = CliRunner().invoke(main, base, env=environment)
    on = CliRunner().invoke(main, [*base, "--auto-training"], env=environment)
    v1 = CliRunner().invoke(
        main,
        [*base, "--recipe", "arn:aws:personalize:::recipe/aws-user-personalization"],
        env=environment,
    )
    assert off.exit_code == on.exit_code == v1.exit_code == 0, off.output + on.output
    estimate = (
        rf"about 4\.3 runs a month, \$\d+\.\d\d at the shipped price table's us-east-1 prices "
        rf"for {rows:,} interactions a run"
    )
    assert re.search(
        r"automatic training: off — no training is billed beyond this run's; --auto-training "
        rf"would retrain every 7 days \({estimate}\)",
        off.stderr,
    )
    assert re.search(rf"automatic training: on .* each run billed \({estimate}\)", on.stderr)
    assert "3 h a run (the seed's figure)" in v1.stderr
    assert "automatic training off" in off.stderr
    assert "following the latest solution version" in on.stderr


class ProxyErrorPage(BaseHTTPRequestHandler):
    """What a corporate proxy answers instead of Personalize: 403 and an HTML page."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (
            b"<html><head><title>Blocked</title></head><body><h1>Access blocked</h1></body></html>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def proxy_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ProxyErrorPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cleanup_ends_with_a_table_and_exit_1_while_anything_is_left(
    moto_endpoint: str, proxy_endpoint: str, prepared_data_dir: Path, tmp_path: Path
) -> None:
    """Defect 4: Personalize unreachable (HTML 403): the table says what is left and why, as
    text; bucket and role are kept since Personalize resources may still read them."""
    from srs.aws.bootstrap import StorageOptions, setup_storage
    from srs.aws.state import DeploymentState

    name = f"c{uuid.uuid4().hex[:8]}"
    state_path = tmp_path / "aws-state.json"
    clients = make_aws_clients(moto_endpoint, "us-east-1")
    storage = setup_storage(
        clients,
        StorageOptions(name=name),
        prepared_data_dir / "dataset",
        DeploymentState.load(state_path),
        False,
        lambda line: None,
    )
    environment = {
        **moto_environment(moto_endpoint),
        "AWS_ENDPOINT_URL_PERSONALIZE": proxy_endpoint,
    }
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path), "aws", "cleanup"], env=environment
    )
    assert result.exit_code == 1, result.output
    table = result.stdout
    assert f"Clean-up of {name} in us-east-1" in table
    assert f"Personalize resources of {name}" in table and "failed: 403: Access" in table
    assert table.count("│ still there │") == 3 and "kept: Personalize resources" in table
    assert "<" not in table and "html" not in table
    clients.s3.head_bucket(Bucket=storage.bucket)
