"""The signing keys of OIDC issuers, found by discovery and kept for a while.

Only an issuer that some publisher names is ever contacted (the caller checks that before
asking here), every fetch has a timeout and a size cap, and the number of issuers whose
keys are kept is bounded. Keys are fetched with PyJWT's ``PyJWKClient``, which refetches
the key set when a token names a key id it has not seen (a rotated key).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import OrderedDict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import jwt

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_ISSUERS = 64


class KeyUnavailable(Exception):
    """The issuer's keys could not be fetched, or none of them signed this token."""


class IssuerKeys:
    def __init__(
        self,
        *,
        timeout: float = 5.0,
        cache_seconds: int = 300,
        allow_http: bool = False,
        max_issuers: int = MAX_ISSUERS,
    ) -> None:
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.allow_http = allow_http
        self.max_issuers = max_issuers
        self._clients: OrderedDict[str, tuple[float, jwt.PyJWKClient]] = OrderedDict()
        self._lock = threading.Lock()

    def signing_key(self, issuer: str, token: str) -> jwt.PyJWK:
        import jwt  # ~20 MB with what it pulls in: imported once publishing is used

        client = self._client(issuer)
        try:
            return client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise KeyUnavailable("the issuer's key set could not be fetched") from None
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.DecodeError):
            raise KeyUnavailable("no key of the issuer matches the token") from None

    def _client(self, issuer: str) -> jwt.PyJWKClient:
        import jwt

        now = time.monotonic()
        with self._lock:
            found = self._clients.get(issuer)
            if found is not None and found[0] > now:
                self._clients.move_to_end(issuer)
                return found[1]
        jwks_uri = self._discover(issuer)
        client = jwt.PyJWKClient(
            jwks_uri,
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=max(self.cache_seconds, 1),
            timeout=self.timeout,
        )
        with self._lock:
            self._clients[issuer] = (now + self.cache_seconds, client)
            self._clients.move_to_end(issuer)
            while len(self._clients) > self.max_issuers:
                self._clients.popitem(last=False)
        return client

    def _discover(self, issuer: str) -> str:
        """``jwks_uri`` from the issuer's OpenID configuration (which must name the issuer)."""
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            request = urllib.request.Request(url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(MAX_DOCUMENT_BYTES + 1)
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ValueError("too large")
            document = json.loads(body)
        except (OSError, ValueError):
            raise KeyUnavailable("the issuer's OpenID configuration could not be fetched") from None
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            raise KeyUnavailable("the issuer's OpenID configuration names another issuer")
        jwks_uri = document.get("jwks_uri")
        scheme = urlsplit(jwks_uri).scheme if isinstance(jwks_uri, str) else ""
        if scheme != "https" and not (scheme == "http" and self.allow_http):
            raise KeyUnavailable("the issuer's OpenID configuration has no usable jwks_uri")
        return str(jwks_uri)
