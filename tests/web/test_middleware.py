"""The WSGI layers around the Flask app: one-piece bodies, metrics by rule, no API session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Flask, session

from srs.web.metrics import UNMATCHED_ROUTE, create_metrics
from srs.web.middleware import BufferedBodies, RequestMetrics, RoutedRequest
from srs.web.security import SigningSessionInterface


class ChunkedBody:
    """A streamed body that records whether the server closed it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def app_answering(body: ChunkedBody, length: int | None) -> Callable[..., ChunkedBody]:
    def wsgi(environ: dict[str, object], start_response: Callable[..., object]) -> ChunkedBody:
        headers = [("Content-Type", "text/plain")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        start_response("200 OK", headers)
        return body

    return wsgi


def noop_start(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
    return None


def test_small_bodies_reach_the_server_as_one_piece_and_are_closed() -> None:
    body = ChunkedBody([b"ab", b"cd"])
    result = BufferedBodies(app_answering(body, 4))({}, noop_start)  # type: ignore[arg-type]
    assert result == [b"abcd"] and body.closed


def test_large_or_unsized_bodies_still_stream() -> None:
    for length in (None, 10):
        body = ChunkedBody([b"x" * 5, b"y" * 5])
        layer = BufferedBodies(app_answering(body, length), limit=8)  # type: ignore[arg-type]
        result = layer({}, noop_start)
        assert result is body and not body.closed


def routed_app() -> tuple[Flask, object]:
    app = Flask(__name__)
    app.request_class = RoutedRequest
    metrics = create_metrics()
    app.wsgi_app = RequestMetrics(app.wsgi_app, metrics)  # type: ignore[method-assign]

    @app.get("/things/<name>")
    def thing(name: str) -> str:
        return name

    return app, metrics


def test_metrics_count_answers_under_their_rule_not_their_path() -> None:
    app, metrics = routed_app()
    client = app.test_client()
    for name in ("a", "b", "c"):
        assert client.get(f"/things/{name}").status_code == 200
    assert client.get("/nowhere").status_code == 404
    registry = metrics.registry  # type: ignore[attr-defined]
    sample = registry.get_sample_value
    labels = {"method": "GET", "route": "/things/<name>", "status": "200"}
    assert sample("srs_http_requests_total", labels) == 3.0
    unmatched = {"method": "GET", "route": UNMATCHED_ROUTE, "status": "404"}
    assert sample("srs_http_requests_total", unmatched) == 1.0


def test_api_paths_get_no_session_while_pages_keep_theirs() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "k"
    app.session_interface = SigningSessionInterface()

    @app.get("/page")
    def page() -> str:
        session["seen"] = "yes"
        return "page"

    @app.get("/api/v1/thing")
    def api_thing() -> str:
        return type(session._get_current_object()).__name__  # type: ignore[attr-defined]

    client = app.test_client()
    assert "Set-Cookie" in client.get("/page").headers
    answer = client.get("/api/v1/thing")
    assert answer.get_data(as_text=True) == "NullSession"
    assert "Set-Cookie" not in answer.headers
