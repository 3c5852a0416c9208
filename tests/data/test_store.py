"""DataStore: the same behaviour from a local directory and from S3 (moto over HTTP)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from srs.config import Settings
from srs.data.store import (
    TEMP_SUFFIX,
    BucketNotFoundError,
    DataStore,
    InvalidKeyError,
    KeyNotFoundError,
    LocalStore,
    S3Store,
    StoreAccessError,
    StoreError,
    _S3ObjectReader,
    check_key,
    open_store,
)

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DataStore:
    if request.param == "local":
        return LocalStore(tmp_path / "root")
    client = request.getfixturevalue("s3_client")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(bucket, prefix="srs/", client=client)


class Boom(RuntimeError):
    """Stands for whatever interrupts a writer half-way."""


def failing_chunks() -> Iterator[bytes]:
    yield b"new content, first half"
    raise Boom("producer died")


# --- both stores ---------------------------------------------------------------------------


def test_bytes_roundtrip_and_overwrite(store: DataStore) -> None:
    payload = bytes(range(256)) * 3
    store.put_bytes("a/b/data.bin", payload)
    assert store.get_bytes("a/b/data.bin") == payload
    store.put_bytes("a/b/data.bin", b"second")
    assert store.get_bytes("a/b/data.bin") == b"second"


def test_empty_object_roundtrip(store: DataStore) -> None:
    store.put_bytes("empty", b"")
    assert store.exists("empty")
    assert store.get_bytes("empty") == b""


def test_list_is_sorted_and_filters_by_key_prefix(store: DataStore) -> None:
    keys = [
        "models2/x",
        "models/v10/meta.json",
        "a.csv",
        "models/v1/model.npz",
        "models/v1/meta.json",
    ]
    for key in keys:
        store.put_bytes(key, key.encode())
    assert store.list() == sorted(keys)
    assert store.list("models/") == [
        "models/v1/meta.json",
        "models/v1/model.npz",
        "models/v10/meta.json",
    ]
    assert store.list("models/v1/") == ["models/v1/meta.json", "models/v1/model.npz"]
    assert store.list("models/v1") == [
        "models/v1/meta.json",
        "models/v1/model.npz",
        "models/v10/meta.json",
    ]
    assert store.list("nothing/") == []


def test_exists_and_delete(store: DataStore) -> None:
    assert not store.exists("k.txt")
    store.put_bytes("k.txt", b"x")
    assert store.exists("k.txt")
    store.delete("k.txt")
    assert not store.exists("k.txt")
    assert store.list() == []
    store.delete("k.txt")  # deleting what is gone is not an error, as on S3


def test_file_roundtrip_creates_destination_directories(store: DataStore, tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    source.write_bytes(b"USER_ID,ITEM_ID\n007,42\n" * 1000)
    store.put_file("prepared/interactions.csv", source)
    dest = tmp_path / "out" / "deep" / "copy.csv"
    store.get_file("prepared/interactions.csv", dest)
    assert dest.read_bytes() == source.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["copy.csv"]


def test_get_file_replaces_existing_destination(store: DataStore, tmp_path: Path) -> None:
    store.put_bytes("k", b"fresh")
    dest = tmp_path / "dest.bin"
    dest.write_bytes(b"stale and longer than fresh")
    store.get_file("k", dest)
    assert dest.read_bytes() == b"fresh"


def test_open_read_streams_in_pieces(store: DataStore) -> None:
    payload = os.urandom(300_000)
    store.put_bytes("big.bin", payload)
    with store.open_read("big.bin") as stream:
        pieces = list(iter(lambda: stream.read(65_536), b""))
    assert len(pieces) > 1
    assert b"".join(pieces) == payload


def test_open_read_supports_lines(store: DataStore) -> None:
    store.put_bytes("lines.csv", b"h1,h2\n1,2\n3,4\n")
    with store.open_read("lines.csv") as stream:
        assert stream.readline() == b"h1,h2\n"
        assert stream.read() == b"1,2\n3,4\n"


def test_put_chunks_writes_every_chunk(store: DataStore) -> None:
    store.put_chunks("chunked", (bytes([i]) * 10 for i in range(5)))
    assert store.get_bytes("chunked") == b"".join(bytes([i]) * 10 for i in range(5))


def test_failed_chunked_write_keeps_previous_content(store: DataStore) -> None:
    store.put_bytes("model.json", b"old")
    with pytest.raises(Boom):
        store.put_chunks("model.json", failing_chunks())
    assert store.get_bytes("model.json") == b"old"
    assert store.list() == ["model.json"]


def test_failed_write_of_new_key_leaves_nothing(store: DataStore) -> None:
    with pytest.raises(Boom), store.open_write("fresh.json") as stream:
        stream.write(b"partial")
        raise Boom("interrupted")
    assert not store.exists("fresh.json")
    assert store.list() == []


def test_open_write_commits_on_success(store: DataStore) -> None:
    with store.open_write("w/out.txt") as stream:
        stream.write(b"hello ")
        stream.write(b"world")
    assert store.get_bytes("w/out.txt") == b"hello world"


@pytest.mark.parametrize("method", ["get_bytes", "open_read"])
def test_missing_key_names_its_location(store: DataStore, method: str) -> None:
    with pytest.raises(KeyNotFoundError) as caught:
        getattr(store, method)("no/such.csv")
    assert store.uri("no/such.csv") in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_get_file_of_missing_key_creates_no_file(store: DataStore, tmp_path: Path) -> None:
    dest = tmp_path / "dl" / "x.csv"
    with pytest.raises(KeyNotFoundError, match="does not exist"):
        store.get_file("missing.csv", dest)
    assert not dest.exists()
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


def test_put_file_from_missing_source_blames_the_source(store: DataStore, tmp_path: Path) -> None:
    source = tmp_path / "not-there.csv"
    with pytest.raises(StoreError, match=r"not-there\.csv") as caught:
        store.put_file("x.csv", source)
    assert not isinstance(caught.value, KeyNotFoundError)
    assert not store.exists("x.csv")


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../escape", "/etc/passwd", "a//b", "a/./b", "", "a\\b", "dir/"]
)
def test_keys_that_could_escape_or_alias_are_rejected(store: DataStore, key: str) -> None:
    with pytest.raises(InvalidKeyError, match="invalid store key"):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.get_bytes(key)


def test_list_rejects_escaping_prefix(store: DataStore) -> None:
    with pytest.raises(InvalidKeyError):
        store.list("../")


def test_uri_names_the_key(store: DataStore) -> None:
    assert store.uri("models/v1/meta.json").endswith("models/v1/meta.json")


# --- key rule ------------------------------------------------------------------------------


def test_check_key_accepts_plain_relative_paths() -> None:
    assert check_key("a/b-c_d.e/f.csv") == "a/b-c_d.e/f.csv"
    assert check_key(".hidden/file") == ".hidden/file"


def test_temp_suffix_is_reserved() -> None:
    with pytest.raises(InvalidKeyError, match="reserved"):
        check_key("x" + TEMP_SUFFIX)


# --- local store ---------------------------------------------------------------------------


def test_local_key_maps_to_path_under_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/b.csv", b"1,2\n")
    path = store.local_path("a/b.csv")
    assert path == tmp_path / "a" / "b.csv"
    assert path.read_bytes() == b"1,2\n"
    assert store.uri("a/b.csv") == str(tmp_path / "a" / "b.csv")


def test_local_failed_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("d/model.json", b"old")
    with pytest.raises(Boom):
        store.put_chunks("d/model.json", failing_chunks())
    with pytest.raises(Boom), store.open_write("d/other.json") as stream:
        stream.write(b"x" * 100_000)
        raise Boom("interrupted")
    assert sorted(os.listdir(tmp_path / "d")) == ["model.json"]
    assert (tmp_path / "d" / "model.json").read_bytes() == b"old"


def test_local_write_is_invisible_until_committed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("m.json", b"old")
    with store.open_write("m.json") as stream:
        stream.write(b"new")
        assert (tmp_path / "m.json").read_bytes() == b"old"
        assert store.list() == ["m.json"]
    assert (tmp_path / "m.json").read_bytes() == b"new"


def test_local_files_get_the_usual_permissions(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("stored", b"x")
    (tmp_path / "plain").write_bytes(b"x")
    assert (tmp_path / "stored").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_local_list_skips_leftover_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a.csv", b"x")
    (tmp_path / f".a.csv.abc123{TEMP_SUFFIX}").write_bytes(b"crashed writer")
    assert store.list() == ["a.csv"]


def test_local_directory_is_not_an_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("models/v1/meta.json", b"{}")
    assert not store.exists("models")
    with pytest.raises(StoreError, match="directory"):
        store.get_bytes("models")


def test_local_write_under_a_file_reports_the_key(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("taken", b"x")
    with pytest.raises(StoreError, match="taken/inner"):
        store.put_bytes("taken/inner", b"y")


# --- S3 store ------------------------------------------------------------------------------


def test_s3_prefixes_isolate_stores_in_one_bucket(s3_client: Any, s3_bucket: str) -> None:
    team_a = S3Store(s3_bucket, prefix="team-a/", client=s3_client)
    team_b = S3Store(s3_bucket, prefix="team-b", client=s3_client)
    team_a.put_bytes("interactions.csv", b"a")
    team_b.put_bytes("interactions.csv", b"b")
    team_b.put_bytes("only-b.csv", b"b")
    assert team_a.list() == ["interactions.csv"]
    assert team_b.list() == ["interactions.csv", "only-b.csv"]
    assert team_a.get_bytes("interactions.csv") == b"a"
    assert not team_a.exists("only-b.csv")
    raw = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert sorted(item["Key"] for item in raw) == [
        "team-a/interactions.csv",
        "team-b/interactions.csv",
        "team-b/only-b.csv",
    ]
    assert team_b.uri("x.csv") == f"s3://{s3_bucket}/team-b/x.csv"


def test_s3_empty_prefix_uses_bucket_root(s3_client: Any, s3_bucket: str) -> None:
    store = S3Store(s3_bucket, prefix="", client=s3_client)
    store.put_bytes("k", b"v")
    assert s3_client.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"v"
    assert store.local_path("k") is None


def test_s3_big_files_go_multipart(s3_client: Any, s3_bucket: str, tmp_path: Path) -> None:
    transfer = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    store = S3Store(s3_bucket, prefix="p", client=s3_client, transfer_config=transfer)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(11 * MiB))
    store.put_file("big.bin", source)
    etag = s3_client.head_object(Bucket=s3_bucket, Key="p/big.bin")["ETag"]
    assert etag.strip('"').endswith("-3")
    dest = tmp_path / "back.bin"
    store.get_file("big.bin", dest)
    assert dest.read_bytes() == source.read_bytes()


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("get_bytes", ("k",)),
        ("open_read", ("k",)),
        ("put_bytes", ("k", b"v")),
        ("exists", ("k",)),
        ("list", ("",)),
        ("delete", ("k",)),
    ],
)
def test_s3_missing_bucket_says_so(
    s3_client: Any, method: str, args: tuple[Any, ...], tmp_path: Path
) -> None:
    store = S3Store("srs-no-such-bucket", prefix="srs/", client=s3_client)
    with pytest.raises(BucketNotFoundError) as caught:
        getattr(store, method)(*args)
    message = str(caught.value)
    assert "'srs-no-such-bucket' does not exist" in message
    assert "s3://srs-no-such-bucket/srs/" in message


def test_s3_missing_bucket_on_file_transfer(s3_client: Any, tmp_path: Path) -> None:
    store = S3Store("srs-no-such-bucket", client=s3_client)
    source = tmp_path / "f.csv"
    source.write_bytes(b"x")
    with pytest.raises(BucketNotFoundError, match="srs-no-such-bucket"):
        store.put_file("f.csv", source)
    with pytest.raises(BucketNotFoundError, match="srs-no-such-bucket"):
        store.get_file("f.csv", tmp_path / "back.csv")
    assert not (tmp_path / "back.csv").exists()


def test_s3_access_denied_is_a_clear_store_error(s3_client_factory: Any) -> None:
    client = s3_client_factory()
    store = S3Store("locked", prefix="srs/", client=client)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(StoreAccessError) as caught:
            store.get_bytes("interactions.csv")
    message = str(caught.value)
    assert "access denied" in message
    assert "s3://locked/srs/interactions.csv" in message
    assert "'locked'" in message


def test_s3_list_follows_every_page(s3_client_factory: Any) -> None:
    client = s3_client_factory()
    store = S3Store("paged", prefix="srs/", client=client)
    with Stubber(client) as stub:
        stub.add_response(
            "list_objects_v2",
            {
                "IsTruncated": True,
                "NextContinuationToken": "t1",
                "Contents": [{"Key": "srs/b"}, {"Key": "srs/c"}],
            },
            {"Bucket": "paged", "Prefix": "srs/"},
        )
        stub.add_response(
            "list_objects_v2",
            {"IsTruncated": False, "Contents": [{"Key": "srs/a"}]},
            {"Bucket": "paged", "Prefix": "srs/", "ContinuationToken": "t1"},
        )
        assert store.list() == ["a", "b", "c"]


def test_s3_unreachable_endpoint_is_a_store_error(s3_client_factory: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = s3_client_factory(
        f"http://127.0.0.1:{port}", Config(retries={"max_attempts": 1, "mode": "standard"})
    )
    store = S3Store("any", client=client)
    with pytest.raises(StoreError, match=r"reading s3://any/k failed: Could not connect"):
        store.get_bytes("k")


def test_s3_stream_failure_mid_read_is_a_store_error() -> None:
    class DroppingBody:
        def read(self, size: int) -> bytes:
            raise ReadTimeoutError(endpoint_url="http://s3")

        def close(self) -> None:
            pass

    with (
        pytest.raises(StoreError, match="reading s3://b/k failed"),
        _S3ObjectReader(DroppingBody(), "s3://b/k") as reader,
    ):
        reader.read(10)


def test_s3_store_needs_a_bucket() -> None:
    with pytest.raises(StoreError, match="bucket"):
        S3Store("", client=object())


# --- factory -------------------------------------------------------------------------------


def test_open_store_local_uses_data_dir(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalStore)
    store.put_bytes("x", b"1")
    assert (tmp_path / "x").read_bytes() == b"1"


def test_open_store_s3_uses_bucket_prefix_and_client(s3_client: Any, s3_bucket: str) -> None:
    settings = Settings(store="s3", s3_bucket=s3_bucket, s3_prefix="deploy")
    store = open_store(settings, s3_client=s3_client)
    assert isinstance(store, S3Store)
    store.put_bytes("interactions.csv", b"x")
    assert s3_client.head_object(Bucket=s3_bucket, Key="deploy/interactions.csv")
    assert store.uri("interactions.csv") == f"s3://{s3_bucket}/deploy/interactions.csv"


def test_open_store_s3_builds_client_for_endpoint() -> None:
    settings = Settings(store="s3", s3_bucket="b", s3_endpoint_url="http://127.0.0.1:1")
    store = open_store(settings)
    assert isinstance(store, S3Store)
    assert store.uri("k") == "s3://b/srs/k"


def test_open_store_rejects_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'ftp'"):
        open_store(Settings(store="ftp"))


def test_an_atomic_write_killed_before_its_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srs import atomic

    target = tmp_path / "model.json"
    target.write_bytes(b"old")

    def killed(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt), atomic.atomic_file(target) as stream:
        stream.write(b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.json"]


def test_an_atomic_write_syncs_the_file_and_then_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from srs import atomic

    synced: list[str] = []
    monkeypatch.setattr(atomic, "fsync_file", lambda path: synced.append(f"file {path.name}"))
    monkeypatch.setattr(atomic, "fsync_directory", lambda path: synced.append(f"dir {path}"))
    LocalStore(tmp_path).put_bytes("dataset/items.csv", b"ITEM_ID\n")
    assert [entry.split()[0] for entry in synced] == ["file", "dir"]
    assert synced[1] == f"dir {tmp_path / 'dataset'}"
    assert (tmp_path / "dataset" / "items.csv").read_bytes() == b"ITEM_ID\n"


def test_the_store_reads_a_published_dataset_through_its_version_link(tmp_path: Path) -> None:
    from srs.data.prepare import OUTPUT_FILES, prepare_dataset
    from srs.data.publish import versions_dir

    source = tmp_path / "source.csv"
    source.write_text(
        "User ID,AWS Service,Interaction Type,Rating\nu1,Amazon S3,viewed,4\n"
        "u2,AWS Lambda,launched,5\n",
        encoding="utf-8",
    )
    for _ in range(2):
        prepare_dataset(source, tmp_path / "dataset")
    store = LocalStore(tmp_path)
    assert store.list("dataset/") == sorted(f"dataset/{name}" for name in OUTPUT_FILES)
    assert all(store.exists(f"dataset/{name}") for name in OUTPUT_FILES)
    assert len(list(versions_dir(tmp_path / "dataset").glob("v-*"))) == 2
