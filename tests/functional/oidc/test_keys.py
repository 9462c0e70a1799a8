"""Key discovery against the local issuer: timeouts, a lying configuration, the bound."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from pypicloud.oidc.keys import IssuerKeys, KeyUnavailable
from tests.fixtures.oidc import LocalIssuer


def test_keys_are_found_by_discovery_and_kept(oidc_issuer):
    keys = IssuerKeys(allow_http=True)
    for _ in range(3):
        found = keys.signing_key(oidc_issuer.url, oidc_issuer.sign())
        assert found.key_id == "rsa-1"
    assert keys.signing_key(oidc_issuer.url, oidc_issuer.sign(alg="ES256")).key_id == "ec-1"
    assert oidc_issuer.requests == ["/.well-known/openid-configuration", "/jwks"]


def test_a_configuration_naming_another_issuer_is_refused(oidc_issuer):
    keys = IssuerKeys(allow_http=True)
    other = oidc_issuer.url.replace("127.0.0.1", "localhost")
    with pytest.raises(KeyUnavailable, match="names another issuer"):
        keys.signing_key(other, oidc_issuer.sign())


def test_an_http_jwks_uri_needs_allow_http(oidc_issuer):
    with pytest.raises(KeyUnavailable, match="no usable jwks_uri"):
        IssuerKeys(allow_http=False).signing_key(oidc_issuer.url, oidc_issuer.sign())


def test_the_number_of_issuers_kept_is_bounded(oidc_issuer):
    second = LocalIssuer()
    second.start()
    try:
        keys = IssuerKeys(allow_http=True, max_issuers=1)
        keys.signing_key(oidc_issuer.url, oidc_issuer.sign())
        keys.signing_key(second.url, second.sign(iss=second.url))
        assert list(keys._clients) == [second.url]
        keys.signing_key(oidc_issuer.url, oidc_issuer.sign())  # fetched again
        assert oidc_issuer.requests.count("/jwks") == 2
    finally:
        second.stop()


def test_a_silent_issuer_times_out(oidc_issuer):
    """A server that accepts the connection and never answers costs one timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(KeyUnavailable, match="could not be fetched"):
            IssuerKeys(allow_http=True, timeout=1).signing_key(silent, oidc_issuer.sign())
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
