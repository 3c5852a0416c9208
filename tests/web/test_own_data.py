"""A new team's own data, end to end through the product path: ``srs prepare``, ``srs train``,
``srs serve`` (granian, two workers) over HTTP, ``srs recommend``/``similar``/``history`` and
Debian's Chromium.

The source CSV is written here the way a team's export looks, not by SRS's generator: event
types ``view``, ``Launch ``, ``rate``, ``CONFIGURE`` and the team's own ``deploy`` (mapped in
the settings file), service names ``EC2``, ``amazon s3``, ``Amazon Simple Storage Service``,
``Lambda``, a service the catalogue lacks (described in ``--items``) and one nobody can place
(``Amazon S4``), ISO 8601 and Unix timestamps mixed, and star ratings on ``rate`` rows.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from web_support import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_ready

SRS = Path(sys.executable).with_name("srs")
GROUPS = {
    "web": ["EC2", "amazon s3", "Amazon RDS", "Amazon CloudFront", "Amazon Route 53", "ELB"],
    "serverless": ["Lambda", "Amazon API Gateway", "DynamoDB", "S3", "CloudWatch", "SQS"],
    "data": [
        "AWS Glue",
        "Amazon Athena",
        "Amazon Simple Storage Service",
        "Redshift",
        "Acme Data Portal",
        "Amazon Kinesis",
    ],
}
CANONICAL = {
    "EC2": "Amazon EC2",
    "amazon s3": "Amazon S3",
    "S3": "Amazon S3",
    "Amazon Simple Storage Service": "Amazon S3",
    "Lambda": "AWS Lambda",
    "DynamoDB": "Amazon DynamoDB",
}
USERS_PER_GROUP = 60
NEW_USER_REASON = "new user: popular services"


def team_source(path: Path) -> None:
    """The team's export: every user views most of their group, launches some, rates some."""
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2025-03-01T09:00:00Z")
    rows: list[list[str]] = []
    for group, services in GROUPS.items():
        for number in range(USERS_PER_GROUP):
            user = f"{group}-{number:03d}"
            chosen = rng.permutation(services)[: int(rng.integers(3, 6))]
            clock = start + pd.Timedelta(days=int(rng.integers(0, 90)))
            for service in chosen:
                steps = ["view", "Launch ", "rate"] if rng.random() < 0.6 else ["view"]
                if rng.random() < 0.2:
                    steps.insert(2, "CONFIGURE")
                if rng.random() < 0.15:
                    steps = ["view", "deploy"]
                for step in steps:
                    clock += pd.Timedelta(minutes=int(rng.integers(1, 90)))
                    rating = str(int(rng.integers(3, 6))) if step == "rate" else "3"
                    stamp = clock.isoformat() if rng.random() < 0.5 else str(int(clock.timestamp()))
                    rows.append([user, str(service), step, rating, stamp])
    rows.append(["web-000", "Amazon S4", "view", "3", str(int(start.timestamp()))])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["User ID", "AWS Service", "Interaction Type", "Rating", "Timestamp"])
        writer.writerows(rows)


def srs(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("SRS_")}
    environ["SRS_CONFIG"] = str(data_dir.parent / "srs.toml")
    environ["COLUMNS"] = "200"
    return subprocess.run(
        [str(SRS), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


@dataclass(frozen=True)
class Deployment:
    data_dir: Path
    url: str
    prepare: subprocess.CompletedProcess[str]
    train: subprocess.CompletedProcess[str]
    items: dict[str, str]  # service name -> item ID


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("own-data")
    (root / "srs.toml").write_text('[srs.event_types]\ndeploy = "launched"\n', encoding="utf-8")
    data_dir = root / "data"
    data_dir.mkdir()
    source = root / "our_export.csv"
    team_source(source)
    items = root / "our_services.csv"
    items.write_text(
        "name,category,description\n"
        "Acme Data Portal,Analytics,Our internal catalogue of data sets.\n",
        encoding="utf-8",
    )
    prepare = srs(data_dir, "prepare", "--source", str(source), "--items", str(items))
    assert prepare.returncode == 0, prepare.stderr
    train = srs(data_dir, "train")
    assert train.returncode == 0, train.stderr
    frame = pd.read_csv(data_dir / "dataset" / "items.csv", dtype=str, keep_default_na=False)
    port = free_port()
    log = root / "server.log"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("SRS_")}
    environ["SRS_CONFIG"] = str(root / "srs.toml")
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(SRS), "--data-dir", str(data_dir), "serve", "--port", str(port)],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server, log)
        yield Deployment(
            data_dir,
            url,
            prepare,
            train,
            dict(zip(frame["SERVICE_NAME"], frame["ITEM_ID"], strict=True)),
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_events(deployment: Deployment, user: str, *events: dict[str, Any]) -> None:
    body = json.dumps({"userId": user, "sessionId": "scenario", "eventList": list(events)})
    request = urllib.request.Request(
        f"{deployment.url}/api/v1/events",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def recommended(deployment: Deployment, user: str, count: int = 25) -> list[dict[str, Any]]:
    quoted = urllib.parse.quote(user, safe="")
    status, body = get(f"{deployment.url}/api/v1/users/{quoted}/recommendations?numResults={count}")
    assert status == 200, body
    return list(body["itemList"])


def event(kind: str, item: str, value: float | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {"eventType": kind, "itemId": item, "sentAt": int(time.time())}
    if value is not None:
        made["eventValue"] = value
    return made


# --- prepare: the team's words mapped onto SRS's -------------------------------------------


def test_prepare_maps_event_types_and_aliases_and_reports_what_it_could_not(
    deployment: Deployment,
) -> None:
    out = deployment.prepare.stdout
    for written, canonical in (
        ("view", "viewed"),
        ("Launch", "launched"),
        ("rate", "rated"),
        ("CONFIGURE", "configured"),
        ("deploy", "launched"),
    ):
        assert any(written in line and canonical in line for line in out.splitlines()), written
    for written, name in CANONICAL.items():
        assert any(
            line.split("│")[1:3] and written == line.split("│")[1].strip() and name in line
            for line in out.splitlines()
            if "│" in line
        ), written
    assert "Amazon S4" in out and "Amazon S3" in out.split("Amazon S4", 1)[1].splitlines()[0]
    assert "Amazon S4" in deployment.prepare.stderr  # the warning names it
    dataset = deployment.data_dir / "dataset"
    interactions = pd.read_csv(dataset / "interactions.csv", dtype=str)
    assert set(interactions["EVENT_TYPE"]) == {"viewed", "launched", "rated", "configured"}
    items = pd.read_csv(dataset / "items.csv", dtype=str, keep_default_na=False)
    by_name = items.set_index("SERVICE_NAME")
    assert "EC2" not in by_name.index and "amazon s3" not in by_name.index
    assert by_name.loc["Amazon EC2", "CATEGORY"] == "Compute"
    assert by_name.loc["Amazon S3", "CATEGORY"] == "Storage"
    assert by_name.loc["Acme Data Portal", "CATEGORY"] == "Analytics"
    assert by_name.loc["Amazon S4", "CATEGORY"] == "Other"


def test_train_reports_metrics_beside_popularity_and_says_they_are_not_reliable(
    deployment: Deployment,
) -> None:
    assert deployment.train.stdout.startswith("activated ")
    assert "popular" in deployment.train.stdout
    assert "are not reliable" in deployment.train.stderr


# --- what is recommended ----------------------------------------------------------------


def launched_by(deployment: Deployment, user: str) -> set[str]:
    frame = pd.read_csv(deployment.data_dir / "dataset" / "interactions.csv", dtype=str)
    mine = frame[(frame["USER_ID"] == user) & frame["EVENT_TYPE"].isin(["launched", "configured"])]
    return set(mine["ITEM_ID"])


def test_services_launched_under_any_name_are_not_recommended_and_reasons_are_honest(
    deployment: Deployment,
) -> None:
    names = {item_id: name for name, item_id in deployment.items.items()}
    checked = 0
    for group in GROUPS:
        for number in range(10):
            user = f"{group}-{number:03d}"
            used = launched_by(deployment, user)
            answer = recommended(deployment, user)
            assert used.isdisjoint(item["itemId"] for item in answer), user
            for item in answer:
                assert names[item["itemId"]] not in item["reason"], (user, item)
            checked += bool(used)
    assert checked > 10


def test_one_star_sends_a_service_out_of_the_top_three_and_five_stars_lift_its_companions(
    deployment: Deployment,
) -> None:
    user = "serverless-001"
    top = recommended(deployment, user)[0]["itemId"]
    post_events(deployment, user, event("rate", top, 1))  # the team's own word for a rating
    after = [item["itemId"] for item in recommended(deployment, user)]
    assert top not in after[:3]

    user = "web-002"
    before = [item["itemId"] for item in recommended(deployment, user, 60)]
    glue = deployment.items["AWS Glue"]
    assert glue not in launched_by(deployment, user)
    status, similar = get(f"{deployment.url}/api/v1/items/{glue}/similar?numResults=3")
    assert status == 200
    companion = next(item["itemId"] for item in similar["itemList"] if item["itemId"] in before[1:])
    post_events(deployment, user, event("Rate", glue, 5))
    rated = [item["itemId"] for item in recommended(deployment, user, 60)]
    assert rated.index(companion) < before.index(companion)


# --- new users and unknown items -----------------------------------------------------------


def test_a_new_user_gets_the_same_popular_list_from_the_api_the_cli_and_the_page(
    deployment: Deployment,
) -> None:
    answer = recommended(deployment, "no_such_user", 5)
    assert {item["reason"] for item in answer} == {NEW_USER_REASON}
    cli = srs(deployment.data_dir, "recommend", "no_such_user", "--num", "5")
    assert cli.returncode == 0, cli.stderr
    for item in answer:
        name = next(name for name, item_id in deployment.items.items() if item_id == item["itemId"])
        assert name in cli.stdout
    assert NEW_USER_REASON in cli.stdout
    with urllib.request.urlopen(f"{deployment.url}/?user=no_such_user", timeout=10) as page:
        html = page.read().decode()
    assert page.status == 200 and NEW_USER_REASON in html


def test_a_user_known_only_through_feedback_is_suggested(deployment: Deployment) -> None:
    post_events(deployment, "zz-newcomer", event("view", deployment.items["Amazon EC2"]))
    status, body = get(f"{deployment.url}/suggest/users?q=zz-new")
    assert status == 200 and body["users"] == ["zz-newcomer"]


def test_unknown_items_are_not_found_everywhere_and_similar_never_lists_the_item(
    deployment: Deployment,
) -> None:
    status, body = get(f"{deployment.url}/api/v1/items/nope/similar")
    assert status == 404 and "nope" in body["error"]["message"]
    cli = srs(deployment.data_dir, "similar", "nope")
    assert cli.returncode == 2 and "nope" in cli.stderr and "Traceback" not in cli.stderr
    ec2 = deployment.items["Amazon EC2"]
    for key in ("EC2", "Amazon%20EC2", ec2):
        status, body = get(f"{deployment.url}/api/v1/items/{key}/similar?numResults=25")
        assert status == 200 and ec2 not in {item["itemId"] for item in body["itemList"]}
    try:
        urllib.request.urlopen(f"{deployment.url}/similar?item=nope", timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 404
    else:
        pytest.fail("/similar?item=nope answered 200")


def test_history_holds_the_feedback_in_canonical_words(deployment: Deployment) -> None:
    post_events(deployment, "data-003", event("Launch", deployment.items["Amazon Athena"]))
    cli = srs(deployment.data_dir, "history", "data-003", "--limit", "3")
    assert cli.returncode == 0, cli.stderr
    first = next(line for line in cli.stdout.splitlines() if "Amazon Athena" in line)
    assert "launched" in first


# --- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_page(deployment: Deployment) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def card_ids(page: Any) -> list[str]:
    return [str(card.get_attribute("data-item-id")) for card in page.locator(".card").all()]


def test_in_the_browser_a_one_star_rating_takes_the_card_out_of_the_top_three(
    deployment: Deployment, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{deployment.url}/?user=data-010")
    cards = page.locator("#recommendations .card")
    expect(cards.first).to_be_visible()
    scores = [text.strip() for text in page.locator(".card .score").all_inner_texts()]
    assert scores and "100%" not in scores
    selects = page.locator(".card select[name=rating]")
    assert {selects.nth(i).input_value() for i in range(selects.count())} == {""}
    for row in page.locator("#history tbody tr").all():
        cells = row.locator("td")
        event_label, rating = cells.nth(2).inner_text(), cells.nth(3).inner_text().strip()
        assert (rating != "") == (event_label.strip() == "Rated"), (event_label, rating)
    top = card_ids(page)[0]
    cards.first.get_by_label("Rating").select_option("1")
    cards.first.get_by_role("button", name="Rate").click()
    expect(page.locator("#history tbody tr").first.locator("td").nth(2)).to_have_text("Rated")
    page.reload()
    expect(cards.first).to_be_visible()
    assert top not in card_ids(page)[:3]


def test_in_the_browser_a_viewed_service_is_a_nudge_and_a_new_user_sees_popular_services(
    deployment: Deployment, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    user = "web-011"
    nudge = recommended(deployment, user)[0]["itemId"]
    post_events(deployment, user, event("View", nudge))
    page.goto(f"{deployment.url}/?user={user}")
    card = page.locator(f'.card[data-item-id="{nudge}"]')
    expect(card.locator(".reason")).to_contain_text("you viewed this, not yet launched")
    page.goto(f"{deployment.url}/?user=somebody-new")
    expect(page.locator(".new-user")).to_contain_text("New user: popular services")
    expect(page.locator("#recommendations .card").first).to_be_visible()
