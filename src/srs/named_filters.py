"""Named filters: Personalize-syntax expressions saved under a name, as CreateFilter keeps them.

A team's code passes ``filterArn=…:filter/NAME`` to Personalize; locally the same name must
select the same expression, for the Personalize protocol, ``/api/v1`` and the web page alike.
The names live in one small JSON file in the data directory, replaced atomically
(:mod:`srs.atomic`), so ``srs filters create`` and the server's workers never see half a
file. A change reads the file and writes it back under an exclusive ``flock`` of a lock file
beside it: two changes at once (two shells, or a shell and a server) would otherwise both
start from the same file, and the second would drop the first's filter. Every expression is
parsed before it is saved, so a stored filter always parses.

Workers read the file again only when its size or time changed since they last read it: a
``stat`` per lookup keeps a filter created while the server runs usable at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from srs.atomic import atomic_file
from srs.engine.filters import FilterError, parse_filter
from srs.errors import SRSError

FILTERS_FILE = "filters.json"
LOCK_SUFFIX = ".lock"
LOCAL_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}")
"""CreateFilter's rule for a filter name."""
FORMAT_VERSION = 1


class NamedFilterError(SRSError):
    """A name or an expression that cannot be saved, or a name that is not saved."""


class UnknownFilterError(NamedFilterError):
    """No filter is saved under the name asked for."""


@dataclass(frozen=True, slots=True)
class NamedFilter:
    name: str
    expression: str

    def arn(self, region: str = DEFAULT_REGION) -> str:
        return filter_arn(self.name, region)


def filter_arn(name: str, region: str = DEFAULT_REGION) -> str:
    """The ARN a client passes for ``name``: Personalize's form, in the local account."""
    return f"arn:aws:personalize:{region}:{LOCAL_ACCOUNT}:filter/{name}"


def personalize_resource(arn: str) -> tuple[str, str] | None:
    """The kind and name of ``arn:PARTITION:personalize:REGION:ACCOUNT:KIND/NAME``, or None
    when ``arn`` is not a Personalize resource's ARN.

    Any partition, region and account is accepted: code written against a real account keeps
    its ARNs, and only the kind and the name matter locally.
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "personalize":
        return None
    kind, slash, name = parts[5].partition("/")
    if not slash or not name:
        return None
    return kind, name


def name_from_arn(arn: str) -> str | None:
    """The filter name of a ``…:filter/NAME`` ARN, or None when ``arn`` names no filter."""
    resource = personalize_resource(arn)
    if resource is None or resource[0] != "filter" or not NAME_PATTERN.fullmatch(resource[1]):
        return None
    return resource[1]


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise NamedFilterError(
            f"filter name {name!r} must be 1 to 63 letters, digits, '-' or '_', "
            "starting with a letter or a digit"
        )
    return name


def check_expression(expression: str) -> str:
    """The expression, once the engine's parser accepts it (the parser's message if not)."""
    if not expression.strip():
        raise NamedFilterError("the filter expression is empty")
    try:
        parse_filter(expression)
    except FilterError as exc:
        raise NamedFilterError(f"filter expression: {exc}") from None
    return expression


class NamedFilters:
    """The saved filters of one data directory; safe to share between threads."""

    def __init__(self, path: Path | None) -> None:
        """``path`` None: no file, no filters (an app built without a data directory)."""
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._filters: dict[str, str] = {}

    @classmethod
    def in_directory(cls, data_dir: Path) -> NamedFilters:
        return cls(data_dir / FILTERS_FILE)

    def _current(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return {}
        stamp = (status.st_mtime_ns, status.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._filters = self._read()
                self._stamp = stamp
            return self._filters

    def _read(self) -> dict[str, str]:
        assert self.path is not None
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            filters = document["filters"]
            if not isinstance(filters, dict) or not all(
                isinstance(name, str) and isinstance(text, str) for name, text in filters.items()
            ):
                raise ValueError("'filters' is not an object of strings")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NamedFilterError(f"{self.path}: not a filters file ({exc})") from None
        return dict(filters)

    def list(self) -> list[NamedFilter]:
        return [NamedFilter(name, text) for name, text in sorted(self._current().items())]

    def expression(self, name: str) -> str:
        """The expression saved as ``name``; :class:`UnknownFilterError` when there is none."""
        found = self._current().get(name)
        if found is None:
            raise UnknownFilterError(f"no filter named {name!r}; see 'srs filters list'")
        return found

    def create(self, name: str, expression: str) -> NamedFilter:
        """Save a new filter; a name already taken is refused, as CreateFilter refuses it."""
        check_name(name)
        check_expression(expression)
        with self._changing() as filters:
            if name in filters:
                raise NamedFilterError(
                    f"a filter named {name!r} exists; delete it first ('srs filters delete {name}')"
                )
            filters[name] = expression
        return NamedFilter(name, expression)

    def delete(self, name: str) -> None:
        with self._changing() as filters:
            if name not in filters:
                raise UnknownFilterError(f"no filter named {name!r}; see 'srs filters list'")
            del filters[name]

    @contextmanager
    def _changing(self) -> Iterator[dict[str, str]]:
        """The saved filters, read under the lock, to change in place: written back when the
        block finishes, left as they were when it raises."""
        if self.path is None:
            raise NamedFilterError("named filters need a data directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + LOCK_SUFFIX), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            filters = self._read() if self.path.exists() else {}
            yield filters
            self._write(filters)

    def _write(self, filters: dict[str, str]) -> None:
        assert self.path is not None
        document = {"version": FORMAT_VERSION, "filters": dict(sorted(filters.items()))}
        with atomic_file(self.path) as stream:
            stream.write(json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n")
        with self._lock:
            self._stamp = None
