"""Items added while serving (PutItems): one worker adds, another serves them as cold items at
once, filters see their metadata, and the next ``srs train`` puts them in the catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srs.catalogue_additions import AddedItemsView, AddedUser, CatalogueAdditions
from srs.config import load_settings
from srs.data.store import open_store
from srs.events.event import Event
from srs.serving.local_service import NEW_ITEM_REASON, LocalRecommendationService
from srs.serving.service import ItemInfo, RequestError
from srs.training import load_training_data, train_and_activate

QUANTUM = ItemInfo("svc-quantum", "Amazon Quantum", "Quantum", "Qubits as a service.")
QUANTUM_ONLY = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("Quantum")'


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory, prepared_data_dir: Path) -> Path:
    target = tmp_path_factory.mktemp("trained") / "data"
    shutil.copytree(prepared_data_dir, target)
    train_and_activate(load_settings(environ={}, overrides={"data_dir": target}), tune=False)
    return target


@pytest.fixture
def data_dir(trained_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(trained_dir, target)
    return target


def open_service(data_dir: Path) -> LocalRecommendationService:
    settings = load_settings(environ={}, overrides={"data_dir": data_dir})
    return LocalRecommendationService.from_settings(settings)


def test_the_version_moves_with_each_write_and_the_view_follows(tmp_path: Path) -> None:
    writer = CatalogueAdditions.in_directory(tmp_path)
    view = AddedItemsView(CatalogueAdditions.in_directory(tmp_path), known={})
    assert view.current().items == []
    before = writer.version()

    writer.put_items([QUANTUM])
    writer.put_users([AddedUser("ada", '{"TEAM": "data"}')])

    assert writer.version() == before + 4
    assert view.current().items == [QUANTUM]
    writer.put_items([ItemInfo("svc-quantum", "Amazon Quantum 2", "Quantum", "")])
    assert [item.service_name for item in view.current().items] == ["Amazon Quantum 2"]
    assert view.users_starting_with("a", 10) == ["ada"]


def test_a_catalogue_item_is_left_to_the_next_training(tmp_path: Path) -> None:
    writer = CatalogueAdditions.in_directory(tmp_path)
    writer.put_items([QUANTUM])
    assert AddedItemsView(writer, known={QUANTUM.item_id: QUANTUM}).current().items == []


def test_another_worker_serves_an_added_item_as_a_cold_item_at_once(data_dir: Path) -> None:
    serving, other = open_service(data_dir), open_service(data_dir)
    catalogue = len(serving.items())
    with pytest.raises(RequestError):
        serving.put_events("user_000001", "s", [Event("viewed", QUANTUM.item_id, 1_700_000_000)])

    CatalogueAdditions.in_directory(data_dir).put_items([QUANTUM])

    filtered = serving.recommend("user_000001", filter=QUANTUM_ONLY)
    assert [(item.item_id, item.score, item.reason) for item in filtered.item_list] == [
        (QUANTUM.item_id, 0.0, NEW_ITEM_REASON)
    ]
    everything = other.recommend("user_000002", num_results=500).item_list
    assert everything[-1].item_id == QUANTUM.item_id
    assert all(item.item_id != QUANTUM.item_id for item in other.recommend("user_000002").item_list)
    assert len(serving.items()) == catalogue + 1
    serving.put_events(
        "user_000001", "s", [Event("not_interested", QUANTUM.item_id, 1_700_000_000)]
    )
    assert serving.recommend("user_000001", filter=QUANTUM_ONLY).item_list == []
    assert serving.similar(QUANTUM.item_id).item_list


def test_training_takes_added_items_into_the_catalogue(data_dir: Path) -> None:
    CatalogueAdditions.in_directory(data_dir).put_items([QUANTUM])
    settings = load_settings(environ={}, overrides={"data_dir": data_dir})

    data = load_training_data(open_store(settings), None, [QUANTUM])
    model = train_and_activate(settings, tune=False, evaluate=False)

    assert data.items["ITEM_ID"].tolist().count(QUANTUM.item_id) == 1
    assert QUANTUM.item_id in model.recipe.catalogue.index
    service = open_service(data_dir)
    answer = service.recommend("user_000003", filter=QUANTUM_ONLY).item_list
    assert [item.service_name for item in answer] == ["Amazon Quantum"]
