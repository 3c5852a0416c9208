"""End to end in a real browser: Debian's Chromium, driven by Playwright, against ``srs serve``.

The server is the one ``srs serve`` runs (``python -m srs.web.serve``: granian with two
workers) on a free loopback port, over a private copy of the trained data directory.
Each page visited is saved as a screenshot under ``test-artifacts/``. Every test also
checks that the page fetched nothing from another origin and broke no CSP rule.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect, sync_playwright
from web_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    EVIL_USER,
    DataFacts,
    copy_template,
    running_server,
)

from srs.config import Settings
from srs.named_filters import NamedFilters

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)"
    ),
]


@pytest.fixture(scope="module")
def served_settings(
    trained_template: tuple[Path, DataFacts], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return copy_template(trained_template[0], tmp_path_factory.mktemp("browser") / "data")


@pytest.fixture(scope="module")
def server_url(served_settings: Settings) -> Iterator[str]:
    with running_server(
        served_settings.data_dir, served_settings.data_dir.parent, workers=2
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class PageWatch:
    """Records what a page must never do: reach another origin, break the CSP, log errors."""

    def __init__(self, page: Page, origin: str) -> None:
        self.foreign_requests: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        self.origin = origin

    def _request(self, request: Request) -> None:
        url = request.url
        if not url.startswith((self.origin, "data:")):
            self.foreign_requests.append(url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def assert_clean(self) -> None:
        assert self.foreign_requests == []
        unexpected = [e for e in self.console_errors if "status of 404" not in e]
        assert unexpected == []


def open_page(browser: Browser, server_url: str, **context_options: Any) -> tuple[Page, PageWatch]:
    options: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}, **context_options}
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page, PageWatch(page, server_url)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_choose_a_user_see_history_and_recommendations(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(server_url)
    box = page.get_by_label("User ID")
    box.press_sequentially("user_00001", delay=20)
    options = page.locator("#user-options option")
    expect(options.first).to_have_attribute("value", re.compile(r"^user_00001\d$"))
    box.fill("user_000012")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"\?user=user_000012"))
    expect(page.locator("#history tbody tr").first).to_be_visible()
    cards = page.locator("#recommendations .card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 3
    expect(cards.first.locator(".score-bar")).to_be_visible()
    expect(page.locator(".score-legend")).to_contain_text("all services together make 100%")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "home")
    watch.assert_clean()


def test_not_interested_makes_the_card_vanish_and_history_gain_the_event(
    browser: Browser, server_url: str
) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000021")
    page.evaluate("window.__noReload = true")
    card = page.locator("#recommendations .card").first
    item_id = card.get_attribute("data-item-id")
    name = card.locator(".card-title").inner_text()
    card.get_by_role("button", name="Not interested").click()
    expect(page.locator(f'#recommendations .card[data-item-id="{item_id}"]')).to_have_count(0)
    newest = page.locator("#history tbody tr").first
    expect(newest).to_contain_text(name)
    expect(newest).to_contain_text("Not interested")
    assert page.evaluate("window.__noReload") is True
    expect(page.locator("#messages")).to_contain_text("will not be recommended again")
    screenshot(page, "after-not-interested")
    watch.assert_clean()


def test_rate_a_service(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000022")
    card = page.locator("#recommendations .card").nth(1)
    name = card.locator(".card-title").inner_text()
    card.get_by_label("Rating").select_option("4")
    card.get_by_role("button", name="Rate").click()
    row = page.locator("#history tbody tr").first
    expect(row).to_contain_text(name)
    expect(row.locator("td").nth(2)).to_have_text("Rated")
    expect(row.locator("td").nth(3)).to_have_text("4")
    watch.assert_clean()


def test_keyboard_only_flow(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(server_url)
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "user-input":
            break
    else:
        pytest.fail("the user box cannot be reached with Tab")
    page.keyboard.type("user_000023")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?user=user_000023"))
    first = page.locator("#recommendations .card").first
    item_id = first.get_attribute("data-item-id")
    button = first.get_by_role("button", name="Not interested")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f'#recommendations .card[data-item-id="{item_id}"]')).to_have_count(0)
    watch.assert_clean()


def test_feedback_works_without_javascript(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url, java_script_enabled=False)
    page.goto(f"{server_url}/?user=user_000024")
    card = page.locator("#recommendations .card").first
    name = card.locator(".card-title").inner_text()
    card.get_by_role("button", name="Like").click()
    expect(page.locator("#messages")).to_contain_text(f"You liked {name}.")
    newest = page.locator("#history tbody tr").first
    expect(newest).to_contain_text(name)
    expect(newest.locator("td").nth(2)).to_have_text("Liked")
    screenshot(page, "no-javascript-feedback")
    watch.assert_clean()


def test_model_page(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(server_url)
    page.get_by_role("link", name="Model").click()
    expect(page.get_by_role("heading", name="Active model")).to_be_visible()
    expect(page.locator("#metrics-chart")).to_be_visible()
    assert page.locator("table.metrics").first.locator("tbody tr").count() >= 8
    screenshot(page, "model")
    watch.assert_clean()


def test_data_and_similar_pages(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/data")
    expect(page.locator("#daily-chart")).to_be_visible()
    expect(page.locator("#top-services-chart")).to_be_visible()
    screenshot(page, "data")
    page.goto(f"{server_url}/similar")
    page.get_by_label("Service", exact=True).select_option(index=5)
    page.get_by_role("button", name="Show similar").click()
    expect(page.locator("#similar .card").first).to_be_visible()
    screenshot(page, "similar")
    watch.assert_clean()


def test_hostile_names_render_as_text(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server_url}/?" + urllib.parse.urlencode({"user": EVIL_USER}))
    expect(page.locator("#recommendations-title")).to_contain_text(EVIL_USER)
    page.goto(f"{server_url}/data")
    page.goto(f"{server_url}/similar")
    assert dialogs == []
    watch.assert_clean()


def test_phone_layout_has_no_sideways_scrolling(browser: Browser, server_url: str) -> None:
    page, watch = open_page(
        browser, server_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page.goto(f"{server_url}/?user=user_000025")
    expect(page.locator("#recommendations .card").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "phone")
    watch.assert_clean()


def test_metrics_add_up_across_workers(server_url: str) -> None:
    requests = 12
    for _ in range(requests):
        with urllib.request.urlopen(f"{server_url}/api/v1/model", timeout=5) as response:
            assert response.status == 200
    pattern = re.compile(
        r'srs_http_requests_total\{method="GET",route="/api/v1/model",status="200"\} (\S+)'
    )
    for _ in range(4):
        with urllib.request.urlopen(f"{server_url}/metrics", timeout=5) as response:
            text = response.read().decode()
        match = pattern.search(text)
        assert match is not None and float(match.group(1)) == requests


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
MIN_LABEL_PX = 11


@pytest.mark.parametrize("path", ["/", "/?user=user_000026", "/model", "/data", "/similar", "/api"])
def test_every_page_fits_a_390_pixel_wide_phone(
    browser: Browser, server_url: str, path: str
) -> None:
    page, watch = open_page(browser, server_url, **PHONE)
    page.goto(f"{server_url}{path}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if path in {"/", "/model"}:
        screenshot(page, "phone-model" if path == "/model" else "phone-home")
    watch.assert_clean()


@pytest.mark.parametrize("options", [PHONE, {}], ids=["phone", "desktop"])
@pytest.mark.parametrize("path", ["/model", "/data"])
def test_chart_labels_render_at_11_pixels_or_more(
    browser: Browser, server_url: str, path: str, options: dict[str, Any]
) -> None:
    page, watch = open_page(browser, server_url, **options)
    page.goto(f"{server_url}{path}")
    sizes = page.evaluate(
        """Array.from(document.querySelectorAll("svg.chart text")).map(
            (text) => parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a)"""
    )
    assert sizes and min(sizes) >= MIN_LABEL_PX
    watch.assert_clean()


def test_the_rating_control_starts_empty(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000027")
    expect(page.locator("#recommendations .card").first.get_by_label("Rating")).to_have_value("")
    watch.assert_clean()


def test_feedback_shows_on_the_card_and_undo_is_instant(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000040")  # liking keeps this card in the top 12
    page.evaluate("window.__noReload = true")
    item_id = page.locator("#recommendations .card").first.get_attribute("data-item-id")
    card = page.locator(f'#recommendations .card[data-item-id="{item_id}"]')
    card.get_by_role("button", name="Like").click()
    expect(card.locator(".given")).to_contain_text("You liked this")
    card.get_by_label("Rating").select_option("4")
    card.get_by_role("button", name="Rate").click()
    expect(card.locator(".given")).to_contain_text("You rated this 4★")
    screenshot(page, "feedback-given")
    card.get_by_role("button", name="Undo: You liked this").click()
    expect(page.locator("#messages")).to_contain_text("was undone")
    expect(card.locator(".given")).not_to_contain_text("You liked this")
    expect(card.locator(".given")).to_contain_text("You rated this 4★")
    expect(page.locator("#history tbody tr").first.locator("td").nth(2)).to_have_text("Rated")
    assert page.evaluate("window.__noReload") is True
    watch.assert_clean()


def test_undo_works_without_javascript(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url, java_script_enabled=False)
    page.goto(f"{server_url}/?user=user_000031")  # liking keeps this card in the top 12
    item_id = page.locator("#recommendations .card").first.get_attribute("data-item-id")
    card = page.locator(f'#recommendations .card[data-item-id="{item_id}"]')
    card.get_by_role("button", name="Like").click()
    expect(card.locator(".given")).to_contain_text("You liked this")
    card.get_by_role("button", name="Undo: You liked this").click()
    expect(page.locator("#messages")).to_contain_text("was undone")
    expect(card.locator(".given")).to_have_count(0)
    watch.assert_clean()


def test_a_new_user_sees_popular_services(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=no_such_user")
    expect(page.locator(".new-user")).to_contain_text("New user: popular services")
    expect(page.locator("#recommendations .card").first).to_be_visible()
    expect(page.locator("#history")).to_contain_text("No interactions yet.")
    watch.assert_clean()


def test_a_page_past_the_end_of_the_history_leads_back(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000030&page=9999")
    page.get_by_role("link", name=re.compile(r"^Go to the last page")).click()
    expect(page).to_have_url(re.compile(r"page=\d+#history$"))
    expect(page.locator("#history tbody tr").first).to_be_visible()
    watch.assert_clean()


def test_the_api_link_opens_a_readable_reference(browser: Browser, server_url: str) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(server_url)
    page.get_by_role("link", name="API", exact=True).click()
    expect(page.get_by_role("heading", name="API reference")).to_be_visible()
    operation = page.locator("#getRecommendations")
    expect(operation).to_contain_text("GET")
    expect(operation).to_contain_text("numResults")
    expect(page.locator("#putEvents")).to_contain_text("PutEventsRequest")
    screenshot(page, "api-reference")
    watch.assert_clean()


def test_the_message_after_not_interested_offers_an_instant_undo(
    browser: Browser, server_url: str
) -> None:
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000032")
    page.evaluate("window.__noReload = true")
    card = page.locator("#recommendations .card").first
    item_id = card.get_attribute("data-item-id")
    card.get_by_role("button", name="Not interested").click()
    expect(page.locator(f'#recommendations .card[data-item-id="{item_id}"]')).to_have_count(0)
    page.locator("#messages").get_by_role("button", name="Undo that").click()
    expect(page.locator("#messages")).to_contain_text("may be recommended again")
    expect(page.locator("#recommendations .card").first).to_have_attribute("data-item-id", item_id)
    assert page.evaluate("window.__noReload") is True
    watch.assert_clean()


def test_a_filtered_page_stays_filtered_after_feedback(
    browser: Browser, server_url: str, served_settings: Settings
) -> None:
    storage = re.compile(r"^Storage$")
    page, watch = open_page(browser, server_url)
    page.goto(f"{server_url}/?user=user_000042")
    assert page.locator("#recommendations .category", has_text=storage).count() > 0
    filters = NamedFilters.in_directory(served_settings.data_dir)
    filters.create("no-storage", 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("Storage")')
    try:
        page.goto(f"{server_url}/?user=user_000042&filter=no-storage")
        page.evaluate("window.__noReload = true")
        cards = page.locator("#recommendations .card")
        expect(cards.first).to_be_visible()
        expect(page.locator("#recommendations .category", has_text=storage)).to_have_count(0)
        name = cards.first.locator(".card-title").inner_text()
        cards.first.get_by_role("button", name="Like").click()
        expect(page.locator("#messages")).to_contain_text(f"You liked {name}.")
        expect(page.locator("#filter-input")).to_have_value("no-storage")
        expect(cards.first).to_be_visible()
        expect(page.locator("#recommendations .category", has_text=storage)).to_have_count(0)
        assert page.evaluate("window.__noReload") is True
        watch.assert_clean()
    finally:
        filters.delete("no-storage")
