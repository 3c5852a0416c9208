"""Real boto3 clients for moto's server, importable by tests by a name no other folder uses
(``conftest`` is one module name across the whole suite)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from srs.aws.clients import AwsClients


def make_aws_clients(endpoint_url: str, region: str) -> AwsClients:
    """Real boto3 clients with dummy credentials of their own, never the environment's."""
    session = boto3.session.Session()

    def client(name: str, config: Config | None = None) -> object:
        return session.client(
            name,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            config=config,
        )

    return AwsClients(
        region=region,
        sts=client("sts"),
        s3=client("s3", Config(s3={"addressing_style": "path"})),
        iam=client("iam"),
    )
