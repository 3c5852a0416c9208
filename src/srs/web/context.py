"""What the request handlers share: the service, the metrics and the admin hooks.

They hang off ``app.extensions`` rather than module globals, so each app made by the
factory (one per test, one per server worker) carries its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app

from srs.service import ModelInfo, RecommendationService
from srs.web.metrics import WebMetrics

EXTENSION_KEY = "srs"


@dataclass(frozen=True)
class WebContext:
    service: RecommendationService
    metrics: WebMetrics
    retrain: Callable[[], ModelInfo] | None
    admin_token: str


def attach_context(app: Flask, context: WebContext) -> None:
    app.extensions[EXTENSION_KEY] = context


def web_context() -> WebContext:
    return cast(WebContext, current_app.extensions[EXTENSION_KEY])
