"""Fixtures for the web layer: the trained data directory, the real local service, the app.

The trained directory is built once per session and copied for each consumer, so tests
that record events cannot leak into one another.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import (
    DataFacts,
    build_app,
    copy_template,
    load_local_service,
    settings_for,
    train_model,
    write_prepared_data,
)

from srs.config import Settings
from srs.serving.service import RecommendationService


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DataFacts]:
    """A prepared and trained data directory; copy it, never write into it."""
    data_dir = tmp_path_factory.mktemp("web-template")
    facts = write_prepared_data(data_dir)
    train_model(settings_for(data_dir))
    return data_dir, facts


@pytest.fixture(scope="session")
def facts(trained_template: tuple[Path, DataFacts]) -> DataFacts:
    return trained_template[1]


@pytest.fixture(scope="module")
def data_settings(
    trained_template: tuple[Path, DataFacts], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """A private copy of the trained directory for one test module."""
    return copy_template(trained_template[0], tmp_path_factory.mktemp("web-data") / "data")


@pytest.fixture(scope="module")
def service(data_settings: Settings) -> RecommendationService:
    return load_local_service(data_settings)


@pytest.fixture
def app(service: RecommendationService, data_settings: Settings) -> Flask:
    return build_app(service, data_settings)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client
