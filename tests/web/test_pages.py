"""The HTML pages through Flask's test client, against the real local service.

These cover the flows without JavaScript: plain GET links and POST forms answered with
a redirect. The browser tests cover the same flows with the script enhancing them.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from web_support import (
    EVIL_SERVICE,
    EVIL_USER,
    DataFacts,
    build_app,
    copy_template,
    load_local_service,
)
from werkzeug.test import TestResponse

from srs.activity import ActivitySource
from srs.config import Settings
from srs.named_filters import NamedFilters
from srs.serving.service import RecommendationService, RecommendedItem
from srs.web.openapi import openapi_document
from srs.web.pages import (
    HISTORY_PAGE_SIZE,
    HOME_CARDS,
    UNKNOWN_TIME,
    UNRELIABLE_NOTE,
    cards_from,
    iso_time,
    percent_text,
    utc_clock,
    utc_date,
)


class PageParser(HTMLParser):
    """Collects what the assertions look at: forms, cards, table rows, scripts, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self.cards: list[str] = []
        self.rows: list[list[str]] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self.handler_attributes = 0
        self.svgs = 0
        self.datalist_options: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False
        self._in_datalist = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script" and "src" not in values:
            self.inline_scripts += 1
        if "style" in values:
            self.style_attributes += 1
        self.handler_attributes += sum(1 for name in values if name.startswith("on"))
        if tag == "form":
            self.forms.append(
                {"action": values.get("action", ""), "method": values.get("method", "")}
            )
        if tag == "input" and self.forms and "name" in values:
            self.forms[-1][values["name"]] = values.get("value", "")
        if tag == "li" and "card" in values.get("class", "").split():
            self.cards.append(values.get("data-item-id", ""))
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body:
            self._row = []
        if tag == "td" and self._row is not None:
            self._cell = []
        if tag == "svg":
            self.svgs += 1
        if tag == "datalist":
            self._in_datalist = True
        if tag == "option" and self._in_datalist:
            self.datalist_options.append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        if tag == "tbody":
            self._in_body = False
        if tag == "datalist":
            self._in_datalist = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(response: TestResponse) -> PageParser:
    parser = PageParser()
    parser.feed(response.get_data(as_text=True))
    return parser


def assert_safe_markup(response: TestResponse) -> PageParser:
    """No inline script, style attribute or event handler: all would break under the CSP."""
    page = parse(response)
    assert page.inline_scripts == 0
    assert page.style_attributes == 0
    assert page.handler_attributes == 0
    return page


def feedback_form(page: PageParser, item_id: str, event_type: str | None = None) -> dict[str, str]:
    for form in page.forms:
        if form.get("item_id") == item_id and (
            event_type is None or form.get("event_type") == event_type
        ):
            return form
    raise AssertionError(f"no feedback form for {item_id}")


def a_user(service: RecommendationService, index: int = 0) -> str:
    return service.search_users("user_", 50)[index]


def test_home_without_a_user_offers_the_search_box(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = assert_safe_markup(response)
    html = response.get_data(as_text=True)
    assert 'list="user-options"' in html and '<label for="user-input">' in html
    assert 0 < len(page.datalist_options) <= 10  # a few suggestions, never every user


def test_home_shows_history_and_recommendation_cards(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service)
    response = client.get(f"/?user={user}")
    assert response.status_code == 200
    page = assert_safe_markup(response)
    total = service.history(user, limit=1).total
    assert len(page.rows) == min(total, HISTORY_PAGE_SIZE)
    assert all(len(row) == 5 for row in page.rows)
    expected = [item.item_id for item in service.recommend(user, HOME_CARDS).item_list]
    assert page.cards == expected
    html = response.get_data(as_text=True)
    assert html.count('class="score-bar"') == len(expected)
    for event_type in ("liked", "not_interested", "launched"):
        assert f'name="event_type" value="{event_type}"' in html
    assert all(form["csrf_token"] for form in page.forms if form["method"] == "post")


def test_history_is_paginated(client: FlaskClient, service: RecommendationService) -> None:
    user = next(
        u
        for u in service.search_users("user_", 200)
        if service.history(u, 1).total > HISTORY_PAGE_SIZE
    )
    whole = service.history(user, limit=2 * HISTORY_PAGE_SIZE)
    second = parse(client.get(f"/?user={user}&page=2"))
    assert second.rows[0][0] == whole.interactions[HISTORY_PAGE_SIZE].service_name
    assert "Page 2 of" in client.get(f"/?user={user}&page=2").get_data(as_text=True)


def test_a_new_user_gets_popular_services_a_banner_and_an_empty_history(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get("/?user=no_such_user")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "New user: popular services." in html
    assert "No interactions yet." in html
    page = parse(response)
    assert page.rows == []
    popular = [item.item_id for item in service.recommend("no_such_user", HOME_CARDS).item_list]
    assert popular and page.cards == popular


def test_a_new_user_whose_id_looks_like_known_ones_gets_suggestions(client: FlaskClient) -> None:
    response = client.get("/?user=user_00001")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "New user: popular services." in html
    assert 'href="/?user=user_000010"' in html


def test_user_suggestions_are_a_prefix_search(client: FlaskClient) -> None:
    users = client.get("/suggest/users?q=user_00012").get_json()["users"]
    assert users and len(users) <= 10
    assert all(user.startswith("user_00012") for user in users)
    assert client.get("/suggest/users?q=zzz").get_json() == {"users": []}


def test_feedback_form_records_the_event_and_redirects(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 5)
    page = parse(client.get(f"/?user={user}"))
    dismissed = page.cards[0]
    before = service.history(user, limit=1).total
    form = feedback_form(page, dismissed)
    response = client.post("/feedback", data={**form, "event_type": "not_interested"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/?user={user}")
    after = client.get(response.headers["Location"])
    assert after.status_code == 200
    refreshed = parse(after)
    assert dismissed not in refreshed.cards
    names = {item.item_id: item.service_name for item in service.items()}
    assert refreshed.rows[0][0] == names[dismissed]
    assert refreshed.rows[0][2] == "Not interested"
    assert service.history(user, limit=1).total == before + 1
    assert "will not be recommended again" in after.get_data(as_text=True)


def test_rating_form_records_the_rating(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 6)
    page = parse(client.get(f"/?user={user}"))
    form = feedback_form(page, page.cards[1], "rated")
    response = client.post("/feedback", data={**form, "rating": "4"}, follow_redirects=True)
    newest = service.history(user, limit=1).interactions[0]
    assert (newest.item_id, newest.event_type, newest.event_value) == (page.cards[1], "rated", 4.0)
    assert parse(response).rows[0][2:4] == ["Rated", "4"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"rating": "6"}, 422),
        ({"rating": ""}, 422),
        ({"event_type": "purchased"}, 422),
        ({"item_id": ""}, 422),
        ({"csrf_token": "forged"}, 400),
        ({"csrf_token": ""}, 400),
    ],
)
def test_bad_feedback_is_refused_and_not_stored(
    client: FlaskClient, service: RecommendationService, change: dict[str, str], status: int
) -> None:
    user = a_user(service, 7)
    page = parse(client.get(f"/?user={user}"))
    before = service.history(user, limit=1).total
    form = {**feedback_form(page, page.cards[0], "rated"), "rating": "3", **change}
    response = client.post("/feedback", data=form, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert "text/html" in response.content_type
    assert "Traceback" not in response.get_data(as_text=True)
    assert service.history(user, limit=1).total == before


def test_feedback_needs_the_session_that_got_the_form(
    client: FlaskClient, service: RecommendationService
) -> None:
    """A form posted from another site carries no session cookie, so the token fails."""
    user = a_user(service, 8)
    form = feedback_form(
        parse(client.get(f"/?user={user}")), service.recommend(user, 1).item_list[0].item_id
    )
    client.delete_cookie("srs_session")
    response = client.post("/feedback", data={**form, "event_type": "liked"})
    assert response.status_code == 400


def test_session_cookie_is_http_only_and_same_site(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get(f"/?user={a_user(service)}")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_hostile_user_id_is_escaped(client: FlaskClient) -> None:
    response = client.get("/", query_string={"user": EVIL_USER})
    assert response.status_code == 200  # a real user of the planted data
    html = response.get_data(as_text=True)
    assert EVIL_USER not in html
    assert "&lt;script&gt;alert(" in html
    assert_safe_markup(response)


def test_hostile_unknown_user_id_is_escaped(client: FlaskClient) -> None:
    response = client.get("/", query_string={"user": "<img src=x onerror=alert(1)>"})
    assert response.status_code == 200  # a new user, shown popular services
    assert "<img src=x" not in response.get_data(as_text=True)
    assert_safe_markup(response)


def test_hostile_service_name_is_escaped_everywhere(
    client: FlaskClient, service: RecommendationService, facts: DataFacts
) -> None:
    evil_item = next(item.item_id for item in service.items() if item.service_name == EVIL_SERVICE)
    for url in (
        f"/?user={facts.evil_service_user}",
        f"/similar?item={evil_item}",
        "/similar",
        "/data",
    ):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert EVIL_SERVICE not in html, url
        assert "&lt;script&gt;alert(" in html, url
        assert_safe_markup(response)


def test_similar_page_lists_services_like_the_chosen_one(
    client: FlaskClient, service: RecommendationService
) -> None:
    item = service.items()[3]
    response = client.get(f"/similar?item={item.item_id}")
    assert response.status_code == 200
    expected = [entry.item_id for entry in service.similar(item.item_id, 12).item_list]
    assert parse(response).cards == expected
    assert client.get("/similar?item=no-such-item").status_code == 404


def test_model_page_shows_version_recipe_metrics_and_chart(
    client: FlaskClient, service: RecommendationService
) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    info = service.model_info()
    html = response.get_data(as_text=True)
    assert info.version in html and info.recipe in html
    assert "normalized_discounted_cumulative_gain_at_10" in html
    page = assert_safe_markup(response)
    assert page.svgs == 1
    assert re.search(r'<svg class="chart" id="metrics-chart"', html)


def test_data_page_charts_activity(client: FlaskClient, service: RecommendationService) -> None:
    assert isinstance(service, ActivitySource), "the local service should offer activity()"
    response = client.get("/data")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="daily-chart"' in html and 'id="top-services-chart"' in html
    top = service.activity().top_services[0]
    assert str(top.interactions) in html


def test_data_page_charts_feedback_apart_once_there_is_some(
    client: FlaskClient, service: RecommendationService
) -> None:
    assert isinstance(service, ActivitySource)
    before = service.activity()
    if before.recorded_interactions == 0:
        assert "No feedback recorded yet" in client.get("/data").get_data(as_text=True)
    item = service.items()[0].item_id
    sent = int(time.time())
    response = client.post(
        "/api/v1/events",
        json={
            "userId": "data-page-user",
            "sessionId": "s",
            "eventList": [{"eventType": "clicked", "itemId": item, "sentAt": sent}],
        },
    )
    assert response.status_code == 204, response.get_json()
    html = client.get("/data").get_data(as_text=True)
    assert 'id="feedback-chart"' in html and 'id="daily-chart"' in html
    after = service.activity()
    assert after.recorded_interactions == before.recorded_interactions + 1
    assert after.total_interactions == before.total_interactions + 1
    assert after.feedback_daily[-1].day == time.strftime("%Y-%m-%d", time.gmtime(sent))
    assert after.daily == before.daily


def test_browser_errors_are_html_pages(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert "404" in response.get_data(as_text=True)
    assert client.get("/no-such-page").get_json()["error"]["code"] == "not_found"


def test_static_assets_are_served_locally(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/style.css", "/static/app.js"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


# --- issue 13: what a user sees ---------------------------------------------------------------


def card_html(html: str, item_id: str) -> str:
    match = re.search(rf'data-item-id="{re.escape(item_id)}">(.*?)</article>', html, re.S)
    assert match is not None, f"no card for {item_id}"
    return match.group(1)


def history_cells(page: PageParser) -> list[tuple[str, str]]:
    """(event label, rating cell) of each history row."""
    return [(row[2], row[3]) for row in page.rows]


def test_the_rating_column_is_filled_on_rated_rows_only(
    client: FlaskClient, service: RecommendationService
) -> None:
    users = service.search_users("user_", 200)
    user = next(
        u
        for u in users
        if {e.event_type for e in service.history(u, HISTORY_PAGE_SIZE).interactions}
        >= {"rated", "viewed"}
    )
    cells = history_cells(parse(client.get(f"/?user={user}")))
    rated = [rating for event, rating in cells if event == "Rated"]
    others = [rating for event, rating in cells if event != "Rated"]
    assert rated and all(rating in {"1", "2", "3", "4", "5"} for rating in rated)
    assert others and all(rating == "" for rating in others)


def test_the_rating_control_has_no_preselected_value(
    client: FlaskClient, service: RecommendationService
) -> None:
    html = client.get(f"/?user={a_user(service)}").get_data(as_text=True)
    selects = re.findall(r'<select id="rating-\d+" name="rating"[^>]*>(.*?)</select>', html, re.S)
    assert len(selects) == HOME_CARDS
    for options in selects:
        assert "selected" not in options
        assert re.match(r'\s*<option value="">', options)  # a placeholder first, so none is chosen
    assert re.search(r'name="rating" required', html)


def test_cards_show_feedback_already_given_and_undo_removes_that_event(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 9)
    page = parse(client.get(f"/?user={user}"))
    liked, rated = page.cards[0], page.cards[1]
    before = service.history(user, limit=1).total
    client.post("/feedback", data={**feedback_form(page, liked), "event_type": "liked"})
    client.post("/feedback", data={**feedback_form(page, rated, "rated"), "rating": "4"})
    html = client.get(f"/?user={user}").get_data(as_text=True)
    assert "You liked this" in card_html(html, liked)
    assert "You rated this 4★" in card_html(html, rated)
    assert "You liked this" not in card_html(html, rated)

    shown = parse(client.get(f"/?user={user}"))
    undo = next(form for form in shown.forms if form["action"] == "/feedback/undo")
    assert undo["csrf_token"] and undo["user_id"] == user
    response = client.post("/feedback/undo", data=undo)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/?user={user}")
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your like of" in after and "was undone." in after
    assert "You liked this" not in card_html(after, liked)
    assert "You rated this 4★" in card_html(after, rated)
    assert service.history(user, limit=1).total == before + 1
    newest = service.history(user, limit=1).interactions[0]
    assert (newest.item_id, newest.event_type) == (rated, "rated")

    again = client.post("/feedback/undo", data=undo, follow_redirects=True)
    assert "already undone" in again.get_data(as_text=True)
    assert service.history(user, limit=1).total == before + 1


def test_undo_cannot_remove_another_users_event(
    client: FlaskClient, service: RecommendationService
) -> None:
    owner, other = a_user(service, 10), a_user(service, 11)
    page = parse(client.get(f"/?user={owner}"))
    client.post("/feedback", data={**feedback_form(page, page.cards[0]), "event_type": "liked"})
    shown = parse(client.get(f"/?user={owner}"))
    undo = next(form for form in shown.forms if form["action"] == "/feedback/undo")
    total = service.history(owner, limit=1).total
    client.post("/feedback/undo", data={**undo, "user_id": other})
    assert service.history(owner, limit=1).total == total


@pytest.mark.parametrize(
    ("change", "status"),
    [({"event_id": "x"}, 422), ({"event_id": "9" * 40}, 422), ({"csrf_token": "forged"}, 400)],
)
def test_bad_undo_is_refused(
    client: FlaskClient, service: RecommendationService, change: dict[str, str], status: int
) -> None:
    user = a_user(service, 12)
    page = parse(client.get(f"/?user={user}"))
    client.post("/feedback", data={**feedback_form(page, page.cards[0]), "event_type": "liked"})
    undo = next(f for f in parse(client.get(f"/?user={user}")).forms if "event_id" in f)
    total = service.history(user, limit=1).total
    response = client.post(
        "/feedback/undo", data={**undo, **change}, headers={"Accept": "text/html"}
    )
    assert response.status_code == status
    assert service.history(user, limit=1).total == total


def test_a_page_past_the_end_of_the_history_links_back(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service)
    pages = -(-service.history(user, 1).total // HISTORY_PAGE_SIZE)
    response = client.get(f"/?user={user}&page=9999")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'href="/?user={user}&amp;page={pages}#history"' in html
    assert f'href="/?user={user}#history"' in html
    assert "past the end of the history" in html


def test_scores_are_shares_of_the_catalogue_on_a_fixed_axis(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 3)
    items = service.recommend(user, HOME_CARDS).item_list
    html = client.get(f"/?user={user}").get_data(as_text=True)
    assert "all services together make 100%" in html
    for item in items:
        assert item.score is not None and item.score < 1
        card = card_html(html, item.item_id)
        shown = re.search(r'class="score"[^>]*>([^<]+)<', card)
        width = re.search(r'class="score-fill" width="([\d.]+)"', card)
        assert shown is not None and width is not None
        assert shown.group(1) == percent_text(item.score) != "100%"
        assert float(width.group(1)) == pytest.approx(max(1.0, 100 * item.score), abs=0.01)


def test_percentages_never_round_up_to_all_or_down_to_nothing() -> None:
    assert percent_text(1.0) == "100%"
    assert percent_text(0.9996) == "99.9%"
    assert percent_text(0.084) == "8.4%"
    assert percent_text(0.0081) == "0.81%"
    assert percent_text(0.00004) == "< 0.01%"
    assert percent_text(0.0) == "0%"


def test_a_card_without_a_score_says_so() -> None:
    scored = RecommendedItem("a", "A", "", "", 0.0001, "")
    unscored = RecommendedItem("b", "B", "", "", None, "")
    first, second = cards_from([scored, unscored])
    assert (first.percent, first.bar) == ("0.01%", 1.0)  # a sliver stays visible
    assert (second.percent, second.bar) == (None, 0.0)


def test_similar_page_for_an_unknown_item_is_a_clear_404(client: FlaskClient) -> None:
    response = client.get("/similar?item=no-such-item")
    assert response.status_code == 404
    assert "There is no service with ID no-such-item." in response.get_data(as_text=True)


def test_similar_page_never_lists_the_item_itself(
    client: FlaskClient, service: RecommendationService
) -> None:
    for item in service.items()[:10]:
        cards = parse(client.get(f"/similar?item={item.item_id}")).cards
        assert cards and item.item_id not in cards


def test_api_link_opens_a_reference_rendered_from_the_openapi_document(
    client: FlaskClient,
) -> None:
    home = client.get("/").get_data(as_text=True)
    assert '<a href="/api"' in home
    response = client.get("/api")
    assert response.status_code == 200 and "text/html" in response.content_type
    page = assert_safe_markup(response)
    assert page.svgs == 0
    html = response.get_data(as_text=True)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/app.js" defer>'
    ]  # the site's own, nothing else
    text = re.sub(r"<wbr>", "", html)
    document = openapi_document()
    for path, methods in document["paths"].items():
        assert f"<code>{path}</code>" in text or f'<code class="path">{path}</code>' in text
        for method, operation in methods.items():
            section = text[text.index(f'id="{operation["operationId"]}"') :]
            section = section[: section.index("</section>")]
            assert method.upper() in section and str(escape(operation["summary"])) in section
            for parameter in operation.get("parameters", []):
                assert f"<code>{parameter['name']}</code>" in section
            if "requestBody" in operation:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                name = schema["$ref"].rsplit("/", 1)[1]
                assert f'href="#schema-{name}"' in section
            else:
                assert re.search(r'Request body</h3>\s*<p class="empty">None\.', section)
            for status in operation["responses"]:
                assert f"<code>{status}</code>" in section
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in text


def client_with_training(template: Path, target: Path, **record: object) -> FlaskClient:
    """A private copy whose active model's training record holds ``record`` as well."""
    settings = copy_template(template, target)
    models = settings.data_dir / "models"
    path = models / (models / "ACTIVE").read_text().strip() / "training.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **record}))
    service = load_local_service(settings)
    return build_app(service, settings).test_client()


def test_model_page_shows_the_baseline_and_greys_unreliable_metrics(
    trained_template: tuple[Path, DataFacts], tmp_path: Path
) -> None:
    template = trained_template[0]
    metrics = json.loads(next((template / "models").glob("*/training.json")).read_text())["metrics"]
    baseline = {name: round(value / 3, 4) for name, value in metrics.items()}
    unreliable = client_with_training(
        template,
        tmp_path / "few",
        heldout_users=20,
        metrics_reliable=False,
        baseline_metrics=baseline,
    )
    response = unreliable.get("/model")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert UNRELIABLE_NOTE in html
    assert 'class="panel unreliable"' in html
    assert "Popularity baseline" in html
    for value in baseline.values():
        assert f'<td class="number baseline">{value:.4f}</td>' in html
    assert html.count('class="chart-compared"') == len(metrics) + 1  # a bar each, and the legend
    assert_safe_markup(response)

    reliable = client_with_training(
        template,
        tmp_path / "many",
        heldout_users=500,
        metrics_reliable=True,
        baseline_metrics=baseline,
    ).get("/model")
    html = reliable.get_data(as_text=True)
    assert UNRELIABLE_NOTE not in html and "unreliable" not in html
    assert "500 held-out users" in html


def test_after_feedback_the_message_offers_to_undo_it(
    client: FlaskClient, service: RecommendationService
) -> None:
    user = a_user(service, 13)
    page = parse(client.get(f"/?user={user}"))
    dismissed = page.cards[0]
    before = service.history(user, limit=1).total
    response = client.post(
        "/feedback",
        data={**feedback_form(page, dismissed), "event_type": "not_interested"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    messages = html[html.index('id="messages"') : html.index("</div>", html.index('id="messages"'))]
    assert "will not be recommended again" in messages and "Undo that" in messages
    shown = parse(response)
    assert dismissed not in shown.cards
    undo = next(form for form in shown.forms if form["action"] == "/feedback/undo")
    newest = service.history(user, limit=1).interactions[0]
    assert (newest.item_id, newest.event_type) == (dismissed, "not_interested")

    restored = client.post("/feedback/undo", data=undo, follow_redirects=True)
    assert "may be recommended again" in restored.get_data(as_text=True)
    assert parse(restored).cards == page.cards
    assert service.history(user, limit=1).total == before
    assert "Undo that" not in client.get(f"/?user={user}").get_data(as_text=True)


def test_pages_render_around_stored_rows_out_of_range(
    client: FlaskClient, service: RecommendationService, data_settings: Settings
) -> None:
    """Rows an older version accepted (milliseconds, a rating of 99) are skipped, not raised."""
    item = service.items()[0].item_id
    with sqlite3.connect(data_settings.events_path) as connection:
        connection.executemany(
            "INSERT INTO events (user_id, session_id, event_type, item_id, event_value,"
            " sent_at, received_at) VALUES ('page-poisoned', 's', ?, ?, ?, ?, 0.0)",
            [("clicked", item, 3.0, 1_700_000_000_000), ("rated", item, 99.0, 1_700_000_000)],
        )
    connection.close()
    sent = int(time.time())
    response = client.post(
        "/api/v1/events",
        json={
            "userId": "page-poisoned",
            "sessionId": "s",
            "eventList": [{"eventType": "liked", "itemId": item, "sentAt": sent}],
        },
    )
    assert response.status_code == 204, response.get_json()
    home = client.get("/?user=page-poisoned")
    assert home.status_code == 200
    assert time.strftime("%Y-%m-%d", time.gmtime(sent)) in home.get_data(as_text=True)
    data = client.get("/data")
    assert data.status_code == 200
    assert "55840" not in data.get_data(as_text=True)
    assert isinstance(service, ActivitySource)
    assert service.activity().feedback_daily[-1].day == time.strftime("%Y-%m-%d", time.gmtime(sent))


@pytest.mark.parametrize("timestamp", [1_700_000_000_000, 9 * 10**18, -5])
def test_date_filters_show_a_placeholder_for_times_out_of_range(timestamp: int) -> None:
    assert utc_date(timestamp) == utc_clock(timestamp) == iso_time(timestamp) == UNKNOWN_TIME
    assert utc_date(1_700_000_000) == "2023-11-14"


RTL_USER = "rtl\u202eresu"
"""A user ID with a right-to-left override: shown raw, it would reverse the text after it."""
ISOLATED_BEFORE = ("<bdi>", '<bdi class="user-id">', "\u2068", 'value="')


def test_a_user_id_with_a_direction_override_is_isolated_wherever_it_shows(
    client: FlaskClient,
) -> None:
    response = client.get("/", query_string={"user": RTL_USER})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = [match.start() for match in re.finditer(re.escape(RTL_USER), html)]
    assert shown
    for start in shown:
        assert html[:start].endswith(ISOLATED_BEFORE), html[start - 60 : start + 20]
    assert f'<bdi class="user-id">{RTL_USER}</bdi>' in html
    assert f"<title>\u2068{RTL_USER}\u2069 · " in html


def test_service_names_from_the_data_are_isolated(
    client: FlaskClient, service: RecommendationService
) -> None:
    chosen = service.items()[0]
    response = client.get("/similar", query_string={"item": chosen.item_id})
    html = response.get_data(as_text=True)
    assert re.search(r'<h2 id="chosen-title"><bdi>[^<]+</bdi></h2>', html)
    titles = re.findall(r'class="card-title"><a href="[^"]*">(<bdi>)?', html)
    assert titles and all(titles)


def test_feedback_and_undo_keep_the_filter_the_cards_were_chosen_by(
    client: FlaskClient, service: RecommendationService, data_settings: Settings
) -> None:
    user = a_user(service, 11)
    category = {item.item_id: item.category for item in service.items()}
    top = category[parse(client.get(f"/?user={user}")).cards[0]]
    filters = NamedFilters.in_directory(data_settings.data_dir)
    filters.create("not-top", f'EXCLUDE ItemID WHERE Items.CATEGORY IN ("{top}")')
    try:
        page = parse(client.get(f"/?user={user}&filter=not-top"))
        assert page.cards and top not in {category[item] for item in page.cards}
        liked = client.post(
            "/feedback", data={**feedback_form(page, page.cards[0]), "event_type": "liked"}
        )
        assert liked.status_code == 303 and "filter=not-top" in liked.headers["Location"]
        after = client.get(liked.headers["Location"])
        assert '<option value="not-top" selected' in after.get_data(as_text=True)
        shown = parse(after)
        assert shown.cards and top not in {category[item] for item in shown.cards}
        undo = next(form for form in shown.forms if form["action"] == "/feedback/undo")
        assert undo["filter"] == "not-top"
        undone = client.post("/feedback/undo", data=undo)
        assert "filter=not-top" in undone.headers["Location"]
        forged = client.post(
            "/feedback",
            data={**feedback_form(page, page.cards[1]), "event_type": "liked", "filter": "a b"},
        )
        assert forged.status_code == 303 and "filter" not in forged.headers["Location"]
    finally:
        filters.delete("not-top")
