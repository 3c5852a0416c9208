"""Set-up and clean-up of the storage side of a deployment: the S3 bucket and the IAM role.

The account comes from STS, the bucket and role names from the deployment's name, account and
region, so a second run (or a clean-up with a lost state file) finds the same resources by name
and another deployment never does. Every resource is recorded in the state file as soon as it
exists; clean-up removes what the state names, falling back to the derived names, and forgets
each entry once it is gone. A dry run with no credentials at all still prints the plan, with a
placeholder where the account would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.bucket import check_bucket_name, delete_bucket, ensure_bucket, upload_dataset
from srs.aws.cleanup_outcome import STILL_THERE, Outcome
from srs.aws.clients import AwsClients
from srs.aws.errors import AwsError, MissingCredentialsError, aws_error
from srs.aws.naming import ACCOUNT_PLACEHOLDER, Deployment
from srs.aws.polling import Report
from srs.aws.role import delete_role, ensure_role
from srs.aws.state import DeploymentState


@dataclass(frozen=True, slots=True)
class StorageOptions:
    """The deployment's name, the data prefix, and ``bucket`` to override the derived name."""

    name: str = "srs"
    data_prefix: str = "srs/"
    bucket: str | None = None


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


def resolve_bucket(options: StorageOptions, deployment: Deployment, account: str) -> str:
    if options.bucket:
        return check_bucket_name(options.bucket)
    return deployment.bucket_name(account)


def _dry_run_account(clients: AwsClients, report: Report) -> str:
    try:
        return account_id(clients)
    except MissingCredentialsError:
        report(f"no AWS credentials: the plan below shows {ACCOUNT_PLACEHOLDER} for the account")
        return ACCOUNT_PLACEHOLDER


def setup_storage(
    clients: AwsClients,
    options: StorageOptions,
    dataset_dir: Path,
    state: DeploymentState,
    dry_run: bool,
    report: Report,
) -> StorageResult:
    """Bucket (private, encrypted, readable by Personalize), dataset upload and IAM role."""
    deployment = Deployment(options.name, clients.region)
    account = _dry_run_account(clients, report) if dry_run else account_id(clients)
    bucket = resolve_bucket(options, deployment, account)
    prefix = _normal_prefix(options.data_prefix)
    report(f"deployment {options.name}: account {account}, region {deployment.region}")
    if not dry_run:
        state.record("account_id", account)
        state.record("region", deployment.region)
        state.record("name", options.name)
    ensure_bucket(clients.s3, bucket, deployment, account, prefix, dry_run, report)
    if not dry_run:
        state.record("bucket", bucket)
        state.record("data_prefix", prefix)
    uploads = upload_dataset(clients.s3, bucket, prefix, dataset_dir, dry_run, report)
    role_arn = ensure_role(clients.iam, deployment, account, bucket, prefix, dry_run, report)
    if not dry_run:
        for name, uri in uploads.items():
            state.record(f"s3_uri:{name}", uri)
        state.record("role_name", deployment.role_name)
        if role_arn:
            state.record("role_arn", role_arn)
    return StorageResult(account_id=account, bucket=bucket, role_arn=role_arn, uploads=uploads)


def cleanup_storage(
    clients: AwsClients,
    options: StorageOptions,
    state: DeploymentState,
    dry_run: bool,
    report: Report,
    keep_reason: str | None = None,
) -> list[Outcome]:
    """Delete the bucket (with every object) and the role, each on its own; one row each.

    ``keep_reason`` (Personalize resources still need them) keeps both, with that reason.
    """
    deployment = Deployment(options.name, clients.region)
    role_name = state.get("role_name") or deployment.role_name
    bucket = state.get("bucket") or options.bucket
    outcomes: list[Outcome] = []
    if bucket is None:
        try:
            bucket = resolve_bucket(options, deployment, account_id(clients))
        except AwsError as exc:
            outcomes.append(Outcome(f"bucket of {deployment.key}", STILL_THERE, str(exc)))
    if keep_reason is not None:
        kept = [f"bucket {bucket}"] if bucket else []
        return outcomes + [
            Outcome(what, STILL_THERE, keep_reason) for what in [*kept, f"IAM role {role_name}"]
        ]
    if bucket is not None:
        try:
            outcomes.append(delete_bucket(clients.s3, bucket, dry_run, report))
            if not dry_run:
                for key, _ in state.items():
                    if key.startswith("s3_uri:"):
                        state.forget(key)
                for key in ("bucket", "data_prefix"):
                    state.forget(key)
        except AwsError as exc:
            outcomes.append(Outcome(f"bucket {bucket}", STILL_THERE, str(exc)))
    try:
        outcomes.append(delete_role(clients.iam, role_name, dry_run, report))
        if not dry_run:
            for key in ("role_name", "role_arn"):
                state.forget(key)
    except AwsError as exc:
        outcomes.append(Outcome(f"IAM role {role_name}", STILL_THERE, str(exc)))
    return outcomes
