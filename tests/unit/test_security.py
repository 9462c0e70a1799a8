"""The security policy: identities from Basic auth, tokens and sessions; one permission rule."""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from types import SimpleNamespace

import pytest
from pyramid.request import Request
from pyramid.testing import DummyRequest

from pypicloud.access.evaluator import Access, AccessDefaults
from pypicloud.security import (
    ADMINISTER,
    AUTHENTICATED,
    LIST,
    READ,
    WRITE,
    Authenticator,
    CredentialCache,
    Identity,
    SecurityPolicy,
    basic_credentials,
    csrf_applies,
)
from pypicloud.tokens import ApiToken, NoTokens
from tests.fakes import MemoryAccess, MemoryTokens


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request_with(user: str, password: str) -> Request:
    return Request.blank("/", headers={"Authorization": basic(user, password)})


def world(recheck: float = 0.0, ttl: float = 60.0, default_read=("authenticated",)):
    backend = MemoryAccess()
    backend.create_user("ann", "right", admin=True)
    backend.create_user("ben", "right")
    backend.set_grant("private", "user:ann", "rw")
    backend.set_grant("bens", "user:ben", "rw")
    access = Access(backend, AccessDefaults(tuple(default_read), (), frozenset(), recheck))
    tokens = MemoryTokens()
    authenticator = Authenticator(access, tokens, CredentialCache(ttl=ttl))
    return backend, tokens, authenticator, SecurityPolicy(authenticator)


class TestCredentialCache:
    def test_entries_expire_and_clear(self):
        cache: CredentialCache[str] = CredentialCache(ttl=0.05)
        cache.put("u", "p", "u")
        assert cache.get("u", "p") == "u"
        assert cache.get("u", "other") is None
        time.sleep(0.06)
        assert cache.get("u", "p") is None
        cache.put("u", "p", "u")
        cache.clear()
        assert cache.get("u", "p") is None

    def test_a_new_version_forgets_everything(self):
        cache: CredentialCache[str] = CredentialCache()
        cache.put("u", "p", "u", version=1)
        assert cache.get("u", "p", version=1) == "u"
        assert cache.get("u", "p", version=2) is None
        assert cache.get("u", "p", version=1) is None  # gone, not kept for the old version

    def test_the_password_is_not_kept(self):
        cache: CredentialCache[str] = CredentialCache()
        cache.put("user", "hunter2-password", "user")
        assert b"hunter2" not in repr(cache.__dict__).encode()

    def test_ttl_zero_remembers_nothing(self):
        cache: CredentialCache[str] = CredentialCache(ttl=0)
        cache.put("u", "p", "u")
        assert cache.get("u", "p") is None


class TestAuthenticator:
    def test_success_is_verified_once_then_remembered(self):
        backend, _, authenticator, _ = world()
        for _ in range(5):
            identity = authenticator.from_basic("ben", "right")
            assert identity is not None and identity.method == "basic"
        assert backend.verifications == 1

    def test_concurrent_logins_with_one_password_verify_it_once(self):
        backend, _, authenticator, _ = world()
        slow = backend.verify_user
        started = threading.Event()

        def verify(username: str, password: str) -> bool:
            started.set()
            time.sleep(0.2)  # a real hash is slow: the other threads arrive meanwhile
            return slow(username, password)

        backend.verify_user = verify  # type: ignore[method-assign]
        results: list[object] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(authenticator.from_basic("ben", "right"))
            )
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert started.is_set() and all(r is not None for r in results) and len(results) == 6
        assert backend.verifications == 1

    def test_concurrent_wrong_passwords_all_fail(self):
        backend, _, authenticator, _ = world()
        results: list[object] = []
        threads = [
            threading.Thread(target=lambda: results.append(authenticator.from_basic("ben", "x")))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [None] * 4

    def test_failures_are_never_remembered(self):
        backend, _, authenticator, _ = world()
        for _ in range(3):
            assert authenticator.from_basic("ben", "wrong") is None
        assert backend.verifications == 3

    def test_a_password_change_reaches_every_process(self):
        # Two server processes share one backend (its database); each remembers the
        # password it verified. A change through either invalidates both.
        backend, tokens, first, _ = world()
        second = Authenticator(first.access, tokens, CredentialCache(ttl=60))
        other_access = Access(backend, first.access.defaults)
        third = Authenticator(other_access, tokens, CredentialCache(ttl=60))
        for authenticator in (first, second, third):
            assert authenticator.from_basic("ben", "right") is not None
        backend.set_password("ben", "new")
        for authenticator in (first, second, third):
            assert authenticator.from_basic("ben", "right") is None
            assert authenticator.from_basic("ben", "new") is not None

    def test_invalidation_waits_at_most_the_recheck_interval(self):
        backend, _, authenticator, _ = world(recheck=0.2)
        assert authenticator.from_basic("ben", "right") is not None
        backend.set_password("ben", "new")
        assert authenticator.from_basic("ben", "right") is not None  # within the bound
        time.sleep(0.25)
        assert authenticator.from_basic("ben", "right") is None

    def test_a_deleted_user_loses_a_remembered_login_and_a_session(self):
        backend, _, authenticator, _ = world()
        assert authenticator.from_basic("ben", "right") is not None
        backend.delete_user("ben")
        assert authenticator.from_basic("ben", "right") is None
        assert authenticator.from_session("ben") is None

    def test_tokens(self):
        _, tokens, authenticator, _ = world()
        tokens.add("secret-1", ApiToken("t1", "ben", upload=True))
        identity = authenticator.from_basic("__token__", "secret-1")
        assert identity is not None and identity.method == "token"
        assert identity.username == "ben" and identity.token is not None
        assert authenticator.from_basic("__token__", "wrong") is None
        assert authenticator.from_basic("ben", "secret-1") is None  # not a password

    def test_a_token_is_looked_up_once_then_remembered(self):
        _, tokens, authenticator, _ = world()
        tokens.add("secret-1", ApiToken("t1", "ben"))
        for _ in range(5):
            assert authenticator.from_token("secret-1") is not None
        assert tokens.lookups == 1

    def test_revoked_and_expired_tokens_are_refused(self):
        _, tokens, authenticator, _ = world()
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.2)
        tokens.add("secret-1", ApiToken("t1", "ben"))
        tokens.add("secret-2", ApiToken("t2", "ben", expires=soon))
        assert authenticator.from_token("secret-1") and authenticator.from_token("secret-2")
        tokens.revoke("secret-1")
        assert authenticator.from_token("secret-1") is None
        time.sleep(0.25)
        assert authenticator.from_token("secret-2") is None  # remembered, yet expired

    def test_no_token_store_refuses_every_token(self):
        backend, _, authenticator, _ = world()
        plain = Authenticator(authenticator.access, NoTokens())
        assert plain.from_token("anything") is None


class TestAuthorizationHeaders:
    """``from_authorization``: a header seen before is neither decoded nor checked again,
    and yet answers exactly what ``from_basic`` would at the same versions."""

    def counting(self, authenticator: Authenticator, monkeypatch) -> list[str]:
        calls: list[str] = []
        real = authenticator.from_basic

        def from_basic(username, password, address=None):
            calls.append(username)
            return real(username, password, address)

        monkeypatch.setattr(authenticator, "from_basic", from_basic)
        return calls

    def test_a_repeated_header_is_decoded_once(self, monkeypatch):
        _, _, authenticator, _ = world()
        calls = self.counting(authenticator, monkeypatch)
        identities = [authenticator.from_authorization(basic("ben", "right")) for _ in range(5)]
        assert calls == ["ben"]
        assert all(i == authenticator.from_basic("ben", "right") for i in identities)

    def test_wrong_credentials_and_other_schemes_are_never_remembered(self, monkeypatch):
        _, _, authenticator, _ = world()
        calls = self.counting(authenticator, monkeypatch)
        for _ in range(3):
            assert authenticator.from_authorization(basic("ben", "wrong")) is None
        assert calls == ["ben"] * 3
        for header in ("Bearer x", "Basic !!!", "Basic", basic("", "right")):
            assert authenticator.from_authorization(header) is None

    def test_a_password_change_or_a_deleted_user_ends_a_remembered_header(self):
        backend, _, authenticator, _ = world()
        assert authenticator.from_authorization(basic("ben", "right")) is not None
        assert authenticator.from_authorization(basic("ann", "right")) is not None
        backend.set_password("ben", "new")
        assert authenticator.from_authorization(basic("ben", "right")) is None
        assert authenticator.from_authorization(basic("ben", "new")) is not None
        backend.delete_user("ann")
        assert authenticator.from_authorization(basic("ann", "right")) is None

    def test_a_group_change_is_seen_by_a_remembered_header(self):
        backend, _, authenticator, _ = world()
        before = authenticator.from_authorization(basic("ben", "right"))
        assert before is not None and "group:staff" not in before.principals
        backend.create_group("staff")
        backend.add_member("staff", "ben")
        after = authenticator.from_authorization(basic("ben", "right"))
        assert after is not None and "group:staff" in after.principals

    def test_a_remembered_token_header_expires_and_revokes(self):
        _, tokens, authenticator, _ = world()
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.2)
        tokens.add("secret-1", ApiToken("t1", "ben"))
        tokens.add("secret-2", ApiToken("t2", "ben", expires=soon))
        one, two = basic("__token__", "secret-1"), basic("__token__", "secret-2")
        assert authenticator.from_authorization(one) and authenticator.from_authorization(two)
        time.sleep(0.25)
        assert authenticator.from_authorization(two) is None  # remembered, yet expired
        assert authenticator.from_authorization(one) is not None
        tokens.revoke("secret-1")
        assert authenticator.from_authorization(one) is None

    def test_forget_all_forgets_headers_and_no_secret_is_kept(self, monkeypatch):
        _, _, authenticator, _ = world()
        header = basic("ben", "hunter2-password")
        authenticator.access.backend.set_password("ben", "hunter2-password")
        assert authenticator.from_authorization(header) is not None
        kept = repr(authenticator.header_cache.__dict__)
        assert header.split()[1] not in kept and "hunter2" not in kept
        calls = self.counting(authenticator, monkeypatch)
        authenticator.forget_all()
        assert authenticator.from_authorization(header) is not None
        assert calls == ["ben"]

    def test_the_policy_finds_the_same_identity_with_or_without_pyramid(self):
        _, _, _, policy = world()
        environ = {"HTTP_AUTHORIZATION": basic("ben", "right")}
        assert policy.cookieless_identity(environ) == policy.identity(request_with("ben", "right"))
        assert policy.cookieless_identity({"HTTP_AUTHORIZATION": "Bearer x"}) is None


class TestRefreshAhead:
    """A remembered password near the end of its lifetime is checked again in the
    background, so a client that keeps sending it never waits for the (slow) hash."""

    def slow_world(self, ttl: float = 1.0):
        backend, tokens, authenticator, policy = world(ttl=ttl)
        real = backend.verify_user

        def slow(username: str, password: str) -> bool:
            time.sleep(0.3)
            return real(username, password)

        backend.verify_user = slow  # type: ignore[method-assign]
        return backend, tokens, authenticator

    def wait_for(self, condition, timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.01)

    def test_a_password_in_use_is_renewed_before_it_expires(self):
        backend, _, authenticator = self.slow_world(ttl=1.0)
        header = basic("ben", "right")
        assert authenticator.from_authorization(header) is not None  # verified: 0.3 s
        assert backend.verifications == 1
        time.sleep(0.85)  # less than a quarter of the lifetime left
        started = time.monotonic()
        assert authenticator.from_authorization(header) is not None
        assert time.monotonic() - started < 0.1  # answered from memory
        self.wait_for(lambda: backend.verifications == 2 and not authenticator._refreshing)
        time.sleep(0.3)  # past the first lifetime
        started = time.monotonic()
        assert authenticator.from_authorization(header) is not None
        assert time.monotonic() - started < 0.1 and backend.verifications == 2

    def test_one_check_at_a_time_per_header(self):
        backend, _, authenticator = self.slow_world(ttl=1.0)
        header = basic("ben", "right")
        authenticator.from_authorization(header)
        time.sleep(0.8)
        for _ in range(20):
            authenticator.from_authorization(header)
        self.wait_for(lambda: not authenticator._refreshing)
        assert backend.verifications == 2

    def test_a_password_that_no_longer_verifies_is_not_renewed(self):
        # A directory (LDAP, a remote backend) changes a password without a version.
        backend, _, authenticator = self.slow_world(ttl=1.0)
        header = basic("ben", "right")
        assert authenticator.from_authorization(header) is not None
        backend.passwords["ben"] = "changed elsewhere"
        time.sleep(0.8)
        assert authenticator.from_authorization(header) is not None  # still within its life
        self.wait_for(lambda: backend.verifications == 2 and not authenticator._refreshing)
        time.sleep(0.25)
        assert authenticator.from_authorization(header) is None

    def test_tokens_are_not_checked_in_the_background(self):
        _, tokens, authenticator = self.slow_world(ttl=0.4)
        tokens.add("secret-1", ApiToken("t1", "ben"))
        header = basic("__token__", "secret-1")
        assert authenticator.from_authorization(header) is not None
        time.sleep(0.35)
        assert authenticator.from_authorization(header) is not None
        assert not authenticator._refreshing and tokens.lookups == 1


class TestViewerKey:
    def test_remembered_keys_equal_computed_ones_and_follow_grants(self):
        backend, tokens, authenticator, policy = world()
        tokens.add("up-bens", ApiToken("t2", "ben", projects=frozenset({"bens"}), upload=True))
        ben = authenticator.from_basic("ben", "right")
        scoped = authenticator.from_token("up-bens")
        version = authenticator.access.version()
        assert policy.viewer_key_of(ben) == (version, tuple(sorted(ben.principals)), None)
        assert policy.viewer_key_of(scoped)[2] == ("bens",)
        assert policy.viewer_key_of(None) == (version, ("everyone",), None)
        assert policy.viewer_key_of(ben) is policy.viewer_key_of(ben)  # remembered
        backend.set_grant("open", "user:ben", "r")
        assert policy.viewer_key_of(ben)[0] != version


class Context:
    def __init__(self, project: str | None) -> None:
        self.project = project


def allowed(policy: SecurityPolicy, identity: Identity | None, permission: str, project=None):
    return policy.allows(identity, permission, project)


class TestPermits:
    def test_the_matrix(self):
        _, tokens, authenticator, policy = world()
        ann = authenticator.from_basic("ann", "right")
        ben = authenticator.from_basic("ben", "right")
        tokens.add("read-any", ApiToken("t1", "ben"))
        tokens.add("up-bens", ApiToken("t2", "ben", projects=frozenset({"bens"}), upload=True))
        read_token = authenticator.from_token("read-any")
        scoped = authenticator.from_token("up-bens")
        cases = {
            # identity: (read open, read private, write bens, read bens, list, admin, signed in)
            None: (False, False, False, False, False, False, False),
            "ann": (True, True, True, True, True, True, True),
            "ben": (True, False, True, True, True, False, True),
            "read-token": (True, False, False, True, True, False, True),
            "scoped-token": (False, False, True, True, True, False, True),
        }
        identities = {
            None: None,
            "ann": ann,
            "ben": ben,
            "read-token": read_token,
            "scoped-token": scoped,
        }
        for who, expected in cases.items():
            identity = identities[who]
            got = (
                allowed(policy, identity, READ, "open"),
                allowed(policy, identity, READ, "private"),
                allowed(policy, identity, WRITE, "bens"),
                allowed(policy, identity, READ, "bens"),
                allowed(policy, identity, LIST),
                allowed(policy, identity, ADMINISTER),
                allowed(policy, identity, AUTHENTICATED),
            )
            assert got == expected, who

    def test_public_index_lists_and_reads_for_anonymous(self):
        _, _, _, policy = world(default_read=("everyone",))
        assert allowed(policy, None, LIST)
        assert allowed(policy, None, READ, "open")
        assert not allowed(policy, None, READ, "private")
        assert not allowed(policy, None, WRITE, "open")

    def test_a_project_permission_without_a_project_is_refused(self):
        _, _, authenticator, policy = world()
        assert not allowed(policy, authenticator.from_basic("ann", "right"), READ, None)

    def test_permits_answers_with_the_missing_permission(self):
        _, _, _, policy = world()
        result = policy.permits(request_with("ben", "right"), Context("private"), READ)
        assert not result and result.permission == READ and result.identity.username == "ben"
        assert policy.permits(request_with("ben", "right"), Context("bens"), WRITE)

    def test_identity_is_computed_once_per_request(self):
        backend, _, authenticator, policy = world(ttl=0)
        request = request_with("ben", "right")
        for _ in range(5):
            assert policy.identity(request).username == "ben"
        assert backend.verifications == 1

    def test_readable_applies_a_token_scope(self):
        _, tokens, _, policy = world()
        tokens.add("up-bens", ApiToken("t2", "ben", projects=frozenset({"bens"}), upload=True))
        names = ["open", "private", "bens"]
        assert policy.readable(request_with("ben", "right"), names) == {"open", "bens"}
        assert policy.readable(request_with("__token__", "up-bens"), names) == {"bens"}


class TestCsrf:
    @pytest.mark.parametrize(
        "method, expected", [("session", True), ("basic", False), ("token", False)]
    )
    def test_only_cookie_identities_need_a_csrf_token(self, method, expected):
        request = SimpleNamespace(identity=Identity("ben", method, frozenset()))
        assert csrf_applies(request) is expected

    def test_anonymous_requests_need_none(self):
        assert csrf_applies(SimpleNamespace(identity=None)) is False


def test_basic_parsing():
    assert basic_credentials(request_with("a", "b:c")) == ("a", "b:c")
    assert basic_credentials(DummyRequest(headers={"Authorization": "Basic !!!"})) is None
    assert basic_credentials(DummyRequest(headers={"Authorization": "Bearer x"})) is None
    assert basic_credentials(DummyRequest()) is None
