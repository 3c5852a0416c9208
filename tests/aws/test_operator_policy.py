"""The shipped operator policy is derived from the code: every call granted, nothing else.

The AWS modules are parsed (not imported or run): every client method named in them, as an
attribute (``s3.put_bucket_policy(...)``) or as a string handed to a client (``"create_schema"``,
``get_paginator("list_role_policies")``), that is an operation of one of the services SRS uses
(per botocore's own service models) is an operation the code can call. S3Store's methods count
too, since the AWS path writes and reads the bucket through it. Each operation maps to the IAM
action that authorizes it (S3's differ from the operation names, so they are listed here), plus
the actions a parameter implies: passing ``tags`` needs TagResource, passing ``roleArn`` needs
PassRole.
"""

from __future__ import annotations

import ast
import fnmatch
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

import srs.aws
import srs.data.store
from srs.aws.naming import Deployment

AWS_SOURCES = Path(srs.aws.__file__).parent
SERVICES = {
    "personalize": "personalize",
    "personalize-runtime": "personalize",
    "personalize-events": "personalize",
    "s3": "s3",
    "iam": "iam",
    "sts": "sts",
}
S3_ACTIONS = {
    "CreateBucket": {"s3:CreateBucket"},
    "DeleteBucket": {"s3:DeleteBucket"},
    "HeadBucket": {"s3:ListBucket"},
    "ListObjectsV2": {"s3:ListBucket"},
    "ListObjectVersions": {"s3:ListBucketVersions"},
    "PutPublicAccessBlock": {"s3:PutBucketPublicAccessBlock"},
    "PutBucketEncryption": {"s3:PutEncryptionConfiguration"},
    "PutBucketPolicy": {"s3:PutBucketPolicy"},
    "PutBucketTagging": {"s3:PutBucketTagging"},
    "PutObject": {"s3:PutObject"},
    "GetObject": {"s3:GetObject"},
    "HeadObject": {"s3:GetObject"},
    "DeleteObject": {"s3:DeleteObject"},
    "DeleteObjects": {"s3:DeleteObject", "s3:DeleteObjectVersion"},
}
TRANSFER_ACTIONS = {
    "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "download_fileobj": {"s3:GetObject"},
}
IMPLIED_BY_PARAMETER = {"tags": "personalize:TagResource", "roleArn": "iam:PassRole"}


def operations() -> dict[str, tuple[str, str]]:
    """snake_case method name → (service, OperationName), over the services SRS uses."""
    session = botocore.session.get_session()
    found: dict[str, tuple[str, str]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            name = xform_name(operation)
            assert name not in found, f"{name} is in {found[name][0]} and {service}"
            found[name] = (service, operation)
    return found


def source_trees() -> Iterator[ast.AST]:
    for path in sorted(AWS_SOURCES.glob("*.py")):
        yield ast.parse(path.read_text("utf-8"))
    store = ast.parse(Path(srs.data.store.__file__).read_text("utf-8"))
    yield next(
        node
        for node in ast.walk(store)
        if isinstance(node, ast.ClassDef) and node.name == "S3Store"
    )


def names_in_code() -> set[str]:
    """Attribute names, string constants and keyword names anywhere in the AWS code."""
    names: set[str] = set()
    for tree in source_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
    return names


def called_operations() -> set[tuple[str, str]]:
    known = operations()
    return {known[name] for name in names_in_code() if name in known}


def action_of(service: str, operation: str) -> set[str]:
    if service == "s3":
        assert operation in S3_ACTIONS, f"name the IAM action of s3:{operation} in S3_ACTIONS"
        return S3_ACTIONS[operation]
    return {f"{SERVICES[service]}:{operation}"}


def needed_actions() -> set[str]:
    names = names_in_code()
    actions = {
        action
        for service, operation in called_operations()
        for action in action_of(service, operation)
    }
    actions |= {
        a for method, granted in TRANSFER_ACTIONS.items() if method in names for a in granted
    }
    actions |= {action for name, action in IMPLIED_BY_PARAMETER.items() if name in names}
    return actions


def policy() -> dict[str, Any]:
    text = resources.files("srs.aws").joinpath("operator_policy.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def shipped_actions() -> set[str]:
    actions: set[str] = set()
    for statement in policy()["Statement"]:
        granted = statement["Action"]
        actions.update([granted] if isinstance(granted, str) else granted)
    return actions


def test_the_code_is_seen_calling_what_it_calls() -> None:
    """The collector finds calls made every way the code makes them."""
    called = {operation for _, operation in called_operations()}
    assert {
        "UpdateCampaign",  # self._call("update_campaign", …)
        "StopSolutionVersionCreation",  # self.client.stop_solution_version_creation(…)
        "CreateBatchInferenceJob",  # personalize.create_batch_inference_job(**params)
        "ListBatchInferenceJobs",  # get_paginator("list_batch_inference_jobs")
        "ListRolePolicies",  # get_paginator("list_role_policies")
        "DeleteCampaign",  # Kind(…, "delete_campaign", …)
        "PutObject",  # S3Store.put_bytes
        "GetRecommendations",
        "PutEvents",
    } <= called


def test_every_operation_the_code_calls_is_granted() -> None:
    """Defect 3: UpdateCampaign and the batch-inference actions were missing."""
    assert sorted(needed_actions() - shipped_actions()) == []


def test_the_policy_grants_nothing_the_code_does_not_call() -> None:
    assert sorted(shipped_actions() - needed_actions()) == []


def test_no_wildcard_actions() -> None:
    assert not [action for action in shipped_actions() if "*" in action]


def test_resources_cover_every_deployment_and_nothing_wider() -> None:
    statements = {statement["Sid"]: statement for statement in policy()["Statement"]}
    deployment = Deployment("shop", "ap-south-1")
    bucket = deployment.bucket_name("123456789012")
    role_arn = f"arn:aws:iam::123456789012:role/{deployment.role_name}"
    bucket_patterns = statements["DataBucket"]["Resource"]
    assert fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}", bucket_patterns[0])
    assert fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/srs/dataset/x.csv", bucket_patterns[1])
    assert not fnmatch.fnmatchcase("arn:aws:s3:::company-data", bucket_patterns[0])
    for sid in ("PersonalizeRole", "PassRoleToPersonalizeOnly"):
        assert fnmatch.fnmatchcase(role_arn, statements[sid]["Resource"])
        assert not fnmatch.fnmatchcase(
            "arn:aws:iam::123456789012:role/Admin", statements[sid]["Resource"]
        )
