"""Where prepared data and models live: a local directory or an S3 bucket, behind one interface.

Every other part of SRS reads and writes through ``DataStore`` with '/'-separated keys, so the
same code runs on one machine and on AWS. Both implementations give the same guarantees that
callers rely on: a reader never sees a half-written object (local writes go through
``srs.atomic``; an S3 PUT is atomic by itself), a key cannot escape the store, and every
failure surfaces as a ``StoreError`` whose message names the object and what happened instead of
a botocore or OS trace.
"""

from __future__ import annotations

import builtins
import io
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

import boto3
import pandas as pd
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from srs import atomic
from srs.atomic import TEMP_SUFFIX
from srs.config import Settings
from srs.errors import SRSError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


_SPOOL_BYTES = 8 * 1024 * 1024
_READ_BUFFER_BYTES = 1024 * 1024
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
    }
)


class StoreError(SRSError):
    """A store operation failed; the message names the object (uri) and the cause."""


class KeyNotFoundError(StoreError):
    """The key has no object in the store."""


PREPARE_HINT = "run 'srs prepare' first"


def require_prepared(store: DataStore, keys: Iterable[str]) -> None:
    """Fail with the fix when a prepared dataset file is missing, rather than let the first
    read report only that an object "does not exist": on a fresh data directory the cause is
    always that ``srs prepare`` has not run."""
    for key in keys:
        if not store.exists(key):
            raise KeyNotFoundError(f"{store.uri(key)} does not exist: {PREPARE_HINT}")


class BucketNotFoundError(StoreError):
    """The configured S3 bucket does not exist."""


class StoreAccessError(StoreError):
    """The credentials in use may not perform the operation on the bucket or object."""


class InvalidKeyError(StoreError):
    """The key is not a clean relative path, so it could escape the store or alias another key."""


class DataStore(Protocol):
    """Object storage with '/'-separated relative keys; see the module docstring for guarantees."""

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_chunks(self, key: str, chunks: Iterable[bytes]) -> None: ...

    def open_write(self, key: str) -> AbstractContextManager[IO[bytes]]: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def get_file(self, key: str, dest_path: Path) -> None: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> builtins.list[str]: ...

    def delete(self, key: str) -> None: ...

    def uri(self, key: str) -> str: ...

    def local_path(self, key: str) -> Path | None: ...


def check_key(key: str) -> str:
    """Reject keys that are not plain relative paths.

    Both stores apply the same rule so that a key valid on one machine stays valid on S3, and
    so that '..', '.', empty segments or absolute paths can neither escape a local root nor
    name the same object two ways.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"invalid store key {key!r}: a key must be a non-empty string")
    if key.startswith("/"):
        raise InvalidKeyError(f"invalid store key {key!r}: absolute paths are not allowed")
    if "\\" in key or "\x00" in key:
        raise InvalidKeyError(f"invalid store key {key!r}: backslashes and NUL are not allowed")
    bad = [segment for segment in key.split("/") if segment in {"", ".", ".."}]
    if bad:
        raise InvalidKeyError(
            f"invalid store key {key!r}: empty, '.' or '..' path segments are not allowed"
        )
    if key.endswith(TEMP_SUFFIX):
        raise InvalidKeyError(f"invalid store key {key!r}: the suffix {TEMP_SUFFIX} is reserved")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix is a key's beginning: may be empty or end with '/', but never escape."""
    if prefix:
        check_key(prefix.removesuffix("/") or prefix)
    return prefix


def _os_error(action: str, uri: str, exc: OSError) -> StoreError:
    if isinstance(exc, FileNotFoundError):
        return KeyNotFoundError(f"{uri} does not exist")
    if isinstance(exc, IsADirectoryError):
        return StoreError(f"{action} {uri} failed: it is a directory, not a stored object")
    if isinstance(exc, PermissionError):
        return StoreAccessError(f"{action} {uri} failed: permission denied")
    return StoreError(f"{action} {uri} failed: {exc.strerror or exc}")


def _open_source(path: Path, uri: str) -> BinaryIO:
    """Open the file to upload, blaming the source (not the store) when it cannot be read."""
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise StoreError(f"cannot store {uri}: source {path}: {exc.strerror or exc}") from exc


@contextmanager
def atomic_file(path: Path, uri: str) -> Iterator[IO[bytes]]:
    """``srs.atomic.atomic_file`` with its failures named as a store error about ``uri``."""
    try:
        with atomic.atomic_file(path) as stream:
            yield stream
    except OSError as exc:
        raise _os_error("writing", uri, exc) from exc


class LocalStore:
    """A directory tree: key 'a/b.csv' is the file ``root/a/b.csv``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        with atomic_file(self._path(key), self.uri(key)) as stream:
            yield stream

    def put_bytes(self, key: str, data: bytes) -> None:
        self.put_chunks(key, (data,))

    def put_chunks(self, key: str, chunks: Iterable[bytes]) -> None:
        try:
            with self.open_write(key) as stream:
                for chunk in chunks:
                    stream.write(chunk)
        except OSError as exc:
            raise _os_error("writing", self.uri(key), exc) from exc

    def put_file(self, key: str, path: Path) -> None:
        with _open_source(path, self.uri(key)) as reader:
            try:
                with self.open_write(key) as stream:
                    shutil.copyfileobj(reader, stream, _READ_BUFFER_BYTES)
            except OSError as exc:
                raise _os_error("writing", self.uri(key), exc) from exc

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise _os_error("reading", self.uri(key), exc) from exc

    def get_file(self, key: str, dest_path: Path) -> None:
        try:
            with (
                self.open_read(key) as reader,
                atomic_file(Path(dest_path), str(dest_path)) as stream,
            ):
                shutil.copyfileobj(reader, stream, _READ_BUFFER_BYTES)
        except OSError as exc:
            raise _os_error("copying to", f"{dest_path} from {self.uri(key)}", exc) from exc

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except OSError as exc:
            raise _os_error("reading", self.uri(key), exc) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> builtins.list[str]:
        check_prefix(prefix)
        directory, _, _ = prefix.rpartition("/")
        base = self.root.joinpath(*directory.split("/")) if directory else self.root
        if not base.is_dir():
            return []
        keys = (
            path.relative_to(self.root).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not path.name.endswith(TEMP_SUFFIX)
        )
        return sorted(key for key in keys if key.startswith(prefix))

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error, matching S3's DeleteObject."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise _os_error("deleting", self.uri(key), exc) from exc


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def missing_bucket_error(action: str, uri: str, bucket: str) -> BucketNotFoundError:
    return BucketNotFoundError(
        f"{action} {uri} failed: S3 bucket {bucket!r} does not exist "
        "(create it, or set SRS_S3_BUCKET to an existing bucket)"
    )


def describe_client_error(exc: ClientError, action: str, uri: str, bucket: str) -> StoreError:
    """Map an S3 error response to the StoreError a user can act on."""
    code = error_code(exc)
    if code == "NoSuchBucket":
        return missing_bucket_error(action, uri, bucket)
    if code in _MISSING_KEY_CODES:
        return KeyNotFoundError(f"{uri} does not exist")
    if code in _DENIED_CODES:
        return StoreAccessError(
            f"{action} {uri} failed: access denied ({code}); check the AWS credentials "
            f"in use and the permissions on bucket {bucket!r}"
        )
    message = exc.response.get("Error", {}).get("Message") or str(exc)
    return StoreError(f"{action} {uri} failed: {code}: {message}")


class _S3ObjectReader(io.RawIOBase):
    """Raw stream over a GetObject body that reports mid-stream failures as StoreError."""

    def __init__(self, body: Any, uri: str) -> None:
        super().__init__()
        self._body = body
        self._uri = uri

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data: bytes = self._body.read(len(view))
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"reading {self._uri} failed: {exc}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Store:
    """Objects under ``s3://bucket/prefix``; key 'a/b.csv' is object ``prefix + 'a/b.csv'``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        client: Any | None = None,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        if not bucket:
            raise StoreError("S3 store needs a bucket name (setting s3_bucket / SRS_S3_BUCKET)")
        self.bucket = bucket
        stripped = prefix.strip("/")
        self.prefix = f"{check_prefix(stripped)}/" if stripped else ""
        self._client = client if client is not None else _make_client(region, endpoint_url)
        self._transfer = transfer_config or TransferConfig()

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def _object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def local_path(self, key: str) -> Path | None:
        return None

    def _bucket_missing(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            return error_code(exc) in {"404", "NoSuchBucket", "NotFound"}
        return False

    def _error(self, exc: Exception, action: str, key: str) -> StoreError:
        uri = self.uri(key)
        if isinstance(exc, BotoCoreError):
            return StoreError(f"{action} {uri} failed: {exc}")
        assert isinstance(exc, ClientError)
        error = describe_client_error(exc, action, uri, self.bucket)
        # HEAD responses carry no body, so a missing bucket looks like a missing key.
        headless_404 = isinstance(error, KeyNotFoundError) and error_code(exc) != "NoSuchKey"
        if headless_404 and self._bucket_missing():
            return missing_bucket_error(action, uri, self.bucket)
        return error

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "writing", key) from exc

    def _upload(self, key: str, stream: IO[bytes]) -> None:
        try:
            self._client.upload_fileobj(
                stream, self.bucket, self._object_key(key), Config=self._transfer
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "writing", key) from exc

    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        """Spool the content locally and upload it only when the block succeeds."""
        self._object_key(key)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            yield spool
            spool.seek(0)
            self._upload(key, spool)

    def put_chunks(self, key: str, chunks: Iterable[bytes]) -> None:
        with self.open_write(key) as stream:
            for chunk in chunks:
                stream.write(chunk)

    def put_file(self, key: str, path: Path) -> None:
        with _open_source(path, self.uri(key)) as reader:
            self._upload(key, reader)

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as reader:
            return reader.read()

    def get_file(self, key: str, dest_path: Path) -> None:
        object_key = self._object_key(key)
        try:
            with atomic_file(Path(dest_path), str(dest_path)) as stream:
                self._client.download_fileobj(
                    self.bucket, object_key, stream, Config=self._transfer
                )
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "reading", key) from exc
        except OSError as exc:
            raise _os_error("copying to", f"{dest_path} from {self.uri(key)}", exc) from exc

    def open_read(self, key: str) -> BinaryIO:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "reading", key) from exc
        raw = _S3ObjectReader(response["Body"], self.uri(key))
        return io.BufferedReader(raw, buffer_size=_READ_BUFFER_BYTES)

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except (BotoCoreError, ClientError) as exc:
            error = self._error(exc, "checking", key)
            if isinstance(error, KeyNotFoundError):
                return False
            raise error from exc
        return True

    def list(self, prefix: str = "") -> builtins.list[str]:
        full_prefix = self.prefix + check_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            keys = [
                item["Key"][len(self.prefix) :]
                for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix)
                for item in page.get("Contents", [])
            ]
        except (BotoCoreError, ClientError) as exc:
            uri = f"s3://{self.bucket}/{full_prefix}"
            if isinstance(exc, ClientError):
                raise describe_client_error(exc, "listing", uri, self.bucket) from exc
            raise StoreError(f"listing {uri} failed: {exc}") from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error (S3's DeleteObject semantics)."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "deleting", key) from exc


def _make_client(region: str, endpoint_url: str | None) -> Any:
    """A client from boto3's own credential chain, in a private session (no global state).

    Custom endpoints (MinIO, moto) get path-style addressing because they rarely resolve
    bucket subdomains.
    """
    config = Config(
        retries={"mode": "standard"},
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    session = boto3.session.Session()
    return session.client(
        "s3", region_name=region or None, endpoint_url=endpoint_url or None, config=config
    )


def open_store(settings: Settings, s3_client: Any | None = None) -> DataStore:
    """The store the settings ask for; ``s3_client`` lets tests and callers inject a client."""
    if settings.store == "local":
        return LocalStore(settings.data_dir)
    if settings.store == "s3":
        return S3Store(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url or None,
            client=s3_client,
        )
    raise StoreError(f"setting 'store': {settings.store!r} is not 'local' or 's3'")


def read_store_csv(store: DataStore, key: str, **options: Any) -> pd.DataFrame:
    """A CSV from any store with pandas: straight from disk where the store has a path."""
    path = store.local_path(key)
    if path is not None and path.is_file():
        frame: pd.DataFrame = pd.read_csv(path, **options)
        return frame
    with store.open_read(key) as handle:
        frame = pd.read_csv(handle, **options)
    return frame
