"""CSRF tokens for the HTML forms, security headers, and the admin token check.

The forms carry a per-session token compared in constant time. The JSON API needs
none: it accepts only ``application/json`` bodies, which a cross-site form cannot
send, and it never reads the session cookie. Admin actions are not tied to a browser
session at all; they take a bearer token from configuration.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

CSRF_SESSION_KEY = "csrf_token"
CSRF_FORM_FIELD = "csrf_token"
SECRET_KEY_FILE = "web_secret_key"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def csrf_token() -> str:
    """The session's token, made on first use so pages without forms set no cookie."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_token_valid(submitted: str | None) -> bool:
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


SESSIONLESS_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/admin/", "/personalize/")
"""Paths that never use the session: the JSON APIs, operations and admin (bearer token)."""


class SigningSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the serializer built once per set of keys, and
    none at all for paths that never use one.

    Flask builds a new serializer for every request, session or not; on a small API request
    that was a tenth of the time. The keys are read on each call, so a changed
    ``SECRET_KEY`` or ``SECRET_KEY_FALLBACKS`` still takes effect at once. On
    ``SESSIONLESS_PREFIXES`` Flask gets no session, uses its null session and saves
    nothing, so the API can never read or set the cookie.
    """

    def __init__(self) -> None:
        self._cached: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return None
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (keys, serializer)
        return serializer


def bearer_token_valid(authorization: str | None, expected: str) -> bool:
    """``Authorization: Bearer <token>`` against the configured token; no token, no access."""
    if not expected or not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def shared_secret_key(data_dir: Path) -> str:
    """A session-signing key every server worker agrees on, kept in the data directory.

    Workers start independently; each would otherwise draw its own key and reject the
    others' session cookies. The first worker publishes a fresh key with ``os.link``,
    which fails if the file exists, so no worker ever reads a half-written key.
    """
    target = data_dir / SECRET_KEY_FILE
    if not target.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        draft = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as stream:
                stream.write(secrets.token_hex(32))
                stream.flush()
                os.fsync(stream.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(draft, target)
        finally:
            draft.unlink(missing_ok=True)
    return target.read_text(encoding="ascii").strip()
