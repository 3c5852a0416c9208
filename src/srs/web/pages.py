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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
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
from srs.engine.evaluation.metrics import PERSONALIZE_METRICS
from srs.event_rules import stored_timestamp_problem
from srs.events import MAX_EVENTS_PER_CALL, MAX_ID_LENGTH, Event, EventStore, StoredEvent
from srs.named_filters import NAME_PATTERN
from srs.serving.service import (
    HistoryEntry,
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
from srs.web.openapi import api_reference, openapi_document
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
RATING_EVENT = "rated"
"""The one event type whose value is a star rating; on every other row it is a weight."""
UNKNOWN_TIME = "unknown time"
FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"
GIVEN_TEXT = {
    "liked": "You liked this",
    "not_interested": "You marked this not interested",
    "launched": "You launched this",
}
UNDONE_TEXT = {
    "liked": "Your like of {name} was undone.",
    "not_interested": "{name} may be recommended again.",
    "launched": "{name} is no longer recorded as launched.",
    "rated": "Your rating of {name} was undone.",
}
RECENT_FEEDBACK = 200
"""Recorded events read to show feedback on the cards: the service folds as many in."""
FEEDBACK_LOG_KEY = "srs.feedback_log"
UNDO_SESSION_KEY = "undo"
MAX_EVENT_ID_DIGITS = 18  # below SQLite's largest integer
UNRELIABLE_NOTE = "metrics from fewer than 50 held-out users are not reliable"
BASELINE_LABEL = "Popularity baseline"
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
class Given:
    """Feedback the user already gave on a card's service, and the event that undoes it."""

    event_id: int
    text: str


@dataclass(frozen=True)
class Card:
    """A recommendation as drawn: its score as a percentage, a bar on a fixed 0–100 % axis,
    and the feedback already given on it."""

    item: RecommendedItem
    percent: str | None
    bar: float
    given: tuple[Given, ...] = ()


@dataclass(frozen=True)
class Notice:
    kind: str  # "info" or "error"
    text: str


MIN_BAR = 1.0
"""A sliver (1 % of the track) so a small but real score is not drawn as nothing."""


def percent_text(score: float) -> str:
    """A score as a percentage of the whole catalogue's chance; "100%" only for a score of 1.

    Rounding would turn 0.9996 into 100% and 0.00004 into 0%, both untrue, so the figure is
    clamped below 100 and tiny shares read "< 0.01%".
    """
    percent = 100 * score
    if score >= 1:
        return "100%"
    if percent <= 0:
        return "0%"
    if percent < 0.01:
        return "< 0.01%"
    if percent < 1:
        return f"{percent:.2f}%"
    return f"{min(percent, 99.9):.1f}%"


def cards_from(
    items: Sequence[RecommendedItem], given: Mapping[str, tuple[Given, ...]] | None = None
) -> list[Card]:
    """Cards with honest scores.

    A score is Personalize's: the item's share of the chance over the whole catalogue, so
    all of a user's scores sum to 1. The bar shows that share on a fixed axis rather than
    relative to the list's best item, which made the top card read 100% whatever its score.
    """
    return [
        Card(
            item=item,
            percent=None if item.score is None else percent_text(item.score),
            bar=0.0 if item.score is None else max(MIN_BAR, min(100.0, 100 * item.score)),
            given=(given or {}).get(item.item_id, ()),
        )
        for item in items
    ]


def attach_feedback_log(app: Flask, store: EventStore) -> None:
    """Where this app's backend keeps feedback locally, the pages show it and can undo it.

    The service interface has no "list or remove my events" (Personalize's event tracker
    only receives), so the pages read the EventStore itself, where there is one.
    """
    app.extensions[FEEDBACK_LOG_KEY] = store


def _feedback_log() -> EventStore | None:
    return cast(EventStore | None, current_app.extensions.get(FEEDBACK_LOG_KEY))


def given_text(event: StoredEvent) -> str:
    if event.event_type == RATING_EVENT:
        return f"You rated this {event_value(event.event_value)}★"
    known = GIVEN_TEXT.get(event.event_type)
    return known or f"Recorded: {event_label(event.event_type).lower()}"


def given_feedback(events: Sequence[StoredEvent]) -> dict[str, tuple[Given, ...]]:
    """Each item's latest event of each type, newest first; undoing one shows the one before."""
    latest: dict[str, dict[str, StoredEvent]] = {}
    for event in events:  # newest first
        latest.setdefault(event.item_id, {}).setdefault(event.event_type, event)
    return {
        item_id: tuple(Given(event.id, given_text(event)) for event in by_type.values())
        for item_id, by_type in latest.items()
    }


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def ordered_metrics(metrics: dict[str, float]) -> list[tuple[str, float]]:
    """Personalize's metrics in console order, then any others alphabetically."""
    known = [(name, metrics[name]) for name in METRIC_ORDER if name in metrics]
    others = sorted((name, value) for name, value in metrics.items() if name not in METRIC_ORDER)
    return known + others


def _shown_time(timestamp: int, pattern: str) -> str:
    """A time as text, or a placeholder when it lies outside the stored-event window: one odd
    row from an older version or a hand edit must not fail the page that shows it."""
    if stored_timestamp_problem(timestamp) is not None:
        return UNKNOWN_TIME
    return datetime.fromtimestamp(timestamp, UTC).strftime(pattern)


@pages.app_template_filter("utc_date")
def utc_date(timestamp: int) -> str:
    return _shown_time(timestamp, "%Y-%m-%d")


@pages.app_template_filter("utc_clock")
def utc_clock(timestamp: int) -> str:
    return _shown_time(timestamp, "%H:%M")


@pages.app_template_filter("iso_time")
def iso_time(timestamp: int) -> str:
    return _shown_time(timestamp, "%Y-%m-%dT%H:%M:%S+00:00")


@pages.app_template_filter("event_label")
def event_label(event_type: str) -> str:
    return FEEDBACK_LABELS.get(event_type, event_type.replace("_", " ").capitalize())


@pages.app_template_filter("slug")
def slug(text: str) -> str:
    """A CSS-class-safe form of a value (event types come from data)."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "other"


@pages.app_template_filter("isolate")
def isolate(text: object) -> str:
    """``text`` between Unicode isolate marks, for places where no ``<bdi>`` can go (a title,
    an attribute, an option): a name carrying a right-to-left override must not reorder the
    words around it."""
    return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"


@pages.app_template_filter("event_value")
def event_value(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


@pages.app_template_filter("score")
def score_text(score: float | None) -> str:
    return "no score" if score is None else f"{score:.4f}"


@pages.app_template_filter("rating")
def rating_text(entry: HistoryEntry) -> str:
    """Every row has an EVENT_VALUE, but only a rating's is stars; elsewhere it is a weight."""
    return event_value(entry.event_value) if entry.event_type == RATING_EVENT else ""


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
    context = web_context()
    service = context.service
    user_id = request.args.get("user", "").strip()
    filter_name = request.args.get("filter", "").strip()
    named_filters = context.filters.list()
    chosen = next((f.expression for f in named_filters if f.name == filter_name), None)
    page = _page_number()
    status = 200
    notice: Notice | None = None
    history: HistoryPage | None = None
    recommendations: Recommendations | None = None
    did_you_mean: list[str] = []
    new_user = False

    if len(user_id) > MAX_ID_LENGTH:
        notice = Notice("error", f"A user ID has at most {MAX_ID_LENGTH} characters.")
        status = 422
        user_id = user_id[:MAX_ID_LENGTH]
    elif filter_name and chosen is None:
        notice = Notice("error", "There is no such filter; choose one from the list.")
        status = 404
    elif user_id:
        try:
            history = service.history(
                user_id, limit=HISTORY_PAGE_SIZE, offset=(page - 1) * HISTORY_PAGE_SIZE
            )
        except NotFoundError:
            # The service answers a user it has never seen with what is popular, as
            # Personalize does; the page says so instead of refusing the user.
            history = HistoryPage([], 0)
            new_user = True
            did_you_mean = service.search_users(user_id, SUGGESTIONS)
        try:
            recommendations = service.recommend(user_id, HOME_CARDS, filter=chosen)
        except NotReadyError:
            notice = Notice("info", "No model is active yet: run `srs train`, then reload.")

    log = _feedback_log()
    given = (
        given_feedback(log.recent(user_id, RECENT_FEEDBACK))
        if log is not None and history is not None
        else {}
    )
    pages_total = page_count(history.total, HISTORY_PAGE_SIZE) if history else 1
    return (
        render_template(
            "index.html",
            user_id=user_id,
            suggestions=did_you_mean or service.search_users(user_id, SUGGESTIONS),
            did_you_mean=did_you_mean,
            notice=notice,
            new_user=new_user,
            history=history,
            page=page,
            pages=pages_total,
            past_the_end=history is not None and history.total > 0 and page > pages_total,
            cards=cards_from(recommendations.item_list, given) if recommendations else None,
            ratings=RATINGS,
            last_event_id=_pending_undo(user_id) if user_id else None,
            named_filters=named_filters,
            filter_name=filter_name if chosen is not None else "",
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
    session_id = _session_id()
    context.service.put_events(user_id, session_id, [event])
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
    _offer_undo(user_id, session_id, event)
    return _back_to_recommendations(user_id)


def _offer_undo(user_id: str, session_id: str, event: Event) -> None:
    """Remember the event just recorded, so the next page offers to undo it beside the message.

    The card may not be there to undo from: "not interested" and "launched" take a service
    out of the recommendations, and a like can move it below the cards shown.
    """
    log = _feedback_log()
    if log is None:
        return
    recorded = next(
        (
            stored
            for stored in log.recent(user_id, MAX_EVENTS_PER_CALL)
            if (stored.session_id, stored.item_id, stored.event_type, stored.sent_at)
            == (session_id, event.item_id, event.event_type, event.sent_at)
        ),
        None,
    )
    if recorded is not None:
        session[UNDO_SESSION_KEY] = [user_id, recorded.id]


def _pending_undo(user_id: str) -> int | None:
    """The event offered for undo after the last feedback of this user, once."""
    pending = session.pop(UNDO_SESSION_KEY, None)
    if isinstance(pending, list) and len(pending) == 2 and pending[0] == user_id:
        event_id = pending[1]
        return event_id if isinstance(event_id, int) else None
    return None


@pages.post("/feedback/undo")
def undo_feedback() -> WerkzeugResponse:
    """Remove one recorded feedback event of the user, then show the refreshed page."""
    user_id = _form_id("user_id")
    raw = request.form.get("event_id", "").strip()
    if not raw.isdigit() or len(raw) > MAX_EVENT_ID_DIGITS:
        raise ApiError(422, "event_id must be a whole number")
    log = _feedback_log()
    if log is None:
        raise ApiError(501, "This deployment keeps no feedback here to undo.")
    removed = log.delete_event(user_id, int(raw))
    if removed is None:
        flash("That feedback was already undone.", "info")
    else:
        names = {item.item_id: item.service_name for item in web_context().service.items()}
        name = names.get(removed.item_id, removed.item_id)
        template = UNDONE_TEXT.get(removed.event_type, "Your feedback on {name} was undone.")
        flash(template.format(name=name), "success")
    return _back_to_recommendations(user_id)


def _back_to_recommendations(user_id: str) -> WerkzeugResponse:
    """The page the feedback came from, with the filter it was showing: the cards after a
    like or an undo must be chosen the way the cards clicked on were. A name that cannot be a
    filter's is dropped here rather than turned into an error page after a recorded event."""
    filter_name = request.form.get("filter", "").strip()
    kept = filter_name if NAME_PATTERN.fullmatch(filter_name) else None
    return redirect(
        url_for("pages.index", user=user_id, filter=kept, _anchor="recommendations"), code=303
    )


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
        notice = Notice(
            "error", f"There is no service with ID {item_id}. Choose one from the list."
        )
    elif chosen is not None:
        try:
            found = service.similar(chosen.item_id, SIMILAR_CARDS + 1).item_list
        except NotReadyError:
            notice = Notice("info", "No model is active yet: run `srs train`, then reload.")
        except NotFoundError:
            status = 404
            notice = Notice(
                "error",
                f"The model does not know {chosen.service_name} yet: nobody had used it when"
                " the model was trained.",
            )
        else:
            alike = [entry for entry in found if entry.item_id != chosen.item_id]
            cards = cards_from(alike[:SIMILAR_CARDS])
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
    baseline = dict(info.baseline_metrics) if info else {}
    rows = [(name, value, baseline.get(name)) for name, value in metrics]
    chart: Markup | None = None
    if metrics:
        fractions = all(0.0 <= value <= 1.0 for _, value in metrics + list(baseline.items()))
        chart = bar_chart(
            [(METRIC_LABELS.get(name, name), value) for name, value in metrics],
            title="Offline metrics of the active model"
            + (" beside the popularity baseline's" if baseline else ""),
            chart_id="metrics-chart",
            max_value=1.0 if fractions else None,
            value_format="{:.4f}".format,
            compared=[compared for _, _, compared in rows] if baseline else None,
            series=("Model", BASELINE_LABEL),
        )
    parameters: list[tuple[str, Any]] = sorted(info.parameters.items()) if info else []
    return (
        render_template(
            "model.html",
            info=info,
            rows=rows,
            has_baseline=bool(baseline),
            chart=chart,
            parameters=parameters,
            unreliable_note=UNRELIABLE_NOTE,
            baseline_label=BASELINE_LABEL,
        ),
        200 if info else 503,
    )


@pages.get("/api")
def api_docs() -> str:
    """The API reference, read from the same OpenAPI document the API serves, so the two
    cannot disagree; plain HTML, so it needs no script and nothing from another site."""
    document = openapi_document()
    return render_template("api.html", info=document["info"], reference=api_reference(document))


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
