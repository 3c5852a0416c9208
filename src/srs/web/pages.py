"""The HTML pages: choose a user, see history and recommendations, give feedback.

Every flow is a plain GET link or a POST form answered with a redirect (POST/redirect/
GET), so the pages work without JavaScript; ``static/app.js`` only makes them instant.
Jinja escapes every value; nothing here builds markup by hand.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from srs.activity import Activity, ActivitySource
from srs.engine.metrics import PERSONALIZE_METRICS
from srs.events import MAX_ID_LENGTH, Event
from srs.service import (
    HistoryPage,
    ItemInfo,
    ModelInfo,
    NotFoundError,
    NotReadyError,
    Recommendations,
    RecommendedItem,
)
from srs.web.charts import bar_chart, line_chart
from srs.web.context import web_context
from srs.web.errors import ApiError
from srs.web.security import CSRF_FORM_FIELD, csrf_token_valid

HOME_CARDS = 12
SIMILAR_CARDS = 12
HISTORY_PAGE_SIZE = 15
SUGGESTIONS = 10
MAX_PAGE = 1_000_000
SESSION_ID_KEY = "session_id"
FEEDBACK_LABELS = {
    "liked": "Liked",
    "not_interested": "Not interested",
    "launched": "Launched",
    "rated": "Rated",
}
RATINGS = (1, 2, 3, 4, 5)
# Amazon Personalize's offline metric names, in the order its console lists them.
METRIC_ORDER = PERSONALIZE_METRICS
# Short forms for chart labels; the table beside the chart keeps the full names.
METRIC_LABELS = {
    "mean_reciprocal_rank_at_25": "MRR@25",
    "normalized_discounted_cumulative_gain_at_5": "NDCG@5",
    "normalized_discounted_cumulative_gain_at_10": "NDCG@10",
    "normalized_discounted_cumulative_gain_at_25": "NDCG@25",
    "precision_at_5": "Precision@5",
    "precision_at_10": "Precision@10",
    "precision_at_25": "Precision@25",
    "coverage": "Coverage",
}

pages = Blueprint("pages", __name__)


@dataclass(frozen=True)
class Card:
    """A recommendation as drawn: ``confidence`` is its score as a share of the best one."""

    item: RecommendedItem
    confidence: int | None


@dataclass(frozen=True)
class Notice:
    kind: str  # "info" or "error"
    text: str


def cards_from(items: Sequence[RecommendedItem]) -> list[Card]:
    """Confidence bars relative to the list's best score.

    Personalize's scores sum to 1 over the whole catalogue, so raw values are tiny and
    a bar of the raw score would look empty; the best item fills the bar instead and the
    raw score is printed beside it.
    """
    best = max((item.score for item in items if item.score is not None), default=0.0)
    return [
        Card(
            item=item,
            confidence=(
                None
                if item.score is None or best <= 0
                else max(0, min(100, round(100 * item.score / best)))
            ),
        )
        for item in items
    ]


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def ordered_metrics(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """Personalize's metrics in console order, then any others alphabetically."""
    known = [(name, metrics[name]) for name in METRIC_ORDER if name in metrics]
    others = sorted((name, value) for name, value in metrics.items() if name not in METRIC_ORDER)
    return known + others


@pages.app_template_filter("utc_date")
def utc_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


@pages.app_template_filter("utc_clock")
def utc_clock(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M")


@pages.app_template_filter("iso_time")
def iso_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


@pages.app_template_filter("event_label")
def event_label(event_type: str) -> str:
    return FEEDBACK_LABELS.get(event_type, event_type.replace("_", " ").capitalize())


@pages.app_template_filter("slug")
def slug(text: str) -> str:
    """A CSS-class-safe form of a value (event types come from data)."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "other"


@pages.app_template_filter("event_value")
def event_value(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


@pages.app_template_filter("score")
def score_text(score: float | None) -> str:
    return "no score" if score is None else f"{score:.4f}"


@pages.before_request
def _check_csrf() -> None:
    if request.method == "POST" and not csrf_token_valid(request.form.get(CSRF_FORM_FIELD)):
        raise ApiError(
            400,
            "This form has expired or did not come from this site. Reload the page and retry.",
            code="csrf_failed",
        )


def _page_number() -> int:
    raw = request.args.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def _session_id() -> str:
    """Feedback from one browser session shares a PutEvents sessionId."""
    session_id = session.get(SESSION_ID_KEY)
    if not isinstance(session_id, str) or not session_id:
        session_id = uuid.uuid4().hex
        session[SESSION_ID_KEY] = session_id
    return session_id


def _form_id(name: str) -> str:
    value = request.form.get(name, "").strip()
    if not value or len(value) > MAX_ID_LENGTH:
        raise ApiError(422, f"form field {name} must hold 1 to {MAX_ID_LENGTH} characters")
    return value


@pages.get("/")
def index() -> tuple[str, int]:
    service = web_context().service
    user_id = request.args.get("user", "").strip()
    page = _page_number()
    status = 200
    notice: Notice | None = None
    history: HistoryPage | None = None
    recommendations: Recommendations | None = None
    did_you_mean: list[str] = []

    if len(user_id) > MAX_ID_LENGTH:
        notice = Notice("error", f"A user ID has at most {MAX_ID_LENGTH} characters.")
        status = 422
        user_id = user_id[:MAX_ID_LENGTH]
    elif user_id:
        try:
            history = service.history(
                user_id, limit=HISTORY_PAGE_SIZE, offset=(page - 1) * HISTORY_PAGE_SIZE
            )
        except NotFoundError:
            status = 404
            did_you_mean = service.search_users(user_id, SUGGESTIONS)
            notice = Notice(
                "error",
                f"There is no user {user_id}."
                + (" Did you mean one of these?" if did_you_mean else ""),
            )
        else:
            try:
                recommendations = service.recommend(user_id, HOME_CARDS)
            except NotReadyError:
                notice = Notice("info", "No model is active yet: run `srs train`, then reload.")

    return (
        render_template(
            "index.html",
            user_id=user_id,
            suggestions=did_you_mean or service.search_users(user_id, SUGGESTIONS),
            did_you_mean=did_you_mean,
            notice=notice,
            history=history,
            page=page,
            pages=page_count(history.total, HISTORY_PAGE_SIZE) if history else 1,
            cards=cards_from(recommendations.item_list) if recommendations else None,
            ratings=RATINGS,
        ),
        status,
    )


@pages.get("/suggest/users")
def suggest_users() -> Response:
    """Suggestions for the user box: a prefix search, so it scales to any number of users."""
    prefix = request.args.get("q", "").strip()[:MAX_ID_LENGTH]
    return jsonify({"users": web_context().service.search_users(prefix, SUGGESTIONS)})


@pages.post("/feedback")
def feedback() -> WerkzeugResponse:
    """Record one feedback event, then show the refreshed recommendations (303 to GET)."""
    context = web_context()
    user_id = _form_id("user_id")
    item_id = _form_id("item_id")
    event_type = request.form.get("event_type", "")
    if event_type not in FEEDBACK_LABELS:
        raise ApiError(422, f"event_type must be one of {', '.join(FEEDBACK_LABELS)}")
    event = Event(event_type, item_id, int(time.time()))
    if event_type == "rated":
        rating = request.form.get("rating", "")
        if not rating.isdigit() or int(rating) not in RATINGS:
            raise ApiError(422, "rating must be a whole number from 1 to 5")
        event = Event(event_type, item_id, event.sent_at, float(rating))
    context.service.put_events(user_id, _session_id(), [event])
    context.metrics.events_accepted.inc()

    names = {item.item_id: item.service_name for item in context.service.items()}
    name = names.get(item_id, item_id)
    message = {
        "liked": f"You liked {name}.",
        "not_interested": f"{name} will not be recommended again.",
        "launched": f"{name} was recorded as launched.",
        "rated": f"You rated {name} {int(event.event_value)} out of 5.",
    }[event_type]
    flash(message, "success")
    return redirect(url_for("pages.index", user=user_id, _anchor="recommendations"), code=303)


@pages.get("/similar")
def similar() -> tuple[str, int]:
    service = web_context().service
    catalogue: list[ItemInfo] = sorted(service.items(), key=lambda item: item.service_name.lower())
    item_id = request.args.get("item", "").strip()[:MAX_ID_LENGTH]
    user_id = request.args.get("user", "").strip()[:MAX_ID_LENGTH]
    chosen = next((item for item in catalogue if item.item_id == item_id), None)
    status = 200
    cards: list[Card] | None = None
    notice: Notice | None = None
    if item_id and chosen is None:
        status = 404
        notice = Notice("error", f"There is no service with ID {item_id}.")
    elif chosen is not None:
        try:
            cards = cards_from(service.similar(chosen.item_id, SIMILAR_CARDS).item_list)
        except NotReadyError:
            notice = Notice("info", "No model is active yet: run `srs train`, then reload.")
    return (
        render_template(
            "similar.html",
            catalogue=catalogue,
            chosen=chosen,
            cards=cards,
            notice=notice,
            user_id=user_id,
        ),
        status,
    )


@pages.get("/model")
def model() -> tuple[str, int]:
    try:
        info: ModelInfo | None = web_context().service.model_info()
    except NotReadyError:
        info = None
    metrics = ordered_metrics(dict(info.metrics)) if info else []
    chart: Markup | None = None
    if metrics:
        fractions = all(0.0 <= value <= 1.0 for _, value in metrics)
        chart = bar_chart(
            [(METRIC_LABELS.get(name, name), value) for name, value in metrics],
            title="Offline metrics of the active model",
            chart_id="metrics-chart",
            max_value=1.0 if fractions else None,
            value_format="{:.4f}".format,
        )
    parameters: list[tuple[str, Any]] = sorted(info.parameters.items()) if info else []
    return (
        render_template(
            "model.html", info=info, metrics=metrics, chart=chart, parameters=parameters
        ),
        200 if info else 503,
    )


@pages.get("/data")
def data() -> str:
    service = web_context().service
    activity: Activity | None = service.activity() if isinstance(service, ActivitySource) else None
    daily_chart = top_chart = feedback_chart = None
    if activity is not None:
        daily_chart = line_chart(
            [(entry.day, float(entry.interactions)) for entry in activity.daily],
            title="Interactions per day",
            chart_id="daily-chart",
        )
        if activity.feedback_daily:
            feedback_chart = line_chart(
                [(entry.day, float(entry.interactions)) for entry in activity.feedback_daily],
                title="Feedback recorded per day",
                chart_id="feedback-chart",
            )
        top_chart = bar_chart(
            [(entry.service_name, float(entry.interactions)) for entry in activity.top_services],
            title="Most used services",
            chart_id="top-services-chart",
            value_format="{:,.0f}".format,
        )
    return render_template(
        "data.html",
        activity=activity,
        daily_chart=daily_chart,
        feedback_chart=feedback_chart,
        top_chart=top_chart,
    )
