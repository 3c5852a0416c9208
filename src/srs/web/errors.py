"""Every failure becomes ``{"error": {"code", "message"}}`` (or an HTML page for a browser).

One table maps the service's exceptions to HTTP statuses, so the pages and the API
answer the same thing for the same problem. Nothing unexpected ever reaches the client
as a stack trace: the catch-all logs it and answers a bare 500.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from srs.engine.filters import FilterError
from srs.errors import SRSError
from srs.events import EventError
from srs.serving.service import NotFoundError, NotReadyError, RequestError

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_value",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
    503: "not_ready",
}
JSON_ONLY_PREFIXES = ("/api/", "/admin/", "/healthz", "/readyz", "/metrics", "/personalize/")
NOT_READY_RETRY_SECONDS = 5


class ApiError(Exception):
    """A request the web layer refuses itself, with the status and code to answer."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or HTTP_CODES.get(status, "error")
        self.message = message
        self.headers = dict(headers or {})


def wants_html() -> bool:
    """A browser asking for a page gets an HTML error; API clients and curl get JSON."""
    if request.path.startswith(JSON_ONLY_PREFIXES):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def error_response(status: int, code: str, message: str) -> Response:
    if wants_html():
        try:
            html = render_template("error.html", status=status, code=code, message=message)
        except Exception:
            current_app.logger.exception("error page could not be rendered")
        else:
            return Response(html, status=status, mimetype="text/html")
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _api_error(error: ApiError) -> Response:
    response = error_response(error.status, error.code, error.message)
    response.headers.update(error.headers)
    return response


def _not_found(error: NotFoundError) -> Response:
    return error_response(404, "not_found", str(error))


def _not_ready(error: NotReadyError) -> Response:
    response = error_response(503, "not_ready", str(error))
    response.headers["Retry-After"] = str(NOT_READY_RETRY_SECONDS)
    return response


def _invalid(error: RequestError | EventError | FilterError) -> Response:
    return error_response(422, "invalid_value", str(error))


def _backend_failure(error: SRSError) -> Response:
    """A configuration or storage problem behind the service: logged here, not shown."""
    current_app.logger.error("service failed on %s %s: %s", request.method, request.path, error)
    return error_response(503, "unavailable", "the recommendation service cannot answer right now")


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 404:
        message = f"no such resource: {request.method} {request.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.path}"
    elif status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"request body is larger than the limit of {limit} bytes"
    else:
        message = error.description or HTTP_CODES.get(status, "error")
    response = error_response(status, HTTP_CODES.get(status, "error"), message)
    allowed = getattr(error, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _too_deep(error: RecursionError) -> Response:
    """Input nested past the interpreter's stack is the client's to fix, not a server fault.

    The parsers bound nesting themselves; this keeps any parse they missed from a 500.
    """
    current_app.logger.warning("recursion limit on %s %s", request.method, request.path)
    return error_response(400, "bad_request", "the request is nested too deeply to read")


def _unexpected(error: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "internal server error")


def register_error_handlers(app: Flask) -> None:
    """Flask picks the most specific handler by the exception's class hierarchy."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(NotFoundError, _not_found)
    app.register_error_handler(NotReadyError, _not_ready)
    app.register_error_handler(RequestError, _invalid)
    app.register_error_handler(EventError, _invalid)
    app.register_error_handler(FilterError, _invalid)
    app.register_error_handler(SRSError, _backend_failure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(RecursionError, _too_deep)
    app.register_error_handler(Exception, _unexpected)
