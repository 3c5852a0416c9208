"""WSGI layers every answer passes through on its way out of the Flask app.

They work on the plain WSGI status, header list and body rather than through Flask's hooks
and werkzeug's ``Headers``: on a small API request the hooks, the ``g`` proxy and setting
each header one by one are a large share of the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Request
from werkzeug.routing import Rule

from srs.web.metrics import UNMATCHED_ROUTE, WebMetrics
from srs.web.security import SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

BUFFERED_BODY_MAX_BYTES = 1 << 20
DRAINED_BODY_MAX_BYTES = 64 << 20
DRAIN_CHUNK_BYTES = 64 << 10
ROUTE_KEY = "srs.route"


class RoutedRequest(Request):
    """Flask's request, leaving the matched URL rule in the environ as well.

    Flask drops its request object from the environ when the request ends, so
    :class:`RequestMetrics`, which runs after that, reads the rule from here.
    """

    _rule: Rule | None = None

    @property
    def url_rule(self) -> Rule | None:
        return self._rule

    @url_rule.setter
    def url_rule(self, rule: Rule | None) -> None:
        self._rule = rule
        if rule is not None:
            self.environ[ROUTE_KEY] = rule.rule


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every answer that does not set its own."""

    def __init__(self, app: WSGIApplication, headers: dict[str, str] | None = None) -> None:
        self.app = app
        chosen = SECURITY_HEADERS if headers is None else headers
        self.headers = list(chosen.items())
        self.names = frozenset(name.lower() for name in chosen)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Any:
            present = {name.lower() for name, _ in headers} & self.names
            if present:
                headers.extend(h for h in self.headers if h[0].lower() not in present)
            else:
                headers.extend(self.headers)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class RequestMetrics:
    """Counts each answer and its latency under its URL rule (never its raw path).

    The rule is the one :class:`RoutedRequest` leaves in the environ; an answer given
    before routing (or for no route) counts under ``UNMATCHED_ROUTE``.
    """

    def __init__(self, app: WSGIApplication, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        statuses: list[str] = []

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        self.metrics.observe_request(
            str(environ.get("REQUEST_METHOD", "")),
            str(environ.get(ROUTE_KEY, UNMATCHED_ROUTE)),
            statuses[-1].partition(" ")[0] if statuses else "500",
            time.perf_counter() - started,
        )
        return body


class BufferedBodies:
    """Hands the server small bodies as one list item rather than as an iterator.

    Flask answers with an iterator even when the body is one built string; a server sends
    a list in one write, and iterating it from Rust (granian) costs a round trip into
    Python per chunk. Bodies without a ``Content-Length`` or larger than
    ``BUFFERED_BODY_MAX_BYTES`` still stream.
    """

    def __init__(self, app: WSGIApplication, limit: int = BUFFERED_BODY_MAX_BYTES) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        lengths: list[int] = []

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Any:
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    lengths.append(int(value))
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if isinstance(body, list) or not lengths or lengths[-1] > self.limit:
            return body
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


class DrainedOversizedBodies:
    """Reads and discards a body too large for the app after the app has answered (413).

    The app refuses such a body from its ``Content-Length`` without reading it. Granian then
    closes the connection with the unread rest still arriving, and a client that sends the
    whole body before reading the answer (most HTTP libraries) sees a broken pipe or a reset
    instead of the 413. Discarding the rest first lets the answer through. Bodies above
    ``drain_limit`` are not worth that much reading: for those the connection still closes.
    """

    def __init__(
        self,
        app: WSGIApplication,
        body_limit: Callable[[], int | None],
        drain_limit: int = DRAINED_BODY_MAX_BYTES,
    ) -> None:
        self.app = app
        self.body_limit = body_limit
        self.drain_limit = drain_limit

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        declared = environ.get("CONTENT_LENGTH")
        body = self.app(environ, start_response)
        if declared:
            limit = self.body_limit()
            length = int(declared) if str(declared).isdigit() else 0
            if limit is not None and limit < length <= self.drain_limit:
                _discard(environ["wsgi.input"], length)
        return body


def _discard(stream: Any, length: int) -> None:
    """Read up to ``length`` bytes from ``stream`` and drop them; stop early if it ends."""
    remaining = length
    try:
        while remaining > 0:
            chunk = stream.read(min(DRAIN_CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
    except (OSError, ValueError):
        return
