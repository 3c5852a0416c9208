"""What the request handlers share: the service, the metrics, the admin hooks, the item list
encoder and the query parser (whose caches belong to one app).

They hang off ``app.extensions`` rather than module globals, so each app made by the
factory (one per test, one per server worker) carries its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from flask import Flask, current_app

from srs.named_filters import NamedFilters
from srs.serving.service import RecommendationService
from srs.web.encoding import ItemListEncoder
from srs.web.metrics import WebMetrics
from srs.web.query import QueryParser
from srs.web.retrain import RetrainJobs

EXTENSION_KEY = "srs"


@dataclass(frozen=True)
class WebContext:
    service: RecommendationService
    metrics: WebMetrics
    retrain: RetrainJobs | None
    admin_token: str
    encoder: ItemListEncoder = field(default_factory=ItemListEncoder)
    queries: QueryParser = field(default_factory=QueryParser)
    filters: NamedFilters = field(default_factory=lambda: NamedFilters(None))
    """The named filters a ``filterArn`` selects (``srs filters``)."""


def attach_context(app: Flask, context: WebContext) -> None:
    app.extensions[EXTENSION_KEY] = context


def web_context() -> WebContext:
    return cast(WebContext, current_app.extensions[EXTENSION_KEY])
