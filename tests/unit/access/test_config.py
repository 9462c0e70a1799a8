"""The config backend supplies facts from the ini file; decisions are the evaluator's."""

from __future__ import annotations

import pytest
from passlib.hash import sha512_crypt

from pypicloud.access.base import UserFacts
from pypicloud.access.config import ConfigAccess
from pypicloud.settings import ConfigError, Settings

HASH = sha512_crypt.using(rounds=1000).hash("pw")


def backend(**extra: str) -> ConfigAccess:
    raw = {
        "user.ann": HASH,
        "user.ben": HASH,
        "group.team": "ben",
        "package.Private_Thing.user.ann": "r",
        "package.team-only.group.team": "rw",
        "package.dotted.name.user.ben": "write",
        **extra,
    }
    return ConfigAccess.from_settings(Settings(raw, environ={}))


def test_passwords():
    access = backend()
    assert access.verify_user("ann", "pw")
    assert not access.verify_user("ann", "wrong")
    assert not access.verify_user("nobody", "pw")


def test_user_facts():
    access = backend()
    assert access.user("ben") == UserFacts("ben", frozenset({"team"}))
    assert access.user("nobody") is None


def test_grants_are_normalized_and_typed():
    assert backend().grants() == {
        "private-thing": {"user:ann": "r"},
        "team-only": {"group:team": "rw"},
        "dotted-name": {"user:ben": "rw"},
    }


def test_a_read_only_backend_has_a_constant_version():
    access = backend()
    assert access.version() == access.version() == 0


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("user.eve", "plain-text", "make one with: ppc-gen-password"),
        ("package.x.user.ann", "rwx", "expected r or rw"),
        ("package.x.nobody", "r", "expected package.<name>.user"),
    ],
)
def test_bad_entries_name_the_key(key, value, message):
    with pytest.raises(ConfigError) as raised:
        backend(**{key: value})
    assert raised.value.key == key and message in str(raised.value)
