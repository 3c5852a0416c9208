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

from flask import Response, session

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


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


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
