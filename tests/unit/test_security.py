from __future__ import annotations

import base64
import time

from pyramid.testing import DummyRequest

from pypicloud.security import Authenticator, CredentialCache, basic_credentials


class CountingAccess:
    def __init__(self) -> None:
        self.checks = 0

    def verify_user(self, username: str, password: str) -> bool:
        self.checks += 1
        return password == "right"


def request_with(user: str, password: str) -> DummyRequest:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return DummyRequest(headers={"Authorization": f"Basic {token}"})


def test_success_is_verified_once_then_remembered():
    access = CountingAccess()
    authenticator = Authenticator(access, CredentialCache(ttl=60))
    for _ in range(5):
        assert authenticator.userid(request_with("u", "right")) == "u"
    assert access.checks == 1


def test_failures_are_never_remembered():
    access = CountingAccess()
    authenticator = Authenticator(access, CredentialCache(ttl=60))
    for _ in range(3):
        assert authenticator.userid(request_with("u", "wrong")) is None
    assert access.checks == 3


def test_entries_expire_and_clear():
    cache = CredentialCache(ttl=0.05)
    cache.remember("u", "p")
    assert cache.contains("u", "p")
    assert not cache.contains("u", "other")
    time.sleep(0.06)
    assert not cache.contains("u", "p")
    cache.remember("u", "p")
    cache.clear()
    assert not cache.contains("u", "p")


def test_the_password_is_not_kept():
    cache = CredentialCache()
    cache.remember("user", "hunter2-password")
    assert b"hunter2" not in repr(cache.__dict__).encode()


def test_basic_parsing():
    assert basic_credentials(request_with("a", "b:c")) == ("a", "b:c")
    assert basic_credentials(DummyRequest(headers={"Authorization": "Basic !!!"})) is None
    assert basic_credentials(DummyRequest(headers={"Authorization": "Bearer x"})) is None
    assert basic_credentials(DummyRequest()) is None
