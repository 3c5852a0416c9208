"""The app factories: configuration sources, and what every gunicorn worker must agree on."""

from __future__ import annotations

import re

import pytest

from srs.config import ConfigError, Settings
from srs.web import create_app_from_settings, web_config_from_environ


def test_web_config_reads_the_srs_variables() -> None:
    config = web_config_from_environ(
        {
            "SRS_ADMIN_TOKEN": "tok",
            "SRS_SECRET_KEY": "key",
            "SRS_MAX_BODY_BYTES": "2048",
            "PROMETHEUS_MULTIPROC_DIR": "/m",
            "SRS_UNRELATED": "x",
        }
    )
    assert config == {
        "SRS_ADMIN_TOKEN": "tok",
        "SECRET_KEY": "key",
        "MAX_CONTENT_LENGTH": 2048,
        "PROMETHEUS_MULTIPROC_DIR": "/m",
    }
    assert web_config_from_environ({"SRS_ADMIN_TOKEN": ""}) == {}


@pytest.mark.parametrize("raw", ["0", "-1", "lots", "1.5"])
def test_a_bad_body_limit_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="SRS_MAX_BODY_BYTES"):
        web_config_from_environ({"SRS_MAX_BODY_BYTES": raw})


def test_workers_built_from_the_same_settings_share_the_session_key(
    data_settings: Settings,
) -> None:
    environ = {"SRS_ADMIN_TOKEN": "tok", "SRS_MAX_BODY_BYTES": "4096"}
    first = create_app_from_settings(data_settings, environ)
    second = create_app_from_settings(data_settings, environ)
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
    app = create_app_from_settings(data_settings, {"SRS_SECRET_KEY": "fixed-key"})
    assert app.config["SECRET_KEY"] == "fixed-key"
