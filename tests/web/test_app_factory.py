"""The app factories: configuration sources, and what every gunicorn worker must agree on."""

from __future__ import annotations

import dataclasses
import re

import pytest

from srs.config import ConfigError, Settings, load_settings
from srs.web import create_app_from_settings, web_config_from_environ, web_config_from_settings


def test_web_config_comes_from_the_srs_settings() -> None:
    settings = load_settings(
        environ={
            "SRS_ADMIN_TOKEN": "tok",
            "SRS_SECRET_KEY": "key",
            "SRS_MAX_BODY_BYTES": "2048",
        }
    )
    assert web_config_from_settings(settings) == {
        "SRS_ADMIN_TOKEN": "tok",
        "SECRET_KEY": "key",
        "MAX_CONTENT_LENGTH": 2048,
    }
    assert web_config_from_environ({"PROMETHEUS_MULTIPROC_DIR": "/m", "SRS_UNRELATED": "x"}) == {
        "PROMETHEUS_MULTIPROC_DIR": "/m"
    }
    assert web_config_from_settings(load_settings(environ={}))["MAX_CONTENT_LENGTH"] == 262_144


@pytest.mark.parametrize("raw", ["0", "-1", "lots", "1.5"])
def test_a_bad_body_limit_names_the_setting(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"max_body_bytes|SRS_MAX_BODY_BYTES"):
        load_settings(environ={"SRS_MAX_BODY_BYTES": raw})


def test_workers_built_from_the_same_settings_share_the_session_key(
    data_settings: Settings,
) -> None:
    settings = dataclasses.replace(data_settings, admin_token="tok", max_body_bytes=4096)
    first = create_app_from_settings(settings, {})
    second = create_app_from_settings(settings, {})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["MAX_CONTENT_LENGTH"] == 4096

    browser = first.test_client()
    html = browser.get("/?user=user_000003").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    item = re.search(r'name="item_id" value="([^"]+)"', html)
    cookie = browser.get_cookie("srs_session")
    assert token and item and cookie
    other_worker = second.test_client()
    other_worker.set_cookie("srs_session", cookie.value)
    form = {
        "csrf_token": token.group(1),
        "user_id": "user_000003",
        "item_id": item.group(1),
        "event_type": "liked",
    }
    assert other_worker.post("/feedback", data=form).status_code == 303

    response = first.test_client().post("/admin/retrain", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_an_explicit_secret_key_wins(data_settings: Settings) -> None:
    app = create_app_from_settings(dataclasses.replace(data_settings, secret_key="fixed-key"), {})
    assert app.config["SECRET_KEY"] == "fixed-key"
