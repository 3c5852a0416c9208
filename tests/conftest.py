"""Fixtures shared by every test package: an S3 endpoint served by moto on localhost.

The moto server runs once per session in a thread; tests talk to it over real HTTP with real
boto3 clients, so request signing, pagination and error responses go through botocore exactly
as against AWS. Credentials are dummies passed to the client constructor, so no test depends on
(or leaks into) the process environment. Each test gets its own bucket, which keeps tests
independent while they share one server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server on a free port of 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def make_s3_client(endpoint_url: str, config: Config | None = None) -> Any:
    """A real boto3 S3 client for ``endpoint_url``, with dummy credentials of its own."""
    session = boto3.session.Session()
    return session.client(
        "s3",
        region_name=S3_REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=config,
    )


S3ClientFactory = Callable[..., Any]


@pytest.fixture
def s3_client_factory(moto_endpoint: str) -> S3ClientFactory:
    """Build a fresh client (moto's endpoint unless told otherwise), e.g. to attach a Stubber."""

    def build(endpoint_url: str | None = None, config: Config | None = None) -> Any:
        return make_s3_client(endpoint_url or moto_endpoint, config)

    return build


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    return make_s3_client(moto_endpoint)


@pytest.fixture
def s3_bucket(s3_client: Any) -> Iterator[str]:
    """A fresh, empty bucket for one test; emptied and removed afterwards."""
    name = f"srs-test-{uuid.uuid4().hex}"
    s3_client.create_bucket(Bucket=name)
    yield name
    paginator = s3_client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=name):
            for item in page.get("Contents", []):
                s3_client.delete_object(Bucket=name, Key=item["Key"])
        s3_client.delete_bucket(Bucket=name)
    except s3_client.exceptions.NoSuchBucket:
        pass
