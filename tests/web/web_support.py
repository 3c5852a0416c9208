"""Builders for the web tests: a real data directory, the real local service, the app.

The data is the project's synthetic generator (200 users) with two hostile values
planted in it: a service and a user whose names are HTML script tags. They travel the
real path (source CSV → prepare → train → service → page), so the escaping tests see
exactly what a user with such data would see. The trained directory is built once
per session and copied for each consumer, so tests that record events cannot leak
into one another.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from srs.catalog import load_catalog
from srs.config import Settings, load_settings
from srs.data.prepare import prepare_dataset
from srs.data.synthetic import generate_interactions, write_source
from srs.serving.service import RecommendationService
from srs.web import create_app

EVIL_SERVICE = '<script>alert("svc")</script>'
EVIL_USER = '<script>alert("uid")</script>'
ADMIN_TOKEN = "test-admin-token"
BODY_LIMIT = 64 * 1024
USERS = 200


@dataclass(frozen=True)
class DataFacts:
    """What the tests need to know about the planted data."""

    renamed_service: str  # the catalogue name that became EVIL_SERVICE
    evil_service_user: str  # a plain user whose history holds EVIL_SERVICE


def settings_for(data_dir: Path) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": data_dir})


def write_prepared_data(data_dir: Path) -> DataFacts:
    """Generate, plant the hostile names, and prepare the dataset in ``data_dir``."""
    settings = settings_for(data_dir)
    catalog = load_catalog()
    data = generate_interactions(users=USERS, interactions_per_user=15, seed=1)
    frame = data.interactions
    renamed = str(frame["AWS Service"].value_counts().index[0])
    frame.loc[frame["AWS Service"] == renamed, "AWS Service"] = EVIL_SERVICE
    frame.loc[frame["User ID"] == "user_000002", "User ID"] = EVIL_USER
    catalog.loc[catalog["name"] == renamed, "name"] = EVIL_SERVICE
    users_of_evil = frame.loc[frame["AWS Service"] == EVIL_SERVICE, "User ID"]
    evil_service_user = str(sorted(u for u in users_of_evil.unique() if u != EVIL_USER)[0])
    data_dir.mkdir(parents=True, exist_ok=True)
    write_source(data, settings.source_path)
    prepare_dataset(settings.source_path, settings.dataset_dir, catalog=catalog)
    return DataFacts(renamed_service=renamed, evil_service_user=evil_service_user)


def train_model(settings: Settings) -> None:
    """The real training path; tuning is skipped (the engine's tests cover it) to stay fast."""
    from srs.training import train_and_activate

    train_and_activate(settings, tune=False)


def load_local_service(settings: Settings) -> RecommendationService:
    from srs.serving.local_service import LocalRecommendationService

    service: RecommendationService = LocalRecommendationService.from_settings(settings)
    return service


def copy_template(template: Path, target: Path) -> Settings:
    shutil.copytree(template, target)
    return settings_for(target)


def build_app(service: RecommendationService, settings: Settings, **overrides: Any) -> Flask:
    retrain = overrides.pop("retrain", None)
    config = {"SRS_ADMIN_TOKEN": ADMIN_TOKEN, "MAX_CONTENT_LENGTH": BODY_LIMIT, **overrides}
    return create_app(service, settings, config, retrain=retrain)


# --- a real server and browser ----------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server not ready after {STARTUP_SECONDS} s:\n{log.read_text()}")


@contextlib.contextmanager
def running_server(
    data_dir: Path, root: Path, workers: int, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """``python -m srs.web.serve`` (granian) over ``data_dir`` on a free loopback port,
    stopped when the block ends; yields its base URL. The caller's SRS_* settings are left out
    so the server reads only ``data_dir`` and the ``SRS_*`` variables in ``settings``."""
    port = free_port()
    log = root / "server.log"
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SRS_", "PROMETHEUS"))
    }
    environ.update(settings or {})
    environ["SRS_DATA_DIR"] = str(data_dir)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "srs.web.serve", "--port", str(port), "--workers", str(workers)],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
