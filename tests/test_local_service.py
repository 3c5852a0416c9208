"""The local backend as the web app and the API use it: real data, model, SQLite events."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from srs.config import load_settings
from srs.data.dataset_version import current_dataset
from srs.data.history import InteractionHistory
from srs.data.prepare import INTERACTIONS_FILE, ITEMS_FILE
from srs.data.store import DataStore, open_store, read_store_csv
from srs.engine.model_store import LoadedModel, ModelStore
from srs.engine.persistence import IN_MEMORY_MAX_BYTES
from srs.events.event import Event
from srs.events.store import EventStore
from srs.serving.local_service import (
    MODEL_CHECK_SECONDS,
    LocalRecommendationService,
    recommendation_id,
)
from srs.serving.service import NotFoundError, NotReadyError, RequestError
from srs.training import train_and_activate


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory, prepared_data_dir: Path) -> Path:
    import shutil

    target = tmp_path_factory.mktemp("trained") / "data"
    shutil.copytree(prepared_data_dir, target)
    train_and_activate(load_settings(environ={}, overrides={"data_dir": target}), tune=False)
    return target


@pytest.fixture
def service_dir(trained_dir: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "data"
    shutil.copytree(trained_dir, target)
    return target


def open_service(
    data_dir: Path,
    clock: ManualClock | None = None,
    answer_tables: bool = True,
    **overrides: object,
) -> LocalRecommendationService:
    settings = load_settings(environ={}, overrides={"data_dir": data_dir, **overrides})
    return LocalRecommendationService.from_settings(
        settings, clock=clock or ManualClock(), answer_tables=answer_tables
    )


def test_known_user_gets_scored_items_with_reasons_from_their_history(service_dir: Path) -> None:
    service = open_service(service_dir)
    history = {
        entry.service_name for entry in service.history("user_000001", limit=500).interactions
    }
    answer = service.recommend("user_000001", num_results=10)
    assert len(answer.item_list) == 10
    scores = [item.score or 0.0 for item in answer.item_list]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    for item in answer.item_list:
        assert item.reason.startswith("because you use ")
        named = item.reason.removeprefix("because you use ").split(" and ")
        assert set(named) <= history
        assert item.service_name and item.category


def test_scores_over_the_whole_catalogue_sum_to_one(service_dir: Path) -> None:
    service = open_service(service_dir, default_filter="")
    answer = service.recommend("user_000003", num_results=len(service.items()))
    assert len(answer.item_list) == len(service.items())
    assert sum(item.score or 0.0 for item in answer.item_list) == pytest.approx(1.0, abs=1e-6)


def test_unknown_user_gets_popular_items_saying_so(service_dir: Path) -> None:
    answer = open_service(service_dir).recommend("nobody-yet", num_results=5)
    assert [item.reason for item in answer.item_list] == ["new user: popular services"] * 5
    with pytest.raises(NotFoundError, match="'nobody-yet' has no interactions"):
        open_service(service_dir).history("nobody-yet")


def test_feedback_changes_the_next_answer_at_once_in_every_worker(service_dir: Path) -> None:
    worker_a, worker_b = open_service(service_dir), open_service(service_dir)
    assert worker_b.answers_precomputed()  # until the event, the user's answer was ready
    first = worker_a.recommend("user_000004", num_results=10).item_list
    dismissed, launched = first[0], first[1]
    worker_a.put_events(
        "user_000004",
        "session-1",
        [
            Event("not_interested", dismissed.item_id, 1_760_000_000),
            Event("launched", launched.item_id, 1_760_000_001, 5.0),
        ],
    )
    after = [item.item_id for item in worker_b.recommend("user_000004", num_results=10).item_list]
    assert dismissed.item_id not in after
    assert launched.item_id not in after
    assert after != [item.item_id for item in first]
    newest = worker_b.history("user_000004", limit=2).interactions
    assert [(e.item_id, e.event_type) for e in newest] == [
        (launched.item_id, "launched"),
        (dismissed.item_id, "not_interested"),
    ]


def test_a_launch_moves_related_services_up(service_dir: Path) -> None:
    service = open_service(service_dir)
    user = "brand-new-user"
    sagemaker = next(i.item_id for i in service.items() if i.service_name == "Amazon SageMaker")
    service.put_events(user, "s", [Event("launched", sagemaker, 1_760_000_000, 5.0)])
    answer = service.recommend(user, num_results=10)
    assert all(item.reason == "because you use Amazon SageMaker" for item in answer.item_list)
    categories = {item.category for item in answer.item_list}
    assert "Machine Learning" in categories or "Analytics" in categories


def test_history_pages_through_events_then_prepared_rows(service_dir: Path) -> None:
    service = open_service(service_dir)
    stored = service.history("user_000005", limit=500)
    service.put_events("user_000005", "s", [Event("liked", "svc-0001", 1_760_000_100)])
    page = service.history("user_000005", limit=2, offset=0)
    assert page.total == stored.total + 1
    assert page.interactions[0].event_type == "liked"
    assert page.interactions[1] == stored.interactions[0]
    assert service.history("user_000005", limit=2, offset=1).interactions == stored.interactions[:2]


def test_filters_and_bounds_are_checked(service_dir: Path) -> None:
    service = open_service(service_dir)
    storage = service.recommend(
        "user_000006",
        num_results=5,
        filter="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
        filter_values={"CATEGORY": '"Storage"'},
    )
    assert {item.category for item in storage.item_list} == {"Storage"}
    with pytest.raises(RequestError, match="position"):
        service.recommend("user_000006", filter="EXCLUDE ItemID WHERE Items.CATEGORY =")
    for bad in (0, 501):
        with pytest.raises(RequestError, match="between 1 and 500"):
            service.recommend("user_000006", num_results=bad)
    with pytest.raises(RequestError, match="not in the catalogue"):
        service.put_events("user_000006", "s", [Event("liked", "no-such-item", 1)])


def test_ranking_puts_items_without_data_last_unscored(service_dir: Path) -> None:
    service = open_service(service_dir)
    known = [item.item_id for item in service.items()[:4]]
    ranked = service.rank("user_000007", ["mystery-item", *known]).item_list
    assert [item.item_id for item in ranked][-1] == "mystery-item"
    assert ranked[-1].score is None
    assert all(item.score is not None for item in ranked[:-1])
    assert sorted(i.item_id for i in ranked[:-1]) == sorted(known)


def test_similar_services_say_what_they_go_with(service_dir: Path) -> None:
    service = open_service(service_dir)
    ec2 = next(i.item_id for i in service.items() if i.service_name == "Amazon EC2")
    similar = service.similar(ec2, num_results=5).item_list
    assert ec2 not in [item.item_id for item in similar]
    assert all(item.reason == "often used with Amazon EC2" for item in similar)


def test_not_ready_until_a_model_is_activated_then_picked_up(data_dir: Path) -> None:
    clock = ManualClock()
    service = open_service(data_dir, clock)
    assert not service.is_ready()
    with pytest.raises(NotReadyError, match="srs train"):
        service.recommend("user_000001")
    trained = train_and_activate(
        load_settings(environ={}, overrides={"data_dir": data_dir}), tune=False, evaluate=False
    )
    assert not service.is_ready()  # not re-checked yet
    clock.now += MODEL_CHECK_SECONDS
    assert service.is_ready()
    assert service.model_info().version == trained.version


def test_search_users_suggests_by_prefix(service_dir: Path) -> None:
    service = open_service(service_dir)
    assert service.search_users("user_00001", limit=3) == [
        "user_000010",
        "user_000011",
        "user_000012",
    ]
    assert service.search_users("zzz") == []


def test_a_broken_active_model_leaves_the_previous_one_serving(
    service_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    service = open_service(service_dir, clock)
    serving = service.model_info().version
    (service_dir / "models" / "20991231T000000Z-missing0").mkdir()
    (service_dir / "models" / "ACTIVE").write_text("20991231T000000Z-missing0\n")
    clock.now += MODEL_CHECK_SECONDS
    assert service.is_ready()
    assert service.model_info().version == serving
    assert service.recommend("user_000001", num_results=3).item_list
    deadline = time.monotonic() + 30  # the new version is loaded aside, off this thread
    while "previous one keeps serving" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "previous one keeps serving" in caplog.text
    clock.now += MODEL_CHECK_SECONDS
    assert service.model_info().version == serving


def test_services_launched_in_the_stored_history_are_not_recommended(service_dir: Path) -> None:
    service = open_service(service_dir)
    unfiltered = open_service(service_dir, default_filter="")
    checked = 0
    for number in range(1, 40):
        user = f"user_{number:06d}"
        launched = {
            entry.item_id
            for entry in service.history(user, limit=500).interactions
            if entry.event_type in ("launched", "configured", "not_interested")
        }
        everything = unfiltered.recommend(user, num_results=len(service.items())).item_list
        expected = [item.item_id for item in everything if item.item_id not in launched][:25]
        assert [item.item_id for item in service.recommend(user).item_list] == expected
        checked += bool(launched & {item.item_id for item in everything[:25]})
    assert checked > 5  # the filter did take out items the model ranked high


def test_precomputed_answers_are_the_live_answers_for_every_user(service_dir: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": service_dir})
    table = LocalRecommendationService.from_settings(settings, clock=ManualClock())
    live = LocalRecommendationService.from_settings(
        settings, clock=ManualClock(), answer_tables=False
    )
    assert table.answers_precomputed() and not live.answers_precomputed()
    users = table.search_users("user_", limit=100_000)
    assert len(users) > 100
    for user in users:
        for count in (25, 7):
            expected = live.recommend(user, num_results=count)
            answer = table.recommend(user, num_results=count)
            assert answer.item_list == expected.item_list, (user, count)
            assert answer.recommendation_id != expected.recommendation_id
    assert uuid.UUID(answer.recommendation_id).version == 4


def test_a_new_model_is_served_live_then_from_its_own_table(service_dir: Path) -> None:
    clock = ManualClock()
    service = open_service(service_dir, clock)
    before = service.recommend("user_000007").item_list
    settings = load_settings(environ={}, overrides={"data_dir": service_dir})
    trained = train_and_activate(settings, "similar-items", tune=False, evaluate=False)
    clock.now += MODEL_CHECK_SECONDS
    deadline = time.monotonic() + 60
    while service.model_info().version != trained.version and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.answers_precomputed()
    live = open_service(service_dir, answer_tables=False)
    for user in ("user_000007", "user_000008", "user_000009"):
        assert service.recommend(user).item_list == live.recommend(user).item_list
    assert service.recommend("user_000007").item_list != before


def test_a_default_filter_with_parameters_is_evaluated_per_request(service_dir: Path) -> None:
    service = open_service(
        service_dir, default_filter='INCLUDE ItemID WHERE Items.CATEGORY IN ("Storage")'
    )
    assert not service.answers_precomputed()
    answer = service.recommend("user_000001", num_results=5).item_list
    assert answer and {item.category for item in answer} == {"Storage"}


def test_a_blended_model_serves_live_at_once_and_its_table_follows(
    service_dir: Path, tmp_path: Path
) -> None:
    from srs.data.store import LocalStore
    from srs.engine import create_recipe
    from srs.engine.model_store import ModelStore
    from srs.training import load_training_data

    settings = load_settings(environ={}, overrides={"data_dir": service_dir})
    data = load_training_data(LocalStore(service_dir), None)
    blend = {"item_item": 0.5, "factors": 0.3, "popularity": -0.1, "window": 0.2, "value": 0.1}
    model = create_recipe("user-personalization", blend=blend).fit(data.interactions, data.items)
    assert not model.answers_quickly
    model.save(tmp_path / "blended")
    models = ModelStore(LocalStore(service_dir), settings.model_cache_dir)
    models.publish(tmp_path / "blended", "20990101T000000Z-blended")
    models.activate("20990101T000000Z-blended")

    service = open_service(service_dir)
    assert service.model_info().version == "20990101T000000Z-blended"
    first = service.recommend("user_000003").item_list  # answered, table ready or not
    deadline = time.monotonic() + 60
    while not service.answers_precomputed() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.answers_precomputed()
    live = open_service(service_dir, answer_tables=False)
    assert first == live.recommend("user_000003").item_list
    for user in ("user_000003", "user_000011", "user_000042"):
        assert service.recommend(user).item_list == live.recommend(user).item_list


def test_recommendation_ids_are_distinct_version_4_uuids() -> None:
    ids = [recommendation_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:500]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_forked_workers_draw_different_recommendation_ids() -> None:
    """Server workers are forked: a child must not repeat its parent's sequence of IDs."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(writer, recommendation_id().encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as pipe:
        from_child = pipe.read().decode()
    assert uuid.UUID(from_child).version == 4
    assert from_child != recommendation_id()


def test_similar_items_of_an_unknown_item_are_not_found_and_never_the_item_itself(
    service_dir: Path,
) -> None:
    service = open_service(service_dir)
    with pytest.raises(NotFoundError, match="nope"):
        service.similar("nope")
    s3 = next(item for item in service.items() if item.service_name == "Amazon S3")
    for key in (s3.item_id, "Amazon S3", " amazon  s3", "S3", "Amazon Simple Storage Service"):
        answer = service.similar(key, num_results=25).item_list
        assert len(answer) == 25
        assert s3.item_id not in {item.item_id for item in answer}


def test_a_user_known_only_through_feedback_is_found_by_the_user_search(
    service_dir: Path,
) -> None:
    service = open_service(service_dir)
    assert service.search_users("zz_newcomer") == []
    item = service.items()[0].item_id
    service.put_events("zz_newcomer_1", "s", [Event("viewed", item, 1_760_000_000)])
    assert service.search_users("zz_new") == ["zz_newcomer_1"]
    assert service.search_users("user_00000", limit=3) == [
        "user_000001",
        "user_000002",
        "user_000003",
    ]


def test_event_types_clients_send_are_stored_in_canonical_form(service_dir: Path) -> None:
    service = open_service(service_dir, event_types={"deploy": "launched"})
    first, second, third = (item.item_id for item in service.recommend("user_000005").item_list[:3])
    service.put_events(
        "user_000005",
        "s",
        [
            Event(" Launch ", first, 1_760_000_000),
            Event("deploy", second, 1_760_000_001),
            Event("Page View", third, 1_760_000_002),
        ],
    )
    newest = service.history("user_000005", limit=3).interactions
    assert [entry.event_type for entry in newest] == ["viewed", "launched", "launched"]
    after = {item.item_id for item in service.recommend("user_000005").item_list}
    assert first not in after and second not in after  # the default filter sees launches


def with_a_newer_copy(data_dir: Path) -> tuple[str, str]:
    """Publish a copy of the active version under a later name and activate it."""
    import shutil

    models = data_dir / "models"
    previous = (models / "ACTIVE").read_text().strip()
    newer = "20991231T000000Z-copy0000"
    shutil.copytree(models / previous, models / newer)
    (models / "ACTIVE").write_text(newer + "\n")
    return previous, newer


def truncate_largest_array(directory: Path) -> None:
    largest = max(directory.glob("*.npy"), key=lambda path: path.stat().st_size)
    os.truncate(largest, 1000)


def test_a_fresh_worker_falls_back_from_a_truncated_active_version(
    service_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    previous, newer = with_a_newer_copy(service_dir)
    truncate_largest_array(service_dir / "models" / newer)
    service = open_service(service_dir)
    assert service.model_info().version == previous
    assert service.recommend("user_000001", num_results=3).item_list
    assert service.recommend("nobody-at-all", num_results=3).item_list
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert newer in warnings[0].getMessage() and previous in warnings[0].getMessage()


def test_a_serving_worker_falls_back_when_its_version_is_truncated_under_it(
    service_dir: Path,
) -> None:
    previous, newer = with_a_newer_copy(service_dir)
    clock = ManualClock()
    service = open_service(service_dir, clock)
    assert service.model_info().version == newer
    truncate_largest_array(service_dir / "models" / newer)
    clock.now += MODEL_CHECK_SECONDS
    assert service.model_info().version == previous
    assert service.recommend("user_000001", num_results=3).item_list
    clock.now += MODEL_CHECK_SECONDS
    assert service.model_info().version == previous


def test_a_forged_manifest_is_never_adopted(service_dir: Path) -> None:
    import json

    import numpy as np

    from srs.engine.persistence import file_sha256

    previous, newer = with_a_newer_copy(service_dir)
    directory = service_dir / "models" / newer
    manifest = json.loads((directory / "model.json").read_text())
    for name, entry in manifest["arrays"].items():
        if name != "item_ids" and len(entry["shape"]) >= 1:
            path = directory / entry["file"]
            wrong = np.zeros([3, *entry["shape"][1:]], dtype=np.float64)
            np.save(path, wrong, allow_pickle=False)
            entry.update(dtype=wrong.dtype.str, shape=list(wrong.shape), sha256=file_sha256(path))
    (directory / "model.json").write_text(json.dumps(manifest))
    service = open_service(service_dir)
    assert service.model_info().version == previous
    for user in ("user_000001", "user_000002", "nobody-at-all"):
        assert service.recommend(user, num_results=5).item_list


def test_no_valid_version_is_not_ready(service_dir: Path) -> None:
    models = service_dir / "models"
    for version in models.iterdir():
        if version.is_dir():
            truncate_largest_array(version)
    service = open_service(service_dir)
    assert not service.is_ready()
    with pytest.raises(NotReadyError, match="no model can serve"):
        service.recommend("user_000001")


def test_a_new_model_serves_only_once_its_answer_table_is_ready(service_dir: Path) -> None:
    import threading

    clock = ManualClock()
    gate = threading.Event()
    settings = load_settings(environ={}, overrides={"data_dir": service_dir})
    service = LocalRecommendationService.from_settings(settings, clock=clock, table_gate=gate)
    old = service.model_info().version
    users = ("user_000007", "user_000008", "user_000009")
    before = {user: service.recommend(user).item_list for user in users}
    trained = train_and_activate(settings, "similar-items", tune=False, evaluate=False)
    clock.now += MODEL_CHECK_SECONDS
    for _ in range(3):
        assert service.model_info().version == old
        assert service.answers_precomputed()
        for user in users:
            assert service.recommend(user).item_list == before[user]
        clock.now += MODEL_CHECK_SECONDS

    launched = before["user_000009"][0].item_id
    service.put_events("user_000009", "s", [Event("launched", launched, 1_760_000_000, 5.0)])
    changed = service.recommend("user_000009").item_list
    assert changed != before["user_000009"]
    assert launched not in [item.item_id for item in changed]
    assert service.model_info().version == old

    gate.set()
    deadline = time.monotonic() + 60
    while service.model_info().version != trained.version and time.monotonic() < deadline:
        time.sleep(0.02)
    assert service.model_info().version == trained.version
    assert service.answers_precomputed()
    live = open_service(service_dir, answer_tables=False)
    for user in users:
        assert service.recommend(user).item_list == live.recommend(user).item_list
    assert service.recommend("user_000007").item_list != before["user_000007"]


class HeldLoads(ModelStore):
    """A real model store whose loads, once ``hold`` is set, wait for ``release``: a new
    version that takes as long to load as a test needs."""

    def __init__(self, store: DataStore, cache_dir: Path) -> None:
        super().__init__(store, cache_dir)
        self.hold = threading.Event()
        self.release = threading.Event()
        self.loading: list[str] = []

    def load(self, version: str, verify: bool = True) -> LoadedModel:
        if self.hold.is_set():
            self.loading.append(version)
            self.release.wait(HELD_LOAD_SECONDS)
        return super().load(version, verify)


HELD_LOAD_SECONDS = 5.0


def test_a_request_during_adoption_is_answered_by_the_old_model_without_waiting_for_the_load(
    service_dir: Path,
) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": service_dir})
    store = open_store(settings)
    dataset = current_dataset(store)
    models = HeldLoads(store, settings.model_cache_dir)
    clock = ManualClock()
    service = LocalRecommendationService(
        models=models,
        items=read_store_csv(store, dataset.key(ITEMS_FILE), dtype=str, keep_default_na=False),
        history=InteractionHistory.from_store(store, dataset.key(INTERACTIONS_FILE)),
        events=EventStore(settings.events_path),
        default_filter=settings.default_filter,
        clock=clock,
    )
    before = service.recommend("user_000007").item_list
    previous, newer = with_a_newer_copy(service_dir)
    models.hold.set()
    clock.now += MODEL_CHECK_SECONDS

    started = time.perf_counter()
    answer = service.recommend("user_000007").item_list
    waited = time.perf_counter() - started

    assert waited < HELD_LOAD_SECONDS / 2
    assert answer == before
    assert service.model_info().version == previous
    deadline = time.monotonic() + 10
    while not models.loading and time.monotonic() < deadline:
        time.sleep(0.01)
    assert models.loading == [newer]  # the load is under way, on another thread
    clock.now += MODEL_CHECK_SECONDS
    assert service.model_info().version == previous  # noticed again: not loaded twice
    models.release.set()
    deadline = time.monotonic() + 60
    while service.model_info().version != newer and time.monotonic() < deadline:
        time.sleep(0.02)
    assert service.model_info().version == newer
    assert models.loading == [newer]
    assert service.answers_precomputed()
    assert service.recommend("user_000007").item_list == before  # a copy: the same answers


TRUNCATING_WORKER = """
import os, sys
from pathlib import Path
from srs.config import load_settings
from srs.serving.local_service import LocalRecommendationService

data = Path(sys.argv[1])
settings = load_settings(environ={}, overrides={"data_dir": data})
service = LocalRecommendationService.from_settings(
    settings, clock=lambda: 0.0, answer_tables=False
)
version = service.model_info().version
for path in (data / "models" / version).glob("*.npy"):
    os.truncate(path, 0)
answer = service.recommend("user_000001", num_results=5)
print(len(answer.item_list), service.model_info().version == version)
"""


def test_truncating_the_active_files_after_adoption_does_not_crash_the_next_request(
    service_dir: Path,
) -> None:
    """A worker (its own process: memory-mapped arrays would kill it with SIGBUS) serving a
    model whose files are then truncated to nothing, asked for recommendations before it
    checks the files again: it answers from the copy it verified."""
    model_bytes = sum(path.stat().st_size for path in service_dir.glob("models/*/*.npy"))
    assert model_bytes <= IN_MEMORY_MAX_BYTES
    worker = subprocess.run(
        [sys.executable, "-c", TRUNCATING_WORKER, str(service_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == 0, (worker.returncode, worker.stderr[-2000:])
    assert worker.stdout.split() == ["5", "True"]
