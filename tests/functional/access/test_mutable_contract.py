"""What every writable access backend must do, against its real store.

A backend plugs in with an ``<id>_access_opener`` fixture (tests/fixtures/access.py) and an
entry in BACKENDS.
"""

from __future__ import annotations

import threading

import pytest

from pypicloud.access.base import MutableAccess, UserFacts
from pypicloud.access.evaluator import Access, AccessDefaults
from tests.fixtures.access import FAST_HASH, load_world
from tests.functional.access import world

BACKENDS = ["sqlite", "postgresql", "mysql", "aws"]


@pytest.fixture(params=BACKENDS)
def opener(request):
    return request.getfixturevalue(f"{request.param}_access_opener")


@pytest.fixture
def backend(opener) -> MutableAccess:
    return opener()


def test_is_a_mutable_backend(backend):
    assert isinstance(backend, MutableAccess)


def test_users(backend):
    before = backend.version()
    backend.create_user("ann", FAST_HASH)
    assert backend.version() != before
    assert backend.user("ann") == UserFacts("ann", frozenset(), False)
    assert backend.verify_user("ann", world.PASSWORD)
    assert not backend.verify_user("ann", "wrong")
    assert not backend.verify_user("nobody", world.PASSWORD)
    with pytest.raises(ValueError):
        backend.create_user("ann", FAST_HASH)
    backend.set_admin("ann", True)
    assert backend.user("ann").admin
    backend.set_password("ann", "plain-is-refused-by-verify")
    assert not backend.verify_user("ann", world.PASSWORD)
    assert [u.username for u in backend.users()] == ["ann"]
    backend.delete_user("ann")
    assert backend.user("ann") is None and backend.users() == []
    for change in (backend.delete_user, lambda n: backend.set_password(n, FAST_HASH)):
        with pytest.raises(KeyError):
            change("ann")


def test_pending_users_cannot_sign_in_until_approved(backend):
    backend.create_user("newbie", FAST_HASH, pending=True)
    assert backend.pending_users() == ["newbie"]
    assert backend.user("newbie") is None
    assert not backend.verify_user("newbie", world.PASSWORD)
    assert backend.users() == []
    backend.approve_user("newbie")
    assert backend.pending_users() == []
    assert backend.verify_user("newbie", world.PASSWORD)


def test_groups_and_members(backend):
    backend.create_user("ann", FAST_HASH)
    backend.create_group("team")
    with pytest.raises(ValueError):
        backend.create_group("team")
    backend.add_member("team", "ann")
    backend.add_member("team", "ann")  # idempotent
    assert backend.user("ann").groups == {"team"}
    assert backend.groups() == {"team": frozenset({"ann"})}
    with pytest.raises(KeyError):
        backend.add_member("nosuch", "ann")
    with pytest.raises(KeyError):
        backend.add_member("team", "nobody")
    backend.remove_member("team", "ann")
    assert backend.user("ann").groups == frozenset()
    backend.add_member("team", "ann")
    backend.delete_group("team")
    assert backend.groups() == {} and backend.user("ann").groups == frozenset()


@pytest.mark.parametrize("reserved", ["everyone", "authenticated"])
def test_reserved_groups_cannot_be_created(backend, reserved):
    with pytest.raises(ValueError):
        backend.create_group(reserved)


def test_grants_are_normalized_and_revocable(backend):
    backend.create_user("ann", FAST_HASH)
    backend.create_group("team")
    backend.set_grant("My_Pkg", "user:ann", "r")
    backend.set_grant("my.pkg", "group:team", "rw")
    backend.set_grant("my-pkg", "everyone", "r")
    assert backend.grants() == {"my-pkg": {"user:ann": "r", "group:team": "rw", "everyone": "r"}}
    backend.set_grant("MY-PKG", "user:ann", "rw")
    assert backend.grants()["my-pkg"]["user:ann"] == "rw"
    backend.set_grant("my-pkg", "user:ann", None)
    backend.set_grant("my-pkg", "group:team", None)
    backend.set_grant("my-pkg", "everyone", None)
    assert backend.grants() == {}
    with pytest.raises(KeyError):
        backend.set_grant("x", "user:nobody", "r")


def test_deleting_a_user_or_group_drops_their_grants(backend):
    backend.create_user("ann", FAST_HASH)
    backend.create_group("team")
    backend.set_grant("p", "user:ann", "rw")
    backend.set_grant("q", "group:team", "r")
    backend.delete_user("ann")
    backend.delete_group("team")
    assert backend.grants() == {}


def test_registration_switch(backend):
    assert backend.allow_register() is False
    backend.set_allow_register(True)
    assert backend.allow_register() is True
    backend.set_allow_register(False)
    assert backend.allow_register() is False


def test_every_change_moves_the_version_seen_by_another_process(opener):
    first, second = opener(), opener()
    load_world(first)
    seen = second.version()
    changes = [
        lambda: first.set_admin("carol", True),
        lambda: first.add_member("devs", "carol"),
        lambda: first.set_grant("secret", "user:carol", "r"),
        lambda: first.set_password("carol", FAST_HASH + "x"),
        lambda: first.set_allow_register(True),
        lambda: first.delete_user("dave"),
    ]
    for change in changes:
        change()
        now = second.version()
        assert now != seen
        seen = now


def test_the_evaluator_over_the_world(opener):
    backend = opener()
    load_world(backend)
    access = Access(backend, AccessDefaults(("authenticated",), ("devs",), frozenset(), 0))
    bob, carol, dave = (access.principals(u) for u in ("bob", "carol", "dave"))
    assert access.can_write(bob, "anything") and not access.can_write(carol, "anything")
    assert access.can_read(dave, "secret") and not access.can_read(carol, "secret")
    assert access.can_write(carol, "carols-pkg") and not access.can_read(bob, "carols-pkg")
    assert "admin" in access.principals("alice")
    second = Access(opener(), access.defaults)
    backend.set_grant("secret", "user:carol", "r")
    assert second.can_read(second.principals("carol"), "secret")


def test_concurrent_writers_lose_nothing(opener):
    backends = [opener() for _ in range(4)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for n in range(5):
                backends[index].create_user(f"u{index}-{n}", FAST_HASH)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(opener().users()) == 20  # a fresh client: what every process will see
