"""Clients for moto's server (shared fixture ``moto_endpoint``): STS, S3 and IAM over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_support import make_aws_clients

from srs.aws.clients import AwsClients


@pytest.fixture
def aws_clients_factory(moto_endpoint: str) -> Callable[[str], AwsClients]:
    return lambda region: make_aws_clients(moto_endpoint, region)
