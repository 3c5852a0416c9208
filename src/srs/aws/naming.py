"""The names and the tag of one deployment's resources, derived from its name and region.

A deployment is a name (``--name``) in a region. Everything account-wide (the IAM role and its
inline policy) and everything globally named (the bucket) carries both, so two deployments, in
two regions or under two names, never share or overwrite a resource, and clean-up of one
cannot reach the other. Personalize's own names are unique per account *and region* already
(the region is part of every ARN), so they carry the name only. Every resource that can be
tagged gets ``srs:deployment`` so the bill and the console can be read per deployment.

The fixed prefixes (``srs-`` for buckets, ``srs-personalize-`` for roles) are what the shipped
operator policy scopes its S3 and IAM permissions to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from srs.aws.errors import AwsError

TAG_KEY = "srs:deployment"
BUCKET_PREFIX = "srs-"
ROLE_PREFIX = "srs-personalize-"
ACCOUNT_PLACEHOLDER = "<account-id>"
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


class DeploymentNameError(AwsError):
    """A deployment name that would make invalid S3, IAM or Personalize names."""


def check_deployment_name(name: str) -> str:
    """Lower-case letters, digits and single hyphens: valid in every name derived from it."""
    if not _NAME.match(name):
        raise DeploymentNameError(
            f"--name {name!r} is not valid: 1–20 characters of a–z, 0–9 and single hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment: ``name`` in ``region``; see the module docstring."""

    name: str
    region: str

    def __post_init__(self) -> None:
        check_deployment_name(self.name)
        if not _REGION.match(self.region):
            raise AwsError(f"region {self.region!r} is not an AWS region name (e.g. eu-west-1)")

    @property
    def key(self) -> str:
        return f"{self.name}-{self.region}"

    @property
    def role_name(self) -> str:
        return f"{ROLE_PREFIX}{self.key}"

    @property
    def policy_name(self) -> str:
        return f"srs-s3-access-{self.key}"

    def bucket_name(self, account_id: str) -> str:
        """``srs-{name}-{account}-{region}``: globally unique, stable across runs."""
        if account_id != ACCOUNT_PLACEHOLDER and not re.fullmatch(r"\d{12}", account_id):
            raise AwsError(f"account ID {account_id!r} is not 12 digits")
        return f"{BUCKET_PREFIX}{self.name}-{account_id}-{self.region}"

    def iam_tags(self) -> list[dict[str, str]]:
        """IAM's and S3's tag shape (``Key``/``Value``)."""
        return [{"Key": TAG_KEY, "Value": self.key}]

    def personalize_tags(self) -> list[dict[str, str]]:
        """Personalize's tag shape (``tagKey``/``tagValue``)."""
        return [{"tagKey": TAG_KEY, "tagValue": self.key}]
