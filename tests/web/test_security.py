"""Security helpers: admin bearer tokens and the session key shared by workers."""

from __future__ import annotations

import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from flask import Flask, session

from srs.config import Settings
from srs.serving.service import RecommendationService
from srs.web import create_app
from srs.web.middleware import SecurityHeaders
from srs.web.security import (
    SECRET_KEY_FILE,
    SECURITY_HEADERS,
    SigningSessionInterface,
    bearer_token_valid,
    shared_secret_key,
)


@pytest.mark.parametrize(
    ("header", "expected", "valid"),
    [
        ("Bearer s3cret", "s3cret", True),
        ("bearer s3cret", "s3cret", True),
        ("Bearer wrong", "s3cret", False),
        ("Basic s3cret", "s3cret", False),
        ("s3cret", "s3cret", False),
        (None, "s3cret", False),
        ("Bearer ", "", False),
        ("Bearer anything", "", False),
    ],
)
def test_bearer_token(header: str | None, expected: str, valid: bool) -> None:
    assert bearer_token_valid(header, expected) is valid


def test_shared_secret_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    first = shared_secret_key(tmp_path)
    second = shared_secret_key(tmp_path)
    assert first == second and len(first) == 64
    mode = (tmp_path / SECRET_KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: shared_secret_key(tmp_path / "d"), range(16)))
    assert len(keys) == 1


def test_security_headers_middleware_adds_missing_headers_and_keeps_the_apps_own() -> None:
    def wsgi(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("content-security-policy", "default-src 'none'")])
        return [b"ok"]

    seen: list[tuple[str, str]] = []
    app = SecurityHeaders(wsgi)  # type: ignore[arg-type]
    body = app({}, lambda status, headers, exc_info=None: seen.extend(headers))  # type: ignore[arg-type]
    assert list(body) == [b"ok"]
    names = [name.lower() for name, _ in seen]
    assert names.count("content-security-policy") == 1
    assert ("content-security-policy", "default-src 'none'") in seen
    assert {name.lower() for name in SECURITY_HEADERS} <= set(names)


def test_sessions_follow_a_changed_secret_key() -> None:
    app = Flask(__name__)
    app.session_interface = SigningSessionInterface()
    app.config["SECRET_KEY"] = "first"

    @app.get("/set")
    def set_value() -> str:
        session["value"] = "kept"
        return "set"

    @app.get("/get")
    def get_value() -> str:
        return str(session.get("value", "missing"))

    client = app.test_client()
    client.get("/set")
    assert client.get("/get").get_data(as_text=True) == "kept"
    app.config["SECRET_KEY"] = "second"
    assert client.get("/get").get_data(as_text=True) == "missing"
    app.config["SECRET_KEY_FALLBACKS"] = ["first"]
    assert client.get("/get").get_data(as_text=True) == "kept"


def _session_cookie(tmp_path: Path, **settings: Any) -> str:
    """The Set-Cookie header of an app built from ``settings`` once it stores a session."""
    app = create_app(cast(RecommendationService, object()), Settings(data_dir=tmp_path, **settings))

    def remember() -> str:
        session["value"] = "kept"
        return "set"

    app.add_url_rule("/remember", "remember", remember)
    cookie = app.test_client().get("/remember").headers.get("Set-Cookie")
    assert cookie is not None and cookie.startswith("srs_session=")
    return cookie


def test_the_session_cookie_is_secure_when_the_setting_says_so(tmp_path: Path) -> None:
    attributes = [
        part.strip().lower() for part in _session_cookie(tmp_path, secure_cookies=True).split(";")
    ]
    assert "secure" in attributes
    assert "httponly" in attributes


def test_the_session_cookie_is_not_secure_by_default(tmp_path: Path) -> None:
    attributes = [part.strip().lower() for part in _session_cookie(tmp_path).split(";")]
    assert "secure" not in attributes
    assert "httponly" in attributes
