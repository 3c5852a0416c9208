"""Every read of the dataset takes all its files from one published version, on disk and on S3
(moto's server over HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from srs.config import DATASET_PREFIX
from srs.data.dataset_version import (
    CURRENT_KEY,
    DatasetVersion,
    current_dataset,
    publish_to_store,
)
from srs.data.prepare import INTERACTIONS_FILE, ITEMS_FILE, OUTPUT_FILES, prepare_dataset
from srs.data.publish import PublishedDataset
from srs.data.store import DataStore, LocalStore, S3Store, StoreError, read_store_csv
from srs.training import load_training_data

HEADER = "User ID,AWS Service,Interaction Type,Rating,Timestamp\n"
OLD_ROWS = (
    "u1,Amazon S3,viewed,4,1700000000\n"
    "u1,AWS Lambda,launched,5,1700000100\n"
    "u2,Amazon S3,viewed,3,1700000200\n"
)
NEW_ROWS = (
    "n1,Amazon EC2,viewed,4,1700000000\n"
    "n1,Amazon DynamoDB,launched,5,1700000100\n"
    "n2,Amazon EC2,viewed,3,1700000200\n"
    "n2,Amazon RDS,viewed,3,1700000300\n"
)


def prepare(tmp_path: Path, name: str, rows: str, out_dir: Path) -> PublishedDataset:
    source = tmp_path / f"{name}.csv"
    source.write_text(HEADER + rows)
    result = prepare_dataset(source, out_dir)
    return PublishedDataset(result.version, result.outputs)


def users(store: DataStore, dataset: DatasetVersion) -> set[str]:
    frame = read_store_csv(store, dataset.key(INTERACTIONS_FILE), dtype=str)
    return set(frame["USER_ID"])


def services(store: DataStore, dataset: DatasetVersion) -> set[str]:
    frame = read_store_csv(store, dataset.key(ITEMS_FILE), dtype=str)
    return set(frame["SERVICE_NAME"])


# --- local: the dataset symlink is resolved once per read ---------------------------------


def test_a_local_read_keeps_its_version_when_a_publish_lands_between_two_files(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "data")
    prepare(tmp_path, "old", OLD_ROWS, tmp_path / "data" / "dataset")
    dataset = current_dataset(store)
    assert users(store, dataset) == {"u1", "u2"}

    prepare(tmp_path, "new", NEW_ROWS, tmp_path / "data" / "dataset")

    assert "Amazon EC2" not in services(store, dataset)
    assert services(store, current_dataset(store)) >= {"Amazon EC2", "Amazon RDS"}
    assert users(store, current_dataset(store)) == {"n1", "n2"}


class PublishingBeforeItems(LocalStore):
    """A real local store on which a new dataset is published just before items.csv is opened,
    after interactions.csv was read: the worst moment for a reader opening files one by one."""

    def __init__(self, root: Path, publish: Callable[[], object]) -> None:
        super().__init__(root)
        self._publish: Callable[[], object] | None = publish

    def local_path(self, key: str) -> Path | None:
        if key.endswith(ITEMS_FILE) and self._publish is not None:
            publish, self._publish = self._publish, None
            publish()
        return super().local_path(key)


def test_training_data_never_mixes_two_publishes(tmp_path: Path) -> None:
    out_dir = tmp_path / "data" / "dataset"
    prepare(tmp_path, "old", OLD_ROWS, out_dir)
    store = PublishingBeforeItems(
        tmp_path / "data", lambda: prepare(tmp_path, "new", NEW_ROWS, out_dir)
    )

    data = load_training_data(store, None)

    assert set(data.interactions["USER_ID"]) == {"u1", "u2"}
    named = dict(zip(data.items["ITEM_ID"], data.items["SERVICE_NAME"], strict=True))
    assert {named[item] for item in data.interactions["ITEM_ID"]} == {"Amazon S3", "AWS Lambda"}
    assert "Amazon EC2" not in named.values()
    assert users(store, current_dataset(store)) == {"n1", "n2"}


def test_a_plain_dataset_directory_is_read_as_it_is(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / "dataset").mkdir()
    assert current_dataset(store) == DatasetVersion(DATASET_PREFIX)


# --- S3: versioned keys and one CURRENT object ---------------------------------------------


@pytest.fixture
def s3_store(s3_client: Any, s3_bucket: str) -> S3Store:
    return S3Store(s3_bucket, prefix="team/", client=s3_client)


def stored_versions(store: DataStore) -> set[str]:
    return {key.split("/")[1] for key in store.list(DATASET_PREFIX) if key.count("/") == 2}


def test_s3_publish_writes_a_version_then_switches_current(
    tmp_path: Path, s3_store: S3Store
) -> None:
    old = prepare(tmp_path, "old", OLD_ROWS, tmp_path / "data" / "dataset")
    uris = publish_to_store(s3_store, old.version, old.files)

    assert s3_store.get_bytes(CURRENT_KEY).decode().strip() == old.version
    assert uris[INTERACTIONS_FILE] == s3_store.uri(f"dataset/{old.version}/{INTERACTIONS_FILE}")
    assert not s3_store.exists(DATASET_PREFIX + INTERACTIONS_FILE)
    dataset = current_dataset(s3_store)
    assert dataset == DatasetVersion(f"dataset/{old.version}/")
    assert users(s3_store, dataset) == {"u1", "u2"}


def test_s3_publish_interrupted_before_the_switch_leaves_readers_on_the_old_version(
    tmp_path: Path, s3_store: S3Store
) -> None:
    out_dir = tmp_path / "data" / "dataset"
    old = prepare(tmp_path, "old", OLD_ROWS, out_dir)
    publish_to_store(s3_store, old.version, old.files)
    new = prepare(tmp_path, "new", NEW_ROWS, out_dir)
    # Every real file uploads, then the run dies on the last one, before CURRENT is written.
    dying = {**new.files, "zz-last.csv": tmp_path / "vanished.csv"}

    with pytest.raises(StoreError, match=r"vanished\.csv"):
        publish_to_store(s3_store, new.version, dying)

    assert s3_store.exists(f"dataset/{new.version}/{INTERACTIONS_FILE}")
    dataset = current_dataset(s3_store)
    assert dataset.prefix == f"dataset/{old.version}/"
    assert users(s3_store, dataset) == {"u1", "u2"}
    assert services(s3_store, dataset) >= {"Amazon S3", "AWS Lambda"}
    assert "Amazon RDS" not in services(s3_store, dataset)

    newest = prepare(tmp_path, "newest", NEW_ROWS, out_dir)
    publish_to_store(s3_store, newest.version, newest.files)
    # The interrupted upload is gone; the old version stays for readers that still hold it.
    assert stored_versions(s3_store) == {old.version, newest.version}


def test_an_s3_reader_never_mixes_versions_and_old_ones_are_removed(
    tmp_path: Path, s3_store: S3Store
) -> None:
    out_dir = tmp_path / "data" / "dataset"
    first = prepare(tmp_path, "old", OLD_ROWS, out_dir)
    publish_to_store(s3_store, first.version, first.files)
    reading = current_dataset(s3_store)
    assert users(s3_store, reading) == {"u1", "u2"}

    second = prepare(tmp_path, "new", NEW_ROWS, out_dir)
    publish_to_store(s3_store, second.version, second.files)

    assert "Amazon RDS" not in services(s3_store, reading)
    assert "Amazon RDS" in services(s3_store, current_dataset(s3_store))
    assert stored_versions(s3_store) == {first.version, second.version}

    third = prepare(tmp_path, "third", OLD_ROWS, out_dir)
    publish_to_store(s3_store, third.version, third.files)
    assert stored_versions(s3_store) == {second.version, third.version}


def test_a_flat_s3_dataset_is_read_until_versions_replace_it(
    tmp_path: Path, s3_store: S3Store
) -> None:
    old = prepare(tmp_path, "old", OLD_ROWS, tmp_path / "data" / "dataset")
    for name in OUTPUT_FILES:
        s3_store.put_file(DATASET_PREFIX + name, old.files[name])
    assert current_dataset(s3_store) == DatasetVersion(DATASET_PREFIX)
    assert {"u1", "u2"} == set(load_training_data(s3_store, None).interactions["USER_ID"])

    new = prepare(tmp_path, "new", NEW_ROWS, tmp_path / "data" / "dataset")
    publish_to_store(s3_store, new.version, new.files)
    assert {"n1", "n2"} == set(load_training_data(s3_store, None).interactions["USER_ID"])
    assert s3_store.exists(DATASET_PREFIX + INTERACTIONS_FILE)

    newest = prepare(tmp_path, "newest", OLD_ROWS, tmp_path / "data" / "dataset")
    publish_to_store(s3_store, newest.version, newest.files)
    assert not any(s3_store.exists(DATASET_PREFIX + name) for name in OUTPUT_FILES)


def test_a_current_object_naming_no_version_is_one_clear_error(s3_store: S3Store) -> None:
    s3_store.put_bytes(CURRENT_KEY, b"../../etc\n")
    with pytest.raises(StoreError, match=r"dataset/CURRENT names '\.\./\.\./etc', not a dataset"):
        current_dataset(s3_store)


def test_frames_read_back_equal_the_published_files(tmp_path: Path, s3_store: S3Store) -> None:
    old = prepare(tmp_path, "old", OLD_ROWS, tmp_path / "data" / "dataset")
    publish_to_store(s3_store, old.version, old.files)
    stored = read_store_csv(s3_store, current_dataset(s3_store).key(ITEMS_FILE), dtype=str)
    pd.testing.assert_frame_equal(stored, pd.read_csv(old.files[ITEMS_FILE], dtype=str))


def test_prepare_out_elsewhere_publishes_a_copy_as_a_new_version_of_the_data_dir(
    tmp_path: Path,
) -> None:
    """``srs prepare --out DIR`` publishes to the store's dataset too: as a version of its own,
    never by overwriting, file by file, the version a reader holds."""
    from click.testing import CliRunner

    from srs.cli import main

    data_dir = tmp_path / "data"
    store = LocalStore(data_dir)

    def prepare_out(name: str, rows: str) -> None:
        source = tmp_path / f"{name}.csv"
        source.write_text(HEADER + rows)
        result = CliRunner().invoke(
            main,
            [
                "--data-dir",
                str(data_dir),
                "prepare",
                "--source",
                str(source),
                "--out",
                str(tmp_path / name),
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output

    prepare_out("old", OLD_ROWS)
    assert (data_dir / "dataset").is_symlink()
    held = current_dataset(store)
    assert users(store, held) == {"u1", "u2"}

    prepare_out("new", NEW_ROWS)

    assert users(store, held) == {"u1", "u2"}
    assert "Amazon RDS" not in services(store, held)
    latest = current_dataset(store)
    assert latest != held
    assert users(store, latest) == {"n1", "n2"}
    assert (data_dir / "dataset" / ITEMS_FILE).read_bytes() == (
        tmp_path / "new" / ITEMS_FILE
    ).read_bytes()
