"""The IAM role Personalize assumes to read the bucket (and write batch output) — nothing more.

One role per deployment (its name carries the deployment's name and region), so two
deployments never rewrite each other's policy. The trust policy admits only
personalize.amazonaws.com acting for this account in this region (``aws:SourceAccount`` and
``aws:SourceArn``, against the confused-deputy problem); the inline policy names this bucket
and prefix only. ``put_role_policy`` replaces a policy of the same name, so re-running set-up
converges on the same role.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.bucket import BATCH_OUTPUT_PREFIX, PERSONALIZE_PRINCIPAL, personalize_conditions
from srs.aws.cleanup_outcome import DELETED, GONE, WOULD_DELETE, Outcome
from srs.aws.errors import aws_error, error_code
from srs.aws.naming import ACCOUNT_PLACEHOLDER, TAG_KEY, Deployment
from srs.aws.polling import Report


def trust_policy(account_id: str, region: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": PERSONALIZE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": personalize_conditions(account_id, region),
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
    deployment: Deployment,
    account_id: str,
    bucket: str,
    data_prefix: str,
    dry_run: bool,
    report: Report,
) -> str | None:
    """The role's ARN, creating the role if missing; None in a dry run of a missing role."""
    role_name, policy_name = deployment.role_name, deployment.policy_name
    if dry_run:
        arn = None if account_id == ACCOUNT_PLACEHOLDER else find_role_arn(iam, role_name)
        if account_id == ACCOUNT_PLACEHOLDER:
            report(f"IAM role {role_name}: would create (or reuse), trusting Personalize")
        else:
            verb = "exists" if arn else "would create"
            report(f"IAM role {role_name}: {verb} (trusts Personalize)")
        report(
            f"IAM role {role_name}: would set inline policy {policy_name} on s3://{bucket} "
            f"and tag {TAG_KEY}={deployment.key}"
        )
        return arn
    arn = find_role_arn(iam, role_name)
    trust = json.dumps(trust_policy(account_id, deployment.region))
    policy = json.dumps(access_policy(bucket, data_prefix))
    action = f"setting up IAM role {role_name!r}"
    try:
        if arn is None:
            arn = str(
                iam.create_role(
                    RoleName=role_name,
                    AssumeRolePolicyDocument=trust,
                    Description=(
                        f"Lets Amazon Personalize read the data of SRS deployment "
                        f"{deployment.key} from its S3 bucket."
                    ),
                    Tags=deployment.iam_tags(),
                )["Role"]["Arn"]
            )
            report(f"IAM role {role_name}: created")
        else:
            iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust)
            iam.tag_role(RoleName=role_name, Tags=deployment.iam_tags())
            report(f"IAM role {role_name}: exists, reusing")
        iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy)
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, action) from exc
    report(f"IAM role {role_name}: inline policy {policy_name} set")
    return arn


def delete_role(iam: Any, role_name: str, dry_run: bool, report: Report) -> Outcome:
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
            return Outcome(f"IAM role {role_name}", WOULD_DELETE, "with its policies")
        for name in inline:
            iam.delete_role_policy(RoleName=role_name, PolicyName=name)
        for policy_arn in attached:
            iam.detach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        iam.delete_role(RoleName=role_name)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            report(f"IAM role {role_name}: already gone")
            return Outcome(f"IAM role {role_name}", GONE, "already gone")
        raise aws_error(exc, f"deleting IAM role {role_name!r}") from exc
    except BotoCoreError as exc:
        raise aws_error(exc, f"deleting IAM role {role_name!r}") from exc
    report(f"IAM role {role_name}: deleted")
    return Outcome(f"IAM role {role_name}", DELETED, "with its policies")
