"""boto3 clients for the AWS path, built from one session with botocore's retries configured.

botocore is the only retry layer: standard mode retries throttling and transient errors with
jittered backoff inside each call, so nothing in SRS loops over a throttled call again.
Callers (and tests) pass clients in; nothing here reads global state beyond boto3's own
credential chain (or the named ``--profile``), and nothing logs credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from srs.aws.errors import AwsError

RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 8})
"""Standard mode: throttling and transient errors retried with jittered backoff."""


@dataclass(frozen=True, slots=True)
class AwsClients:
    region: str
    sts: Any
    s3: Any
    iam: Any


def make_session(profile: str | None = None) -> Any:
    """A private boto3 session, of the named profile when one is given."""
    try:
        return boto3.session.Session(profile_name=profile or None)
    except ProfileNotFound as exc:
        raise AwsError(
            f"--profile {profile!r}: no such profile in the AWS config or credentials file"
        ) from exc


def make_clients(
    region: str, endpoint_url: str | None = None, session: Any | None = None
) -> AwsClients:
    """STS, S3 and IAM clients for ``region`` (``endpoint_url`` for moto or another endpoint)."""
    session = session or make_session()
    s3_config = RETRIES.merge(Config(s3={"addressing_style": "path"})) if endpoint_url else RETRIES

    def client(name: str, config: Config = RETRIES) -> Any:
        return session.client(name, region_name=region, endpoint_url=endpoint_url, config=config)

    return AwsClients(
        region=region, sts=client("sts"), s3=client("s3", s3_config), iam=client("iam")
    )


def make_client(
    service: str, region: str, endpoint_url: str | None = None, session: Any | None = None
) -> Any:
    """One client (personalize, personalize-runtime, personalize-events …) with retries on."""
    session = session or make_session()
    return session.client(service, region_name=region, endpoint_url=endpoint_url, config=RETRIES)


def personalize_regions() -> frozenset[str]:
    """Regions where Amazon Personalize has an endpoint, from botocore's bundled endpoint data."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("personalize", partition_name=partition)
    )


def check_personalize_region(region: str, available: frozenset[str] | None = None) -> str:
    """``region`` if Personalize runs there; else an error naming the regions where it does."""
    regions = personalize_regions() if available is None else available
    if region not in regions:
        raise AwsError(
            f"Amazon Personalize is not available in {region} (botocore's endpoint data); "
            f"choose one of: {', '.join(sorted(regions))} with --region"
        )
    return region
