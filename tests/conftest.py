"""Fixtures shared by every test package: an S3 endpoint served by moto on localhost.

The moto server runs once per session in a thread; tests talk to it over real HTTP with real
boto3 clients, so request signing, pagination and error responses go through botocore exactly
as against AWS. Credentials are dummies passed to the client constructor, so no test depends on
(or leaks into) the process environment. Each test gets its own bucket, which keeps tests
independent while they share one server.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
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


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a small synthetic source, prepared (no model yet). Read-only."""
    from srs.catalog import load_catalog
    from srs.config import load_settings
    from srs.data.prepare import prepare_dataset
    from srs.data.synthetic import generate_interactions, write_source

    directory = tmp_path_factory.mktemp("prepared")
    settings = load_settings(environ={}, overrides={"data_dir": directory})
    catalog = load_catalog()
    data = generate_interactions(users=300, interactions_per_user=15, seed=7, catalog=catalog)
    write_source(data, settings.source_path)
    prepare_dataset(settings.source_path, settings.dataset_dir, catalog=catalog)
    return directory


@pytest.fixture
def data_dir(prepared_data_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the prepared data directory, free to change."""
    target = tmp_path / "data"
    shutil.copytree(prepared_data_dir, target)
    return target
