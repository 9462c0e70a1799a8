"""The ldap access backend against a real slapd (tests/fixtures/ldap.py), no mocks."""

from __future__ import annotations

import socket
import statistics
import threading
import time

import pytest
from webtest import TestApp

from pypicloud import make_config, wsgi_app
from pypicloud.access import Access, AccessDefaults
from pypicloud.access.ldap import LDAPAccess
from pypicloud.access.ldap_client import LDAPUnavailable
from pypicloud.settings import Settings
from tests.fixtures.ldap import (
    ADMIN_FIELD,
    ADMIN_VALUE,
    GROUPS,
    ODD_GROUP,
    ODD_USER,
    SEARCH_ONLY_USER,
    SERVICE_PASSWORD,
    STAR_USER,
    SUFFIX,
    ldap_world_settings,
    user_dn,
)
from tests.functional.access import world
from tests.functional.conftest import FAST_HASH, auth, upload

PASSWORD = world.PASSWORD
SEARCH_MODE = {
    "user_dn_format": None,
    "base_dn": SUFFIX,
    "user_search_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
}
INJECTIONS = ["*)(uid=*", "admin)(|(uid=*", "*", "bo*", "bob)(uid=*", "bob\\", "bob,ou=people", ""]


def backend(server, clock=None, **overrides: str | None) -> LDAPAccess:
    found = LDAPAccess.from_settings(Settings(ldap_world_settings(server, **overrides), environ={}))
    if clock is not None:
        found.clock = clock
    return found


@pytest.fixture(params=["dn_format", "search"])
def any_mode(request, slapd_server) -> LDAPAccess:
    """The backend in each way of finding a user."""
    return backend(slapd_server, **(SEARCH_MODE if request.param == "search" else {}))


class TestPasswords:
    def test_world_users_log_in_with_their_password(self, any_mode):
        for username in world.USERS:
            assert any_mode.verify_user(username, PASSWORD), username

    def test_wrong_unknown_and_empty_passwords_are_refused(self, any_mode):
        assert not any_mode.verify_user("bob", "wrong")
        assert not any_mode.verify_user("nobody", PASSWORD)
        # slapd here accepts a DN with an empty password as an anonymous bind.
        assert not any_mode.verify_user("bob", "")
        assert not any_mode.verify_user("nobody", "")

    @pytest.mark.parametrize("username", INJECTIONS)
    def test_injected_names_match_nobody(self, any_mode, username):
        assert not any_mode.verify_user(username, PASSWORD)
        assert any_mode.user(username) is None

    def test_a_name_with_dn_special_characters_is_escaped_not_refused(self, any_mode):
        assert any_mode.verify_user(ODD_USER, PASSWORD)
        facts = any_mode.user(ODD_USER)
        assert facts is not None and facts.groups == {"odd"}  # its DN escaped in the filter
        assert not facts.admin

    def test_a_dn_with_special_characters_is_escaped_in_the_admin_filter(self, slapd_server):
        assert backend(slapd_server, admin_group_dn=ODD_GROUP).user(ODD_USER).admin

    def test_a_name_with_a_star_matches_only_itself(self, any_mode):
        assert any_mode.verify_user(STAR_USER, PASSWORD)
        assert not any_mode.verify_user(STAR_USER[0], PASSWORD)
        facts = any_mode.user(STAR_USER)
        assert facts is not None and facts.groups == frozenset()  # not dave's (memberUid=d*)

    def test_an_unknown_user_costs_what_a_wrong_password_costs(self, slapd_server):
        dn_mode = backend(slapd_server)
        dn_mode.user("bob"), dn_mode.user("nobody")  # both looked up (and cached) first
        times: dict[str, list[float]] = {"bob": [], "nobody": []}
        for _ in range(21):  # interleaved, so a busy machine slows both alike
            for username, samples in times.items():
                start = time.perf_counter()
                assert not dn_mode.verify_user(username, "wrong")
                samples.append(time.perf_counter() - start)
        wrong, unknown = (statistics.median(samples) for samples in times.values())
        # Both pay one bind round trip; skipping it would make the unknown user ~100x faster.
        assert 0.2 < unknown / wrong < 5, (unknown, wrong)

    def test_concurrent_checks_do_not_mix_users(self, slapd_server):
        shared = backend(slapd_server)
        errors: list[str] = []

        def check(username: str) -> None:
            for _ in range(10):
                if not shared.verify_user(username, PASSWORD):
                    errors.append(f"{username} refused")
                if shared.verify_user(username, "wrong"):
                    errors.append(f"{username} let in")

        threads = [threading.Thread(target=check, args=(u,)) for u in world.USERS * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []


class TestFacts:
    def test_groups_of_every_kind_and_admin_by_group(self, any_mode):
        facts = {name: any_mode.user(name) for name in world.USERS}
        assert {n: f.groups for n, f in facts.items() if f} == {
            "alice": {"pypi-admins"},
            "bob": {"devs"},  # groupOfNames member
            "carol": {"qa"},  # groupOfUniqueNames uniqueMember
            "dave": {"ops"},  # posixGroup memberUid
        }
        assert {n for n, f in facts.items() if f and f.admin} == set(world.ADMINS)
        assert any_mode.user("nobody") is None

    def test_member_of_alone_gives_groups(self, slapd_server):
        member_of = backend(slapd_server, group_base_dn=None)
        assert member_of.user("bob").groups == {"devs"}
        assert member_of.user("carol").groups == frozenset()  # memberof knows groupOfNames only

    def test_admin_by_field_and_value(self, slapd_server):
        by_field = backend(
            slapd_server, admin_group_dn=None, admin_field=ADMIN_FIELD, admin_value=ADMIN_VALUE
        )
        assert by_field.user("alice").admin
        assert not by_field.user("bob").admin
        nobody = backend(slapd_server, admin_group_dn=None)
        assert not nobody.user("alice").admin

    def test_a_user_found_only_by_searching(self, slapd_server):
        assert backend(slapd_server, **SEARCH_MODE).verify_user(SEARCH_ONLY_USER, PASSWORD)
        assert backend(slapd_server).user(SEARCH_ONLY_USER) is None  # not under ou=people

    def test_several_matching_entries_are_refused(self, slapd_server):
        loose = backend(
            slapd_server, **{**SEARCH_MODE, "user_search_filter": "(|(uid={username})(uid=carol))"}
        )
        assert loose.user("bob") is None
        assert not loose.verify_user("bob", PASSWORD)
        picky = backend(
            slapd_server,
            **{**SEARCH_MODE, "user_search_filter": "(|(uid={username})(uid=carol))"},
            ignore_multiple_results="true",
        )
        assert picky.user("bob") is not None

    def test_the_service_account_may_log_in_as_admin(self, slapd_server):
        service = backend(slapd_server, service_username="pypi-service")
        assert service.verify_user("pypi-service", SERVICE_PASSWORD)
        assert not service.verify_user("pypi-service", "wrong")
        assert service.user("pypi-service").admin


class TestFallback:
    def test_grants_come_from_the_config_keys(self, slapd_server):
        expected = {
            project: {f"{kind}:{name}": mode for (kind, name), mode in grants.items()}
            for project, grants in world.GRANTS.items()
        }
        assert backend(slapd_server).grants() == expected
        assert backend(slapd_server, fallback=None).grants() == {}

    def test_config_users_and_groups_join_ldap_ones(self, slapd_server):
        mixed = backend(slapd_server, **{"user.ci": FAST_HASH, "group.release": "bob ci"})
        assert mixed.verify_user("ci", PASSWORD)
        assert not mixed.verify_user("ci", "wrong")
        assert mixed.user("ci").groups == {"release"}
        assert mixed.user("bob").groups == {"devs", "release"}


class TestCacheTime:
    def test_expiry_changes_version_and_shows_directory_changes(self, slapd_server):
        now = [60.0 * 1000]  # the start of a 60-second cache period
        cached = backend(slapd_server, clock=lambda: now[0], cache_time="60")
        access = Access(cached, AccessDefaults(recheck_seconds=0))
        assert "group:late" not in access.principals("carol")
        before = cached.version()
        with late_group(slapd_server, "carol"):
            now[0] += 30  # inside the same cache period: still the cached facts
            assert cached.version() == before
            assert "group:late" not in access.principals("carol")
            now[0] += 30
            assert cached.version() != before
            assert "group:late" in access.principals("carol")
            assert cached.user("carol").groups == {"qa", "late"}

    def test_the_real_clock_expires_too(self, slapd_server):
        cached = backend(slapd_server, cache_time="1")
        assert cached.user("dave").groups == {"ops"}
        with late_group(slapd_server, "dave"):
            deadline = time.monotonic() + 3
            while "late" not in cached.user("dave").groups:
                assert time.monotonic() < deadline, "the change was never seen"
                time.sleep(0.1)


class TestUnavailable:
    def test_a_stopped_server_is_refused_at_once(self, slapd_server):
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        down = backend(slapd_server, url=f"ldap://127.0.0.1:{port}")
        with bounded(1):
            assert not down.verify_user("bob", PASSWORD)
        with bounded(1):
            healthy, message = down.check_health()
        assert not healthy and f"127.0.0.1:{port}" in message
        with bounded(1), pytest.raises(LDAPUnavailable):
            down.user("bob")

    @pytest.mark.parametrize("scheme", ["ldap", "ldaps"])
    def test_a_silent_server_costs_at_most_the_timeout(self, slapd_server, scheme):
        with silent_server() as port:
            slow = backend(slapd_server, url=f"{scheme}://127.0.0.1:{port}", timeout="1")
            with bounded(2):
                assert not slow.verify_user("bob", PASSWORD)
            with bounded(2):
                healthy, message = slow.check_health()
            assert not healthy and f"127.0.0.1:{port}" in message
            with bounded(2), pytest.raises(LDAPUnavailable):
                slow.user("bob")

    def test_a_wrong_service_password_is_unhealthy(self, slapd_server):
        wrong = backend(slapd_server, service_password="nope")
        healthy, message = wrong.check_health()
        assert not healthy and "service_dn" in message
        assert not wrong.verify_user("bob", PASSWORD)

    def test_healthy(self, slapd_server):
        assert backend(slapd_server).check_health() == (True, "")


class TestTLS:
    def test_a_self_signed_certificate_needs_ignore_cert(self, slapd_server):
        strict = backend(slapd_server, url=slapd_server.tls_url)
        assert not strict.check_health()[0]
        assert not strict.verify_user("bob", PASSWORD)
        lax = backend(slapd_server, url=slapd_server.tls_url, ignore_cert="true")
        assert lax.check_health() == (True, "")
        assert lax.verify_user("bob", PASSWORD)
        assert lax.user("bob").groups == {"devs"}


class TestThroughTheApp:
    @pytest.fixture
    def app(self, tmp_path, ldap_access_settings) -> TestApp:
        settings = {
            "storage.dir": str(tmp_path / "packages"),
            "db.url": f"sqlite:///{tmp_path / 'db.sqlite'}",
            **ldap_access_settings,
        }
        return TestApp(wsgi_app(make_config(settings, here=str(tmp_path), environ={})))

    def test_ldap_passwords_and_grants_decide(self, app):
        upload(app, "secret", "1.0", user="bob")  # bob's LDAP password; devs may write
        app.get("/simple/secret/", headers=auth("carol"), status=404)
        app.get("/simple/secret/", headers=auth("dave"))  # an explicit read grant
        app.get("/simple/secret/", headers=auth("alice"))  # admin through the LDAP group
        app.get("/simple/secret/", headers=auth("bob", "wrong"), status=401)
        upload(app, "carols-pkg", "1.0", user="dave", status=403)  # may read, not write

    def test_a_down_server_refuses_logins_and_fails_health(self, tmp_path, ldap_access_settings):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        settings = {
            "storage.dir": str(tmp_path / "packages"),
            "db.url": f"sqlite:///{tmp_path / 'db.sqlite'}",
            **ldap_access_settings,
            "auth.ldap.url": f"ldap://127.0.0.1:{port}",
        }
        app = TestApp(wsgi_app(make_config(settings, here=str(tmp_path), environ={})))
        with bounded(1):
            app.get("/simple/", headers=auth("bob"), status=401)
        health = app.get("/health", status=503).json["access"]
        assert health == {"ok": False}  # anonymous: no server address
        _, message = app.app.registry.services.health()["access"]
        assert f"127.0.0.1:{port}" in message

    def test_every_pypi_auth_name_loads_it(self, tmp_path, ldap_access_settings):
        for name in (
            "ldap",
            "pypicloud.access.ldap_.LDAPAccessBackend",
            "pypicloud.access.LDAPAccessBackend",
        ):
            settings = {
                "storage.dir": str(tmp_path / "packages"),
                "db.url": f"sqlite:///{tmp_path / 'db.sqlite'}",
                **ldap_access_settings,
                "pypi.auth": name,
            }
            config = make_config(settings, here=str(tmp_path), environ={})
            assert isinstance(config.registry.services.access.backend, LDAPAccess)


# -- helpers ---------------------------------------------------------------------------


class late_group:
    """A group ``late`` holding ``username`` in slapd while the block runs."""

    def __init__(self, server, username: str) -> None:
        self.server, self.dn = server, f"cn=late,{GROUPS}"
        self.member = user_dn(username)

    def __enter__(self) -> None:
        self.server.add(self.dn, objectClass="groupOfNames", cn="late", member=self.member)

    def __exit__(self, *exc: object) -> None:
        self.server.delete(self.dn)


class bounded:
    """Fails when the block takes longer than ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        took = time.monotonic() - self.start
        assert took < self.seconds, f"took {took:.1f}s, more than {self.seconds}s"


class silent_server:
    """A port that accepts TCP connections and never answers (a hung server)."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()  # resets queued connections: threads still waiting end
