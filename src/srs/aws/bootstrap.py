"""Set-up and clean-up of the storage side of a deployment: the S3 bucket and the IAM role.

The account comes from STS, the bucket name from account and region, so a second run (or a
clean-up with a lost state file) finds the same resources by name. Every resource is recorded in
the state file as soon as it exists; clean-up removes what the state names, falling back to the
derived names, and forgets each entry once it is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.bucket import (
    bucket_name,
    check_bucket_name,
    delete_bucket,
    ensure_bucket,
    upload_dataset,
)
from srs.aws.clients import AwsClients
from srs.aws.errors import aws_error
from srs.aws.polling import Report
from srs.aws.role import DEFAULT_POLICY_NAME, DEFAULT_ROLE_NAME, delete_role, ensure_role
from srs.aws.state import DeploymentState


@dataclass(frozen=True, slots=True)
class StorageOptions:
    """Names of the storage resources; ``bucket`` overrides the derived name."""

    data_prefix: str = "srs/"
    bucket: str | None = None
    bucket_prefix: str = "srs"
    role_name: str = DEFAULT_ROLE_NAME
    policy_name: str = DEFAULT_POLICY_NAME


@dataclass(frozen=True, slots=True)
class StorageResult:
    account_id: str
    bucket: str
    role_arn: str | None
    uploads: dict[str, str] = field(default_factory=dict)


def account_id(clients: AwsClients) -> str:
    try:
        return str(clients.sts.get_caller_identity()["Account"])
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, "finding the AWS account (sts:GetCallerIdentity)") from exc


def _normal_prefix(prefix: str) -> str:
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


def resolve_bucket(options: StorageOptions, account: str, region: str) -> str:
    if options.bucket:
        return check_bucket_name(options.bucket)
    return bucket_name(account, region, options.bucket_prefix)


def setup_storage(
    clients: AwsClients,
    options: StorageOptions,
    dataset_dir: Path,
    state: DeploymentState,
    dry_run: bool,
    report: Report,
) -> StorageResult:
    """Bucket (private, encrypted, readable by Personalize), dataset upload and IAM role."""
    account = account_id(clients)
    region = clients.region
    bucket = resolve_bucket(options, account, region)
    prefix = _normal_prefix(options.data_prefix)
    report(f"account {account}, region {region}")
    if not dry_run:
        state.record("account_id", account)
        state.record("region", region)
    ensure_bucket(clients.s3, bucket, region, prefix, dry_run, report)
    if not dry_run:
        state.record("bucket", bucket)
        state.record("data_prefix", prefix)
    uploads = upload_dataset(clients.s3, bucket, prefix, dataset_dir, dry_run, report)
    role_arn = ensure_role(
        clients.iam,
        options.role_name,
        options.policy_name,
        account,
        bucket,
        prefix,
        dry_run,
        report,
    )
    if not dry_run:
        for name, uri in uploads.items():
            state.record(f"s3_uri:{name}", uri)
        state.record("role_name", options.role_name)
        if role_arn:
            state.record("role_arn", role_arn)
    return StorageResult(account_id=account, bucket=bucket, role_arn=role_arn, uploads=uploads)


def cleanup_storage(
    clients: AwsClients,
    options: StorageOptions,
    state: DeploymentState,
    dry_run: bool,
    report: Report,
) -> None:
    """Delete the bucket (with every object) and the role; already-gone resources are fine."""
    bucket = state.get("bucket")
    if bucket is None:
        bucket = resolve_bucket(options, account_id(clients), clients.region)
    role_name = state.get("role_name") or options.role_name
    delete_bucket(clients.s3, bucket, dry_run, report)
    delete_role(clients.iam, role_name, dry_run, report)
    if dry_run:
        return
    for key, _ in state.items():
        if key.startswith("s3_uri:"):
            state.forget(key)
    for key in ("bucket", "data_prefix", "role_name", "role_arn"):
        state.forget(key)
