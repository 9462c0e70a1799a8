"""One evaluator over any backend: principals, grants, defaults, admins, change tracking."""

from __future__ import annotations

import itertools
import time

from pypicloud.access.base import ADMIN, AUTHENTICATED, EVERYONE, MutableAccess, unknown_users
from pypicloud.access.evaluator import Access, AccessDefaults, VersionWatch
from tests.fakes import MemoryAccess


def make(
    default_read=("authenticated",), default_write=(), admins=(), recheck=0.0
) -> tuple[MemoryAccess, Access]:
    backend = MemoryAccess()
    for name in ("ann", "ben", "cy"):
        backend.create_user(name, "pw")
    backend.create_group("team")
    backend.add_member("team", "ben")
    backend.set_grant("private-thing", "user:cy", "r")
    backend.set_grant("team-only", "group:team", "rw")
    defaults = AccessDefaults(tuple(default_read), tuple(default_write), frozenset(admins), recheck)
    return backend, Access(backend, defaults)


def test_the_memory_double_is_a_mutable_backend():
    assert isinstance(MemoryAccess(), MutableAccess)


def test_principals():
    _, access = make(admins=["ann"])
    assert access.principals(None) == {EVERYONE}
    assert access.principals("ben") == {EVERYONE, AUTHENTICATED, "user:ben", "group:team"}
    assert ADMIN in access.principals("ann")
    assert access.principals("nobody") == {EVERYONE}
    assert access.knows("ben") and not access.knows("nobody")


def test_backend_admin_flag_and_auth_admins_both_make_admins():
    backend, access = make(admins=["ann"])
    backend.set_admin("cy", True)
    assert ADMIN in access.principals("ann") and ADMIN in access.principals("cy")
    assert ADMIN not in access.principals("ben")


def test_defaults_apply_only_without_grants():
    _, access = make(default_write=["team"])
    ben, cy = access.principals("ben"), access.principals("cy")
    assert access.can_read(cy, "anything") and not access.can_write(cy, "anything")
    assert access.can_write(ben, "anything")
    assert access.can_read(cy, "private-thing") and not access.can_write(cy, "private-thing")
    assert not access.can_read(ben, "private-thing")
    assert access.can_write(ben, "team-only") and not access.can_read(cy, "team-only")
    assert not access.can_read(access.principals(None), "anything")


def test_admin_may_do_everything():
    _, access = make(admins=["ann"])
    ann = access.principals("ann")
    assert access.can_read(ann, "private-thing") and access.can_write(ann, "team-only")


def test_readable_is_the_batched_can_read():
    names = ["anything", "private-thing", "team-only"]
    for default_read in (["everyone"], ["authenticated"], ["team"], []):
        _, access = make(default_read=default_read, admins=["ann"])
        for user in (None, "ann", "ben", "cy"):
            principals = access.principals(user)
            assert access.readable(principals, names) == {
                n for n in names if access.can_read(principals, n)
            }


def test_anonymous_reads_by_default_only_with_everyone():
    assert make(default_read=["everyone"])[1].anonymous_may_read_by_default()
    assert not make()[1].anonymous_may_read_by_default()
    assert make(default_write=["everyone"])[1].anonymous_may_read_by_default()


def test_every_change_is_seen_at_the_next_check():
    backend, access = make()
    cy = access.principals("cy")
    assert access.can_read(cy, "private-thing")
    changes = [
        lambda: backend.set_grant("private-thing", "user:cy", None),
        lambda: backend.add_member("team", "cy"),
        lambda: backend.delete_user("cy"),
    ]
    backend.set_grant("private-thing", "user:ben", "r")
    changes[0]()
    assert not access.can_read(access.principals("cy"), "private-thing")
    changes[1]()
    assert "group:team" in access.principals("cy")
    changes[2]()
    assert not access.knows("cy")


def test_changes_wait_for_the_recheck_interval():
    backend, access = make(recheck=0.2)
    backend.set_grant("private-thing", "user:ben", "r")
    time.sleep(0.25)
    assert access.can_read(access.principals("cy"), "private-thing")
    backend.set_grant("private-thing", "user:cy", None)
    assert access.can_read(access.principals("cy"), "private-thing")  # within the bound
    time.sleep(0.25)
    assert not access.can_read(access.principals("cy"), "private-thing")


def test_version_watch_asks_at_most_once_per_interval():
    calls = itertools.count()
    watch = VersionWatch(lambda: next(calls), interval=60)
    assert [watch.current() for _ in range(100)] == [0] * 100


def test_unknown_admins_are_reported():
    backend, _ = make()
    assert unknown_users(backend, ["ann", "ghost"]) == ["ghost"]
