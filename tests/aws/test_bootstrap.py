"""Bucket and role set-up and clean-up against moto's server over HTTP with real clients."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from srs.aws.bootstrap import StorageOptions, cleanup_storage, setup_storage
from srs.aws.bucket import (
    BucketNameError,
    check_bucket_name,
    create_bucket_arguments,
    personalize_bucket_policy,
)
from srs.aws.clients import AwsClients
from srs.aws.errors import AwsError
from srs.aws.naming import TAG_KEY, Deployment, DeploymentNameError
from srs.aws.role import access_policy, trust_policy
from srs.aws.state import DeploymentState, StateFileError

MOTO_ACCOUNT = "123456789012"
ClientsFactory = Callable[[str], AwsClients]


@pytest.fixture
def options() -> StorageOptions:
    """Unique names per test: tests share one moto server, and IAM names are account-wide."""
    return StorageOptions(name=f"t{uuid.uuid4().hex[:10]}")


def role_name(options: StorageOptions, region: str = "us-east-1") -> str:
    return Deployment(options.name, region).role_name


def policy_name(options: StorageOptions, region: str = "us-east-1") -> str:
    return Deployment(options.name, region).policy_name


@pytest.fixture
def dataset_dir(prepared_data_dir: Path) -> Path:
    return prepared_data_dir / "dataset"


def run_setup(
    clients: AwsClients,
    options: StorageOptions,
    dataset_dir: Path,
    state_path: Path,
    dry_run: bool = False,
) -> tuple[Any, list[str]]:
    lines: list[str] = []
    state = DeploymentState.load(state_path)
    result = setup_storage(clients, options, dataset_dir, state, dry_run, lines.append)
    return result, lines


def run_cleanup(
    clients: AwsClients, options: StorageOptions, state_path: Path, dry_run: bool = False
) -> list[str]:
    lines: list[str] = []
    cleanup_storage(clients, options, DeploymentState.load(state_path), dry_run, lines.append)
    return lines


def error_code_of(call: Callable[[], Any]) -> str:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def test_names_are_derived_from_deployment_name_account_and_region() -> None:
    deployment = Deployment("shop", "eu-west-1")
    assert deployment.bucket_name("123456789012") == "srs-shop-123456789012-eu-west-1"
    assert deployment.role_name == "srs-personalize-shop-eu-west-1"
    assert deployment.policy_name == "srs-s3-access-shop-eu-west-1"
    assert deployment.iam_tags() == [{"Key": TAG_KEY, "Value": "shop-eu-west-1"}]
    assert deployment.personalize_tags() == [{"tagKey": TAG_KEY, "tagValue": "shop-eu-west-1"}]
    other = Deployment("shop", "ap-south-1")
    assert other.role_name != deployment.role_name
    assert other.bucket_name("123456789012") != deployment.bucket_name("123456789012")
    longest = Deployment("x" * 20, "ap-southeast-2").bucket_name("123456789012")
    assert check_bucket_name(longest) == longest
    with pytest.raises(AwsError, match="not 12 digits"):
        deployment.bucket_name("12345")
    for bad in ("My-App", "srs_x", "x" * 21, "a--b", "-a", ""):
        with pytest.raises(DeploymentNameError, match="is not valid"):
            Deployment(bad, "us-east-1")
    with pytest.raises(BucketNameError, match="'srs_x' is not valid"):
        check_bucket_name("srs_x")


def test_location_constraint_only_outside_us_east_1() -> None:
    assert create_bucket_arguments("b", "us-east-1") == {"Bucket": "b"}
    assert create_bucket_arguments("b", "ap-south-1") == {
        "Bucket": "b",
        "CreateBucketConfiguration": {"LocationConstraint": "ap-south-1"},
    }


def test_policies_name_this_bucket_only() -> None:
    bucket_policy = personalize_bucket_policy("my-bucket", "srs/", MOTO_ACCOUNT, "eu-west-1")
    resources = [r for s in bucket_policy["Statement"] for r in s["Resource"]]
    assert all(r.startswith("arn:aws:s3:::my-bucket") for r in resources)
    read = bucket_policy["Statement"][0]
    assert read["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert sorted(read["Action"]) == ["s3:GetObject", "s3:ListBucket"]
    role_resources = [
        r for s in access_policy("my-bucket", "srs/")["Statement"] for r in s["Resource"]
    ]
    assert role_resources == [
        "arn:aws:s3:::my-bucket",
        "arn:aws:s3:::my-bucket/srs/*",
        "arn:aws:s3:::my-bucket/srs/batch-output/*",
    ]
    trust = trust_policy(MOTO_ACCOUNT, "eu-west-1")["Statement"][0]
    assert trust["Principal"] == {"Service": "personalize.amazonaws.com"}


def test_confused_deputy_conditions_in_bucket_policy_and_trust_policy() -> None:
    """Defect 7: both keys, on every grant to Personalize, for this account and region only."""
    expected = {
        "StringEquals": {"aws:SourceAccount": MOTO_ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:personalize:eu-west-1:{MOTO_ACCOUNT}:*"},
    }
    trust = trust_policy(MOTO_ACCOUNT, "eu-west-1")["Statement"]
    bucket = personalize_bucket_policy("b", "srs/", MOTO_ACCOUNT, "eu-west-1")["Statement"]
    assert [statement["Condition"] for statement in trust + bucket] == [expected] * 3


def test_setup_creates_a_private_encrypted_bucket_with_data_and_a_role(
    aws_clients_factory: ClientsFactory,
    options: StorageOptions,
    dataset_dir: Path,
    tmp_path: Path,
) -> None:
    clients = aws_clients_factory("us-east-1")
    state_path = tmp_path / "state.json"
    result, lines = run_setup(clients, options, dataset_dir, state_path)
    bucket = f"srs-{options.name}-{MOTO_ACCOUNT}-us-east-1"
    assert result.bucket == bucket and result.account_id == MOTO_ACCOUNT
    s3, iam = clients.s3, clients.iam

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy == personalize_bucket_policy(bucket, "srs/", MOTO_ACCOUNT, "us-east-1")
    tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert tags == [{"Key": TAG_KEY, "Value": f"{options.name}-us-east-1"}]

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    expected = sorted(f"srs/dataset/{p.name}" for p in dataset_dir.iterdir() if p.is_file())
    assert keys == expected and "srs/dataset/interactions.csv" in keys
    body = s3.get_object(Bucket=bucket, Key="srs/dataset/interactions.csv")["Body"].read()
    assert body == (dataset_dir / "interactions.csv").read_bytes()

    role = iam.get_role(RoleName=role_name(options))["Role"]
    assert role["Arn"] == result.role_arn
    assert role["Tags"] == [{"Key": TAG_KEY, "Value": f"{options.name}-us-east-1"}]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust == trust_policy(MOTO_ACCOUNT, "us-east-1")
    inline = iam.get_role_policy(RoleName=role_name(options), PolicyName=policy_name(options))
    assert inline["PolicyDocument"] == access_policy(bucket, "srs/")

    recorded = dict(DeploymentState.load(state_path).items())
    assert recorded["bucket"] == bucket
    assert recorded["role_arn"] == result.role_arn
    assert recorded["account_id"] == MOTO_ACCOUNT
    assert recorded["s3_uri:interactions.csv"] == f"s3://{bucket}/srs/dataset/interactions.csv"
    assert any("created" in line for line in lines)


def test_setup_outside_us_east_1_sets_the_location(
    aws_clients_factory: ClientsFactory, options: StorageOptions, dataset_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("eu-west-1")
    result, _ = run_setup(clients, options, dataset_dir, tmp_path / "state.json")
    location = clients.s3.get_bucket_location(Bucket=result.bucket)["LocationConstraint"]
    assert location == "eu-west-1"
    assert result.bucket.endswith("-eu-west-1")


def test_setup_twice_reuses_everything(
    aws_clients_factory: ClientsFactory, options: StorageOptions, dataset_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    state_path = tmp_path / "state.json"
    first, _ = run_setup(clients, options, dataset_dir, state_path)
    state_after_first = state_path.read_text()
    second, lines = run_setup(clients, options, dataset_dir, state_path)
    assert second.role_arn == first.role_arn and second.bucket == first.bucket
    assert any("exists, reusing" in line for line in lines)
    assert state_path.read_text() == state_after_first
    roles = [r["RoleName"] for r in clients.iam.list_roles()["Roles"]]
    assert roles.count(role_name(options)) == 1


def test_dry_run_setup_creates_nothing_and_says_what_it_would_do(
    aws_clients_factory: ClientsFactory, options: StorageOptions, dataset_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    state_path = tmp_path / "state.json"
    result, lines = run_setup(clients, options, dataset_dir, state_path, dry_run=True)
    text = "\n".join(lines)
    assert f"bucket {result.bucket}: would create in us-east-1" in text
    assert "would upload" in text and "interactions.csv" in text
    assert f"IAM role {role_name(options)}: would create" in text
    assert error_code_of(lambda: clients.s3.head_bucket(Bucket=result.bucket)) == "404"
    assert error_code_of(lambda: clients.iam.get_role(RoleName=role_name(options))) == (
        "NoSuchEntity"
    )
    assert not state_path.exists()


def test_cleanup_removes_everything_and_is_safe_to_run_twice(
    aws_clients_factory: ClientsFactory, options: StorageOptions, dataset_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    state_path = tmp_path / "state.json"
    result, _ = run_setup(clients, options, dataset_dir, state_path)

    planned = run_cleanup(clients, options, state_path, dry_run=True)
    assert any("would delete" in line and result.bucket in line for line in planned)
    assert any(policy_name(options) in line for line in planned)
    clients.s3.head_bucket(Bucket=result.bucket)  # still there after the dry run

    lines = run_cleanup(clients, options, state_path)
    assert any(f"bucket {result.bucket}: deleted" in line for line in lines)
    assert error_code_of(lambda: clients.s3.head_bucket(Bucket=result.bucket)) == "404"
    assert error_code_of(lambda: clients.iam.get_role(RoleName=role_name(options))) == (
        "NoSuchEntity"
    )
    remaining = dict(DeploymentState.load(state_path).items())
    assert "bucket" not in remaining and "role_arn" not in remaining

    again = run_cleanup(clients, options, state_path)
    assert f"bucket {result.bucket}: already gone" in again
    assert f"IAM role {role_name(options)}: already gone" in again


def test_cleanup_without_state_finds_resources_by_name(
    aws_clients_factory: ClientsFactory, options: StorageOptions, dataset_dir: Path, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    result, _ = run_setup(clients, options, dataset_dir, tmp_path / "state.json")
    run_cleanup(clients, options, tmp_path / "lost.json")
    assert error_code_of(lambda: clients.s3.head_bucket(Bucket=result.bucket)) == "404"


def test_missing_dataset_is_named(
    aws_clients_factory: ClientsFactory, options: StorageOptions, tmp_path: Path
) -> None:
    clients = aws_clients_factory("us-east-1")
    with pytest.raises(AwsError, match=r"no interactions.csv; run 'srs prepare' first"):
        run_setup(clients, options, tmp_path / "empty", tmp_path / "state.json")


def test_corrupt_state_file_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1,\n "resources": {oops}}\n')
    with pytest.raises(StateFileError, match=rf"{path}: line 2: not valid JSON"):
        DeploymentState.load(path)
