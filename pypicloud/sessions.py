"""Signed session cookies for the web UI: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over TLS.

The cookie holds only the user name, signed (HMAC) with ``session.validate_key``; without
that key each process signs with a random one, so sessions do not survive a restart or span
processes (a warning says so). Whether a request came over TLS decides ``Secure`` per
request, so one ini file serves both ``http://localhost`` and a TLS proxy.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from pyramid.request import Request
from pyramid.session import SignedCookieSessionFactory

from pypicloud.settings import ConfigError, Settings

log = logging.getLogger(__name__)
COOKIE_NAME = "pypicloud_session"
MIN_KEY_LENGTH = 16
#: Values copied from templates and tutorials: anyone can forge a session signed with
#: them, so they are refused always, not only in production.
PLACEHOLDER_KEYS = frozenset(
    {"change-me", "changeme", "change-me-to-a-long-random-string", "secret", "replace-me"}
)


def session_factory_from_settings(settings: Settings) -> Callable[[Request], Any]:
    key = settings.str("session.validate_key")
    production = settings.bool("pypi.production", False)
    if key is not None and key.strip().lower() in PLACEHOLDER_KEYS:
        raise ConfigError("session.validate_key", "is a placeholder: set a long random value")
    if key is None and production:
        raise ConfigError(
            "session.validate_key",
            "is required when pypi.production is true (every process must sign sessions "
            "with the same key; e.g. PPC_SESSION_VALIDATE_KEY=$(openssl rand -hex 32))",
        )
    if key is None:
        log.warning(
            "session.validate_key is not set: sessions are signed with a random per-process "
            "key and end when the process does"
        )
        key = secrets.token_urlsafe(32)
    elif len(key) < MIN_KEY_LENGTH:
        raise ConfigError("session.validate_key", f"must be at least {MIN_KEY_LENGTH} characters")
    always_secure = settings.bool("session.secure", False)
    max_age = settings.int("session.max_age", 7 * 24 * 3600, minimum=60)
    common: dict[str, Any] = {
        "cookie_name": COOKIE_NAME,
        "httponly": True,
        "samesite": "Lax",
        "max_age": max_age,
        "timeout": max_age,
        "hashalg": "sha512",
    }
    plain = SignedCookieSessionFactory(key, secure=always_secure, **common)
    secure = SignedCookieSessionFactory(key, secure=True, **common)

    def factory(request: Request) -> Any:
        return (secure if request.scheme == "https" else plain)(request)

    return factory
