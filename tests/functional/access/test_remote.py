"""The remote backend against a real HTTP server holding the standard world: facts,
caching and versions, slow and stopped servers, threads, and the app on top."""

from __future__ import annotations

import threading
import time

import pytest

from pypicloud.access.base import UserFacts
from pypicloud.access.http_json import RemoteError
from pypicloud.access.remote import RemoteAccess, RemoteConfig
from pypicloud.settings import Settings
from tests.fixtures.access import app_over, check_world_through_app
from tests.functional.access import world

WORLD_GRANTS = {
    "carols-pkg": {"user:carol": "rw"},
    "secret": {"user:bob": "rw", "user:dave": "r"},
}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_remote(remote_access_settings):
    def factory(clock=time.monotonic, **extra: str) -> RemoteAccess:
        settings = Settings({**remote_access_settings, **extra}, environ={})
        return RemoteAccess(RemoteConfig.from_settings(settings), clock=clock)

    return factory


@pytest.fixture
def remote(make_remote) -> RemoteAccess:
    return make_remote()


def test_facts_of_the_standard_world(remote):
    assert remote.verify_user("bob", world.PASSWORD)
    assert not remote.verify_user("bob", "wrong")
    assert not remote.verify_user("nobody", world.PASSWORD)
    assert remote.user("bob") == UserFacts("bob", frozenset({"devs"}))
    assert remote.user("alice") == UserFacts("alice", frozenset(), admin=True)
    assert remote.user("nobody") is None  # the server answers null
    assert remote.grants() == WORLD_GRANTS
    assert remote.check_health() == (True, "")


def test_grants_from_one_all_permissions_request(make_remote, remote_world):
    remote = make_remote(**{"auth.uri.all_permissions": "/all_permissions"})
    assert remote.grants() == WORLD_GRANTS
    assert remote_world.requests["/all_permissions"] == 1
    assert remote_world.requests["/user_package_permissions"] == 0


def test_grants_enumerated_include_the_special_groups(remote, remote_world):
    remote_world.grants["open"] = {("group", "everyone"): "r", ("group", "devs"): "rw"}
    assert remote.grants()["open"] == {"everyone": "r", "group:devs": "rw"}


def test_a_404_for_a_user_means_unknown(make_remote):
    remote = make_remote(**{"auth.uri.groups": "/no-such-endpoint"})
    assert remote.user("bob") is None


def test_the_read_only_listings(remote):
    assert [facts.username for facts in remote.users()] == sorted(world.USERS)
    assert remote.groups() == {"devs": frozenset({"bob"})}
    assert remote.project_grants("secret") == WORLD_GRANTS["secret"]


def test_answers_are_cached_until_cache_time(make_remote, remote_world):
    clock = Clock()
    remote = make_remote(clock, **{"auth.remote.cache_time": "60"})
    version = remote.version()
    assert remote.user("bob").groups == {"devs"}
    assert remote.grants() == WORLD_GRANTS
    asked = remote_world.requests.copy()
    remote_world.groups["ops"] = {"bob"}
    remote_world.grants["secret"][("user", "carol")] = "r"
    clock.now += 59
    assert remote.version() == version
    assert remote.user("bob").groups == {"devs"}
    assert remote.grants() == WORLD_GRANTS
    assert remote_world.requests == asked  # nothing asked again
    clock.now += 1
    assert remote.version() != version  # the evaluator re-reads
    assert remote.user("bob").groups == {"devs", "ops"}
    assert remote.grants()["secret"]["user:carol"] == "r"


def test_passwords_are_checked_every_time(remote, remote_world):
    # The security policy remembers successes; failures must never be remembered.
    remote.verify_user("bob", world.PASSWORD)
    remote.verify_user("bob", world.PASSWORD)
    assert remote_world.requests["/verify"] == 2


def test_the_server_credentials_are_sent(make_remote, caplog):
    remote = make_remote(**{"auth.password": "wrong"})
    assert not remote.verify_user("bob", world.PASSWORD)
    assert remote.user("bob") is None
    assert "HTTP 401" in caplog.text
    assert world.PASSWORD not in caplog.text  # the query is never logged


def test_a_slow_server_times_out(make_remote, remote_world, caplog):
    remote = make_remote(**{"auth.remote.timeout": "0.3"})
    version = remote.version()
    remote_world.delay = 3
    started = time.monotonic()
    assert not remote.verify_user("bob", world.PASSWORD)
    assert remote.user("bob") is None
    ok, message = remote.check_health()
    assert time.monotonic() - started < 2.5  # three calls, each bounded by the timeout
    assert not ok and "no answer within 0.3s" in message
    assert "no answer within" in caplog.text
    assert remote.version() != version  # a failure is not kept: the evaluator asks again


def test_a_slow_refresh_keeps_serving_the_last_grants(make_remote, remote_world):
    clock = Clock()
    remote = make_remote(clock, **{"auth.remote.timeout": "0.5"})
    assert remote.grants() == WORLD_GRANTS
    remote_world.delay = 1  # the refresh times out
    clock.now += 1000
    started = time.monotonic()
    assert remote.grants() == WORLD_GRANTS  # the last good table, not an empty one
    assert time.monotonic() - started < 1.5


def test_other_threads_do_not_wait_for_a_refresh(make_remote, remote_world):
    clock = Clock()
    remote = make_remote(clock)
    remote.grants()
    remote_world.delay = 0.2
    clock.now += 1000
    refresher = threading.Thread(target=remote.grants)
    refresher.start()
    time.sleep(0.05)  # the refresher is inside its first request
    started = time.monotonic()
    assert remote.grants() == WORLD_GRANTS
    assert time.monotonic() - started < 0.15
    refresher.join()


def test_a_stopped_server(remote, remote_server):
    remote_server.stop()
    assert not remote.verify_user("bob", world.PASSWORD)
    assert remote.user("bob") is None
    ok, message = remote.check_health()
    assert not ok and remote_server.url in message
    with pytest.raises(RemoteError):
        remote.grants()  # never read: no safe answer (the defaults would open everything)


def test_threads_share_one_backend(make_remote):
    remote = make_remote(**{"auth.remote.cache_time": "0"})  # expires all the time
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                assert remote.user("bob") == UserFacts("bob", frozenset({"devs"}))
                assert remote.grants() == WORLD_GRANTS
                assert remote.verify_user("dave", world.PASSWORD)
                remote.version()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_through_the_app(remote_access_settings, tmp_path):
    check_world_through_app(app_over(remote_access_settings, tmp_path))
