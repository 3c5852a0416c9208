"""The S3 bucket Personalize imports from: creation with safe defaults, tags, and removal.

Every write is idempotent: creating a bucket the account already owns, and re-applying the
public access block, encryption and policy, leave the same end state, so set-up can simply be
run again after a failure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.cleanup_outcome import DELETED, GONE, WOULD_DELETE, Outcome
from srs.aws.errors import AwsError, aws_error, error_code, message_text
from srs.aws.naming import ACCOUNT_PLACEHOLDER, TAG_KEY, Deployment
from srs.aws.polling import Report
from srs.data.store import S3Store

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"
BATCH_OUTPUT_PREFIX = "batch-output/"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_DELETE_BATCH = 1000  # DeleteObjects' limit


class BucketNameError(AwsError):
    """The bucket name breaks S3's naming rules."""


def check_bucket_name(name: str) -> str:
    """S3's rules for a bucket name usable everywhere (no dots: virtual-host TLS breaks)."""
    if not _BUCKET_NAME.match(name) or "--" in name or name.startswith("xn--"):
        raise BucketNameError(
            f"bucket name {name!r} is not valid: 3–63 characters of a–z, 0–9 and single "
            "hyphens, starting and ending with a letter or digit"
        )
    return name


def create_bucket_arguments(bucket: str, region: str) -> dict[str, Any]:
    """us-east-1 takes no LocationConstraint (and rejects one); every other region needs it."""
    if region == "us-east-1":
        return {"Bucket": bucket}
    return {"Bucket": bucket, "CreateBucketConfiguration": {"LocationConstraint": region}}


def personalize_conditions(account_id: str, region: str) -> dict[str, Any]:
    """Personalize acting for this account in this region only (confused-deputy prevention).

    The Personalize guide recommends both keys on every grant to its service principal, in the
    bucket policy and in the role's trust policy alike.
    """
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": f"arn:aws:personalize:{region}:{account_id}:*"},
    }


def personalize_bucket_policy(
    bucket: str, data_prefix: str, account_id: str, region: str
) -> dict[str, Any]:
    """Personalize may list and read this bucket, and write batch results under one prefix."""
    conditions = personalize_conditions(account_id, region)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PersonalizeReadData",
                "Effect": "Allow",
                "Principal": {"Service": PERSONALIZE_PRINCIPAL},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": conditions,
            },
            {
                "Sid": "PersonalizeWriteBatchOutput",
                "Effect": "Allow",
                "Principal": {"Service": PERSONALIZE_PRINCIPAL},
                "Action": ["s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{data_prefix}{BATCH_OUTPUT_PREFIX}*"],
                "Condition": conditions,
            },
        ],
    }


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = error_code(exc)
        if code in {"404", "NoSuchBucket", "NotFound"}:
            return False
        if code in {"403", "Forbidden", "AccessDenied"}:
            raise AwsError(
                f"bucket {bucket!r} exists but this account may not use it (owned by another "
                "account?); choose another name with --bucket"
            ) from exc
        raise aws_error(exc, f"checking bucket {bucket!r}") from exc
    except BotoCoreError as exc:
        raise aws_error(exc, f"checking bucket {bucket!r}") from exc
    return True


def ensure_bucket(
    s3: Any,
    bucket: str,
    deployment: Deployment,
    account_id: str,
    data_prefix: str,
    dry_run: bool,
    report: Report,
) -> None:
    """Create the bucket if missing, then (re)apply public access block, SSE-S3, policy, tags."""
    region = deployment.region
    policy = json.dumps(personalize_bucket_policy(bucket, data_prefix, account_id, region))
    if dry_run:
        if account_id == ACCOUNT_PLACEHOLDER:
            report(f"bucket {bucket}: would create in {region} (or reuse)")
        else:
            exists = bucket_exists(s3, bucket)
            report(f"bucket {bucket}: {'exists' if exists else f'would create in {region}'}")
        report(
            f"bucket {bucket}: would block all public access, set SSE-S3, set the bucket policy "
            f"and tag {TAG_KEY}={deployment.key}"
        )
        return
    exists = bucket_exists(s3, bucket)
    try:
        if not exists:
            try:
                s3.create_bucket(**create_bucket_arguments(bucket, region))
                report(f"bucket {bucket}: created in {region}")
            except ClientError as exc:
                if error_code(exc) == "BucketAlreadyExists":
                    raise AwsError(
                        f"bucket name {bucket!r} is taken by another account; "
                        "choose another with --bucket"
                    ) from exc
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise
        else:
            report(f"bucket {bucket}: exists, reusing")
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": deployment.iam_tags()})
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, f"setting up bucket {bucket!r}") from exc
    report(f"bucket {bucket}: public access blocked, SSE-S3 on, Personalize policy set, tagged")


def dataset_files(dataset_dir: Path) -> list[Path]:
    """The prepared files to upload; the interactions file is the one Personalize cannot lack."""
    directory = Path(dataset_dir)
    if not (directory / "interactions.csv").is_file():
        raise AwsError(f"{directory}: no interactions.csv; run 'srs prepare' first")
    return sorted(path for path in directory.iterdir() if path.is_file())


def upload_dataset(
    s3: Any,
    bucket: str,
    data_prefix: str,
    dataset_dir: Path,
    dry_run: bool,
    report: Report,
) -> dict[str, str]:
    """Upload the prepared dataset under ``{data_prefix}dataset/``; returns file name → S3 URI."""
    store = S3Store(bucket=bucket, prefix=data_prefix, client=s3)
    uris: dict[str, str] = {}
    for path in dataset_files(dataset_dir):
        key = f"dataset/{path.name}"
        uris[path.name] = store.uri(key)
        if dry_run:
            report(f"would upload {path} to {store.uri(key)}")
            continue
        store.put_file(key, path)
        report(f"uploaded {path.name} to {store.uri(key)}")
    return uris


def _object_batches(s3: Any, bucket: str) -> list[list[dict[str, str]]]:
    """Every object version and delete marker, in DeleteObjects-sized batches."""
    paginator = s3.get_paginator("list_object_versions")
    entries: list[dict[str, str]] = []
    for page in paginator.paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            entries.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
    return [
        entries[start : start + _DELETE_BATCH] for start in range(0, len(entries), _DELETE_BATCH)
    ]


def delete_bucket(s3: Any, bucket: str, dry_run: bool, report: Report) -> Outcome:
    """Empty the bucket (every version) and delete it; a bucket already gone is not an error."""
    what = f"bucket {bucket}"
    try:
        batches = _object_batches(s3, bucket)
        count = sum(len(batch) for batch in batches)
        if dry_run:
            report(f"would delete {count} object(s) and bucket {bucket}")
            return Outcome(what, WOULD_DELETE, f"{count} object(s)")
        for batch in batches:
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise AwsError(
                    f"deleting s3://{bucket}/{first.get('Key')} failed: "
                    f"{first.get('Code')}: {message_text(str(first.get('Message', '')))}"
                )
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in {"NoSuchBucket", "404", "NotFound"}:
            report(f"{what}: already gone")
            return Outcome(what, GONE, "already gone")
        raise aws_error(exc, f"deleting bucket {bucket!r}") from exc
    except BotoCoreError as exc:
        raise aws_error(exc, f"deleting bucket {bucket!r}") from exc
    report(f"{what}: deleted with {count} object(s)")
    return Outcome(what, DELETED, f"with {count} object(s)")
