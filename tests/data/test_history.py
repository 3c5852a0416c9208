"""Data Processor: user histories from interactions.csv in any DataStore."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from srs.data.history import (
    HistoryDataError,
    Interaction,
    InteractionHistory,
    first_uncastable,
    newest_first_order,
)
from srs.data.store import DataStore, KeyNotFoundError, LocalStore, S3Store

CSV = b"""USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP
007,0042,view,1.0,1700000100
7,0001,launch,4.0,1700000000
007,0013,rate,5.0,1700000300
u1,0042,view,1.0,1700000050
007,0001,launch,3.5,1700000200
007,0099,view,1.0,1700000300
"""
# user 007, newest first; the two rows at ...300 keep the later file row first
EXPECTED_007 = [
    Interaction("007", "0099", "view", 1.0, 1700000300),
    Interaction("007", "0013", "rate", 5.0, 1700000300),
    Interaction("007", "0001", "launch", 3.5, 1700000200),
    Interaction("007", "0042", "view", 1.0, 1700000100),
]


class CountingStore:
    """Passes reads through to another store and counts them; offers no local path."""

    def __init__(self, inner: DataStore) -> None:
        self.inner = inner
        self.reads = 0

    def uri(self, key: str) -> str:
        return self.inner.uri(key)

    def local_path(self, key: str) -> Path | None:
        return None

    def open_read(self, key: str) -> BinaryIO:
        self.reads += 1
        return self.inner.open_read(key)

    def get_bytes(self, key: str) -> bytes:
        self.reads += 1
        return self.inner.get_bytes(key)

    def get_file(self, key: str, dest_path: Path) -> None:
        self.reads += 1
        self.inner.get_file(key, dest_path)


@pytest.fixture
def history(tmp_path: Path) -> InteractionHistory:
    store = LocalStore(tmp_path)
    store.put_bytes("interactions.csv", CSV)
    return InteractionHistory.from_store(store)


def test_newest_first_with_ids_kept_as_text(history: InteractionHistory) -> None:
    assert history.get_user_history("007") == EXPECTED_007
    assert history.get_user_history("7") == [Interaction("7", "0001", "launch", 4.0, 1700000000)]


def test_values_have_plain_python_types(history: InteractionHistory) -> None:
    first = history.get_user_history("007")[0]
    assert type(first.event_value) is float
    assert type(first.timestamp) is int
    assert type(first.item_id) is str


def test_paging_walks_the_whole_history(history: InteractionHistory) -> None:
    pages = [history.get_user_history("007", limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [len(page) for page in pages] == [3, 1, 0]
    assert pages[0] + pages[1] == EXPECTED_007
    assert history.get_user_history("007", limit=2, offset=1) == EXPECTED_007[1:3]
    assert history.get_user_history("007", limit=0) == []


def test_counts(history: InteractionHistory) -> None:
    assert history.count("007") == 4
    assert history.count("7") == 1
    assert history.count("u1") == 1
    assert len(history) == 6
    assert history.user_count == 3


@pytest.mark.parametrize("user", ["nobody", "", "0", "07", "0070", "zzz"])
def test_unknown_user_has_empty_history(history: InteractionHistory, user: str) -> None:
    assert history.get_user_history(user) == []
    assert history.count(user) == 0


def test_user_rows_are_the_history_as_arrays(history: InteractionHistory) -> None:
    rows = history.user_rows("007")
    assert len(rows) == 4
    as_objects = [
        Interaction("007", rows.item_ids[item], rows.event_types[kind], value, stamp)
        for item, kind, value, stamp in zip(
            rows.item_codes.tolist(),
            rows.event_type_codes.tolist(),
            rows.event_values.tolist(),
            rows.timestamps.tolist(),
            strict=True,
        )
    ]
    assert as_objects == EXPECTED_007
    assert [rows.item_ids[code] for code in history.user_rows("u1").item_codes] == ["0042"]


@pytest.mark.parametrize("user", ["nobody", "", "0070"])
def test_unknown_user_has_no_rows(history: InteractionHistory, user: str) -> None:
    rows = history.user_rows(user)
    assert len(rows) == 0 and len(rows.item_codes) == len(rows.event_values) == 0


def test_user_rows_cannot_change_the_history(history: InteractionHistory) -> None:
    rows = history.user_rows("007")
    with pytest.raises(ValueError, match="read-only"):
        rows.event_values[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        rows.item_codes[0] = 0
    assert history.get_user_history("007") == EXPECTED_007


def test_negative_paging_is_refused(history: InteractionHistory) -> None:
    with pytest.raises(ValueError, match="limit"):
        history.get_user_history("007", limit=-1)
    with pytest.raises(ValueError, match="offset"):
        history.get_user_history("007", offset=-5)


def test_interactions_are_immutable(history: InteractionHistory) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        history.get_user_history("007")[0].item_id = "x"  # type: ignore[misc]


def test_lookups_do_not_reread_the_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("interactions.csv", CSV)
    counting = CountingStore(store)
    history = InteractionHistory.from_store(counting)  # type: ignore[arg-type]
    reads_after_load = counting.reads
    store.delete("interactions.csv")
    for _ in range(3):
        assert history.get_user_history("007") == EXPECTED_007
        assert history.count("u1") == 1
    assert reads_after_load == 1
    assert counting.reads == 1


def test_local_store_reads_from_its_path_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("data/interactions.csv", CSV)
    history = InteractionHistory.from_store(store, key="data/interactions.csv")
    (tmp_path / "data" / "interactions.csv").unlink()
    assert history.get_user_history("007", limit=1) == EXPECTED_007[:1]


def test_loads_from_s3(s3_client: Any, s3_bucket: str) -> None:
    store = S3Store(s3_bucket, prefix="srs/", client=s3_client)
    store.put_bytes("interactions.csv", CSV)
    history = InteractionHistory.from_store(store)
    store.delete("interactions.csv")
    assert history.get_user_history("007") == EXPECTED_007
    assert history.count("7") == 1


def test_missing_file_names_its_location(s3_client: Any, s3_bucket: str) -> None:
    store = S3Store(s3_bucket, prefix="srs/", client=s3_client)
    with pytest.raises(KeyNotFoundError, match=f"s3://{s3_bucket}/srs/interactions.csv"):
        InteractionHistory.from_store(store)


def test_extra_columns_and_column_order_do_not_matter(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes(
        "interactions.csv",
        b"TIMESTAMP,EXTRA,EVENT_VALUE,EVENT_TYPE,ITEM_ID,USER_ID\n5,zz,2.5,view,01,001\n",
    )
    history = InteractionHistory.from_store(store)
    assert history.get_user_history("001") == [Interaction("001", "01", "view", 2.5, 5)]


def test_from_frame_takes_ids_as_text() -> None:
    frame = pd.DataFrame(
        {
            "USER_ID": [7, 7, 8],
            "ITEM_ID": [1, 2, 1],
            "EVENT_TYPE": ["view", "view", "launch"],
            "EVENT_VALUE": [1.0, 2.0, 3.0],
            "TIMESTAMP": [10, 20, 30],
        }
    )
    history = InteractionHistory.from_frame(frame)
    assert history.get_user_history("7") == [
        Interaction("7", "2", "view", 2.0, 20),
        Interaction("7", "1", "view", 1.0, 10),
    ]
    assert history.get_user_history("8")[0].event_type == "launch"


def test_empty_data_gives_empty_histories() -> None:
    frame = pd.DataFrame(
        {
            "USER_ID": pd.Series([], dtype=str),
            "ITEM_ID": pd.Series([], dtype=str),
            "EVENT_TYPE": pd.Series([], dtype=str),
            "EVENT_VALUE": pd.Series([], dtype=float),
            "TIMESTAMP": pd.Series([], dtype="int64"),
        }
    )
    history = InteractionHistory.from_frame(frame)
    assert len(history) == 0
    assert history.get_user_history("u") == []


def test_many_users_agree_with_a_plain_groupby() -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    frame = pd.DataFrame(
        {
            "USER_ID": [f"u{value:03d}" for value in rng.integers(0, 300, n)],
            "ITEM_ID": [f"i{value}" for value in rng.integers(0, 50, n)],
            "EVENT_TYPE": rng.choice(["view", "launch", "rate"], n),
            "EVENT_VALUE": rng.random(n),
            "TIMESTAMP": rng.permutation(n) + 1_600_000_000,
        }
    )
    history = InteractionHistory.from_frame(frame)
    for user, group in frame.groupby("USER_ID"):
        newest = group.sort_values("TIMESTAMP", ascending=False).head(5)
        got = history.get_user_history(str(user), limit=5)
        assert [i.item_id for i in got] == newest["ITEM_ID"].tolist()
        assert [i.timestamp for i in got] == newest["TIMESTAMP"].tolist()
        assert history.count(str(user)) == len(group)


@pytest.mark.parametrize("scale", [1, 2**61], ids=["combined-key", "overflow-fallback"])
def test_order_is_user_then_newest_with_later_row_first_on_ties(scale: int) -> None:
    users = np.array([1, 0, 1, 0, 1, 0], dtype=np.int64)
    stamps = np.array([1, 3, 2, 3, 2, 0], dtype=np.int64) * scale
    assert newest_first_order(users, stamps).tolist() == [3, 1, 5, 4, 2, 0]


# --- bad input -----------------------------------------------------------------------------


def write_csv(tmp_path: Path, text: bytes) -> LocalStore:
    store = LocalStore(tmp_path)
    store.put_bytes("interactions.csv", text)
    return store


def test_missing_columns_are_named(tmp_path: Path) -> None:
    store = write_csv(tmp_path, b"USER_ID,ITEM_ID,EVENT_TYPE\n1,2,view\n")
    with pytest.raises(HistoryDataError) as caught:
        InteractionHistory.from_store(store)
    message = str(caught.value)
    assert str(tmp_path / "interactions.csv") in message
    assert "EVENT_VALUE, TIMESTAMP" in message


def test_bad_number_names_line_column_and_value(tmp_path: Path) -> None:
    store = write_csv(tmp_path, CSV + b"u2,0001,view,1.0,yesterday\nu3,0001,view,1.0,5\n")
    with pytest.raises(HistoryDataError) as caught:
        InteractionHistory.from_store(store)
    message = str(caught.value)
    assert "line 8" in message
    assert "TIMESTAMP" in message
    assert "'yesterday'" in message
    assert str(tmp_path / "interactions.csv") in message


def test_bad_number_from_s3_names_line(s3_client: Any, s3_bucket: str) -> None:
    store = S3Store(s3_bucket, prefix="srs/", client=s3_client)
    store.put_bytes("interactions.csv", CSV.replace(b"3.5", b"high"))
    with pytest.raises(HistoryDataError, match=r"line 6: EVENT_VALUE value 'high'"):
        InteractionHistory.from_store(store)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (b",0001,view,1.0,5", "USER_ID"),
        (b"u,,view,1.0,5", "ITEM_ID"),
        (b"u,1,view,,5", "EVENT_VALUE"),
    ],
)
def test_empty_values_name_line_and_column(tmp_path: Path, row: bytes, column: str) -> None:
    store = write_csv(tmp_path, CSV + row + b"\n")
    with pytest.raises(HistoryDataError, match=f"line 8: {column} is empty"):
        InteractionHistory.from_store(store)


def test_frame_with_missing_column_is_named() -> None:
    with pytest.raises(HistoryDataError, match="data frame: missing column"):
        InteractionHistory.from_frame(pd.DataFrame({"USER_ID": ["1"]}))


@pytest.mark.parametrize("bad_at", [0, 1, 2, 63, 64, 98, 99])
def test_first_uncastable_finds_the_first_bad_value(bad_at: int) -> None:
    values = [str(i) for i in range(100)]
    values[bad_at] = "x"
    if bad_at + 1 < 100:
        values[bad_at + 1] = "y"
    assert first_uncastable(pa.array(values), pa.int64()) == bad_at


def test_first_uncastable_of_clean_values_is_none() -> None:
    assert first_uncastable(pa.array(["1", "2"]), pa.int64()) is None


def test_users_starting_with_finds_a_prefix_range_in_order() -> None:
    frame = pd.DataFrame(
        {
            "USER_ID": ["user_010", "user_002", "admin", "user_001", "user_002", "user_1"],
            "ITEM_ID": ["a", "b", "c", "d", "e", "f"],
            "EVENT_TYPE": ["viewed"] * 6,
            "EVENT_VALUE": [1.0] * 6,
            "TIMESTAMP": [1, 2, 3, 4, 5, 6],
        }
    )
    history = InteractionHistory.from_frame(frame)
    assert history.users_starting_with("user_0") == ["user_001", "user_002", "user_010"]
    assert history.users_starting_with("user_0", limit=2) == ["user_001", "user_002"]
    assert history.users_starting_with("zzz") == []
    assert history.users_starting_with("") == [
        "admin",
        "user_001",
        "user_002",
        "user_010",
        "user_1",
    ]
    stamps, items = history.item_log()
    assert sorted(zip(stamps.tolist(), items.tolist(), strict=True)) == list(
        zip(range(1, 7), ["a", "b", "c", "d", "e", "f"], strict=True)
    )


def test_ids_longer_than_every_stored_id_find_nothing_without_scanning() -> None:
    history = InteractionHistory.from_frame(
        pd.DataFrame(
            {
                "USER_ID": ["u1", "u2"],
                "ITEM_ID": ["a", "b"],
                "EVENT_TYPE": ["viewed", "viewed"],
                "EVENT_VALUE": [1.0, 1.0],
                "TIMESTAMP": [1, 2],
            }
        )
    )
    assert history.count("u1-but-longer") == 0 and history.span("u10") == (0, 0)
    assert history.users_starting_with("u1-but-longer") == []
    assert history.users_starting_with("u") == ["u1", "u2"] and history.count("u2") == 1
