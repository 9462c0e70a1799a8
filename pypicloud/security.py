"""Who is asking: HTTP Basic auth, verified once and remembered briefly.

pip sends credentials with every request. A password hash costs milliseconds to seconds by
design, so a success is remembered for ``auth.cache_seconds`` under an HMAC of
``user:password`` keyed with a per-process secret (never the password itself). Failures are
never remembered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time

from pyramid.request import Request

from pypicloud.access.base import Access


class CredentialCache:
    """Recently verified (user, password) pairs, as keyed digests with an expiry."""

    def __init__(self, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _digest(self, username: str, password: str) -> bytes:
        message = username.encode() + b"\0" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def contains(self, username: str, password: str) -> bool:
        if self.ttl <= 0:
            return False
        expiry = self._expiry.get(self._digest(username, password))
        return expiry is not None and expiry > time.monotonic()

    def remember(self, username: str, password: str) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._expiry) >= self.max_entries:
                self._expiry = {k: v for k, v in self._expiry.items() if v > now}
                if len(self._expiry) >= self.max_entries:
                    self._expiry.clear()
            self._expiry[self._digest(username, password)] = now + self.ttl

    def clear(self) -> None:
        """Forget everything (a password changed or a token was revoked)."""
        with self._lock:
            self._expiry.clear()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        return None
    return username, password


class Authenticator:
    """Turns a request's credentials into a user name, using the access backend."""

    def __init__(self, access: Access, cache: CredentialCache) -> None:
        self.access = access
        self.cache = cache

    def userid(self, request: Request) -> str | None:
        credentials = basic_credentials(request)
        if credentials is None:
            return None
        username, password = credentials
        if self.cache.contains(username, password):
            return username
        if self.access.verify_user(username, password):
            self.cache.remember(username, password)
            return username
        return None
