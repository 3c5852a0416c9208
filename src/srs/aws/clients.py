"""boto3 clients for the AWS path, built in one private session with retries configured.

Callers (and tests) pass clients in; nothing here reads global state beyond boto3's own
credential chain, and nothing logs credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
"""Standard mode retries throttling and transient errors with jittered backoff."""


@dataclass(frozen=True, slots=True)
class AwsClients:
    region: str
    sts: Any
    s3: Any
    iam: Any


def make_clients(
    region: str, endpoint_url: str | None = None, session: Any | None = None
) -> AwsClients:
    """STS, S3 and IAM clients for ``region`` (``endpoint_url`` for moto or another endpoint)."""
    session = session or boto3.session.Session()
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
    session = session or boto3.session.Session()
    return session.client(service, region_name=region, endpoint_url=endpoint_url, config=RETRIES)
