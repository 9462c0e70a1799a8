from __future__ import annotations

from passlib.hash import sha512_crypt

from pypicloud.access.base import ADMIN, AUTHENTICATED, EVERYONE
from pypicloud.access.config import ConfigAccess
from pypicloud.settings import Settings

HASH = sha512_crypt.using(rounds=1000).hash("pw")


def access(**extra: str) -> ConfigAccess:
    raw = {
        "user.ann": HASH,
        "user.ben": HASH,
        "user.cy": HASH,
        "group.team": "ben",
        "auth.admins": "ann",
        "package.Private_Thing.user.cy": "r",
        "package.team-only.group.team": "rw",
        **extra,
    }
    return ConfigAccess.from_settings(Settings(raw, environ={}))


def test_passwords():
    backend = access()
    assert backend.verify_user("ann", "pw")
    assert not backend.verify_user("ann", "wrong")
    assert not backend.verify_user("nobody", "pw")


def test_principals():
    backend = access()
    assert backend.principals(None) == {EVERYONE}
    assert backend.principals("ben") == {EVERYONE, AUTHENTICATED, "user:ben", "group:team"}
    assert ADMIN in backend.principals("ann")


def test_defaults_apply_only_without_grants():
    backend = access(**{"pypi.default_read": "authenticated", "pypi.default_write": "team"})
    ben, cy = backend.principals("ben"), backend.principals("cy")
    assert backend.can_read(cy, "anything") and not backend.can_write(cy, "anything")
    assert backend.can_write(ben, "anything")
    assert backend.can_read(cy, "private-thing") and not backend.can_write(cy, "private-thing")
    assert not backend.can_read(ben, "private-thing")
    assert backend.can_write(ben, "team-only") and not backend.can_read(cy, "team-only")
    assert not backend.can_read(backend.principals(None), "anything")


def test_admin_may_do_everything():
    backend = access()
    ann = backend.principals("ann")
    assert backend.can_read(ann, "private-thing") and backend.can_write(ann, "team-only")


def test_readable_is_the_batched_can_read():
    backend = access(**{"pypi.default_read": "everyone"})
    names = ["anything", "private-thing", "team-only"]
    for user in (None, "ann", "ben", "cy"):
        principals = backend.principals(user)
        assert backend.readable(principals, names) == {
            n for n in names if backend.can_read(principals, n)
        }
    assert backend.anonymous_may_read_by_default()
