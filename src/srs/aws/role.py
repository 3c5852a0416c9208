"""The IAM role Personalize assumes to read the bucket (and write batch output) — nothing more.

The trust policy admits only personalize.amazonaws.com acting for this account (the
``aws:SourceAccount`` condition guards against the confused-deputy problem); the inline policy
names this bucket and prefix only. ``put_role_policy`` replaces a policy of the same name, so
re-running set-up converges on the same role.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.bucket import BATCH_OUTPUT_PREFIX, PERSONALIZE_PRINCIPAL
from srs.aws.errors import aws_error, error_code
from srs.aws.polling import Report

DEFAULT_ROLE_NAME = "SRSPersonalizeServiceRole"
DEFAULT_POLICY_NAME = "SRSPersonalizeS3Access"


def trust_policy(account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": PERSONALIZE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def access_policy(bucket: str, data_prefix: str = "") -> dict[str, Any]:
    """List the bucket, read under the data prefix, write only batch output."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListDataBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
            },
            {
                "Sid": "ReadPreparedData",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{data_prefix}*"],
            },
            {
                "Sid": "WriteBatchOutput",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{data_prefix}{BATCH_OUTPUT_PREFIX}*"],
            },
        ],
    }


def find_role_arn(iam: Any, role_name: str) -> str | None:
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise aws_error(exc, f"looking up IAM role {role_name!r}") from exc
    except BotoCoreError as exc:
        raise aws_error(exc, f"looking up IAM role {role_name!r}") from exc
    return str(role["Arn"])


def ensure_role(
    iam: Any,
    role_name: str,
    policy_name: str,
    account_id: str,
    bucket: str,
    data_prefix: str,
    dry_run: bool,
    report: Report,
) -> str | None:
    """The role's ARN, creating the role if missing; None in a dry run of a missing role."""
    arn = find_role_arn(iam, role_name)
    trust = json.dumps(trust_policy(account_id))
    policy = json.dumps(access_policy(bucket, data_prefix))
    if dry_run:
        report(f"IAM role {role_name}: {'exists' if arn else 'would create'} (trusts Personalize)")
        report(f"IAM role {role_name}: would set inline policy {policy_name} on s3://{bucket}")
        return arn
    action = f"setting up IAM role {role_name!r}"
    try:
        if arn is None:
            arn = str(
                iam.create_role(
                    RoleName=role_name,
                    AssumeRolePolicyDocument=trust,
                    Description="Lets Amazon Personalize read SRS data from its S3 bucket.",
                    Tags=[{"Key": "app", "Value": "srs"}],
                )["Role"]["Arn"]
            )
            report(f"IAM role {role_name}: created")
        else:
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
            report(f"IAM role {role_name}: exists, reusing")
        iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, action) from exc
    report(f"IAM role {role_name}: inline policy {policy_name} set")
    return arn


def delete_role(iam: Any, role_name: str, dry_run: bool, report: Report) -> None:
    """Remove inline and attached policies, then the role; a role already gone is fine."""
    try:
        inline = [
            name
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
            for name in page["PolicyNames"]
        ]
        attached = [
            policy["PolicyArn"]
            for page in iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=role_name
            )
            for policy in page["AttachedPolicies"]
        ]
        if dry_run:
            report(
                f"would delete IAM role {role_name} with inline policies {inline or 'none'}"
                f" and detach {attached or 'none'}"
            )
            return
        for name in inline:
            iam.delete_role_policy(RoleName=role_name, PolicyName=name)
        for policy_arn in attached:
            iam.detach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        iam.delete_role(RoleName=role_name)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            report(f"IAM role {role_name}: already gone")
            return
        raise aws_error(exc, f"deleting IAM role {role_name!r}") from exc
    except BotoCoreError as exc:
        raise aws_error(exc, f"deleting IAM role {role_name!r}") from exc
    report(f"IAM role {role_name}: deleted")
