"""The Flask application: HTML pages, the REST API and operations endpoints.

``create_app`` takes the ``RecommendationService`` as an argument, so the same app
runs on the embedded engine, on Amazon Personalize, or on anything a test builds;
it never decides which backend answers. ``create_app_from_settings`` is the door
the server's workers use: it builds the local service from the data directory.

Flask config keys the app reads (defaults in ``DEFAULT_CONFIG``):

- ``SECRET_KEY``: signs the session cookie (CSRF token, flash messages); random per
  app unless given, shared by workers via the data directory in ``create_app_from_settings``.
- ``SRS_ADMIN_TOKEN``: bearer token for ``POST /admin/retrain``; empty disables admin.
- ``MAX_CONTENT_LENGTH``: request body limit in bytes; larger bodies get 413.
- ``SESSION_COOKIE_SECURE``: send the session cookie over HTTPS only; the app cannot tell
  when a TLS proxy fronts it, so the ``secure_cookies`` setting says so.
- ``PROMETHEUS_MULTIPROC_DIR``: per-process metric files for multi-worker servers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from srs.config import Settings
from srs.named_filters import FILTERS_FILE, NamedFilters
from srs.serving.service import RecommendationService
from srs.web.api import ID_CONVERTER, IdConverter, api, ops
from srs.web.context import WebContext, attach_context
from srs.web.errors import register_error_handlers
from srs.web.metrics import create_metrics
from srs.web.middleware import (
    BufferedBodies,
    DrainedOversizedBodies,
    RequestMetrics,
    RoutedRequest,
    SecurityHeaders,
)
from srs.web.pages import attach_feedback_log, pages
from srs.web.personalize_protocol import attach_personalize_protocol
from srs.web.retrain import RetrainJobs
from srs.web.security import SigningSessionInterface, csrf_token, shared_secret_key

DEFAULT_MAX_BODY_BYTES = 256 * 1024
DEFAULT_CONFIG: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": DEFAULT_MAX_BODY_BYTES,
    "SRS_ADMIN_TOKEN": "",
    "PROMETHEUS_MULTIPROC_DIR": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "srs_session",
}
# Settings fields the web layer uses, and the Flask key each feeds.
SETTINGS_FIELDS = {
    "admin_token": "SRS_ADMIN_TOKEN",
    "secret_key": "SECRET_KEY",
    "max_body_bytes": "MAX_CONTENT_LENGTH",
    "secure_cookies": "SESSION_COOKIE_SECURE",
}
# Backends that keep feedback in the local EventStore, where the pages can show and undo it.
LOCAL_FEEDBACK_BACKENDS = frozenset({"local", "batch"})
# Set by ``srs serve`` for the server's workers: where Prometheus keeps per-process files.
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

__all__ = [
    "create_app",
    "create_app_from_settings",
    "web_config_from_environ",
    "web_config_from_settings",
]


def web_config_from_settings(settings: Settings) -> dict[str, Any]:
    """Web settings present on ``Settings``; empty values mean 'not set'."""
    config: dict[str, Any] = {}
    for name, key in SETTINGS_FIELDS.items():
        value = getattr(settings, name)
        if value not in ("", 0):
            config[key] = value
    return config


def web_config_from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """What the process environment adds: the Prometheus multiprocess directory."""
    directory = environ.get(MULTIPROC_VARIABLE, "")
    return {MULTIPROC_VARIABLE: directory} if directory else {}


def create_app(
    service: RecommendationService,
    settings: Settings | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    retrain: RetrainJobs | None = None,
) -> Flask:
    """The app around ``service``; ``retrain`` backs ``POST /admin/retrain`` when given."""
    app = Flask(__name__)
    app.request_class = RoutedRequest
    app.session_interface = SigningSessionInterface()
    app.config.update(DEFAULT_CONFIG)
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    if settings is not None:
        app.config.update(web_config_from_settings(settings))
    app.config.update(config_overrides or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]

    metrics = create_metrics(app.config.get("PROMETHEUS_MULTIPROC_DIR"))
    attach_context(
        app,
        WebContext(
            service=service,
            metrics=metrics,
            retrain=retrain,
            admin_token=str(app.config.get("SRS_ADMIN_TOKEN") or ""),
            filters=NamedFilters(settings.data_dir / FILTERS_FILE if settings else None),
        ),
    )
    app.wsgi_app = BufferedBodies(  # type: ignore[method-assign]
        SecurityHeaders(
            RequestMetrics(
                DrainedOversizedBodies(app.wsgi_app, lambda: app.config.get("MAX_CONTENT_LENGTH")),
                metrics,
            )
        )
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.url_map.converters[ID_CONVERTER] = IdConverter
    if settings is not None and settings.backend in LOCAL_FEEDBACK_BACKENDS:
        from srs.events import EventStore

        attach_feedback_log(app, EventStore(settings.events_path))
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(ops)
    attach_personalize_protocol(
        app, settings, settings is not None and settings.backend in LOCAL_FEEDBACK_BACKENDS
    )
    register_error_handlers(app)
    return app


def create_app_from_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> Flask:
    """The app on the configured backend, for server workers and ``srs serve --dev``.

    Every worker derives the same session key (from ``SRS_SECRET_KEY`` or a key file in
    the data directory), so a form rendered by one worker validates on another. Retraining
    from the web exists only where training happens here: on the local backend.
    """
    from srs.serving.backends import open_service
    from srs.serving.local_service import LocalRecommendationService

    env = os.environ if environ is None else environ
    config = web_config_from_settings(settings)
    config.update(web_config_from_environ(env))
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = shared_secret_key(settings.data_dir)
    service = open_service(settings)
    retrain = RetrainJobs(settings) if isinstance(service, LocalRecommendationService) else None
    return create_app(service, settings, config, retrain=retrain)
