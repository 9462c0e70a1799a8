"""What a minted token's identity may do: upload to its projects, nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from pypicloud.access import Access
from pypicloud.access.config import ConfigAccess
from pypicloud.security import (
    ADMINISTER,
    AUTHENTICATED,
    LIST,
    READ,
    WRITE,
    Authenticator,
    SecurityPolicy,
)
from pypicloud.settings import Settings
from pypicloud.tokens import ApiToken, NoTokens


@pytest.fixture
def policy():
    settings = Settings({"pypi.default_read": "everyone", "pypi.default_write": "everyone"})
    access = Access(ConfigAccess.from_settings(settings))
    return SecurityPolicy(Authenticator(access, NoTokens()))


def minted(projects=("widget",), upload=True) -> ApiToken:
    return ApiToken(
        "t1",
        "oidc:abc",
        projects=frozenset(projects),
        upload=upload,
        expires=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
    )


def test_a_minted_token_uploads_to_its_project_only(policy):
    identity = policy.authenticator._identity("oidc:abc", "token", minted())
    assert identity is not None and identity.publisher and not identity.is_admin
    assert "authenticated" not in identity.principals and "everyone" not in identity.principals
    allows = policy.allows
    assert allows(identity, WRITE, "widget")
    assert allows(identity, AUTHENTICATED, None)
    # Even where everyone may read and write by default.
    assert not allows(identity, WRITE, "other")
    assert not allows(identity, READ, "widget")
    assert not allows(identity, READ, "other")
    assert not allows(identity, LIST, None)
    assert not allows(identity, ADMINISTER, None)
    assert not allows(identity, WRITE, None)


def test_a_read_only_minted_token_writes_nothing(policy):
    identity = policy.authenticator._identity("oidc:abc", "token", minted(upload=False))
    assert identity is not None and not policy.allows(identity, WRITE, "widget")


def test_a_user_token_is_not_a_publisher():
    assert not ApiToken("t", "alice", projects=frozenset({"w"}), upload=True).publisher
    assert not ApiToken("t", "oidc:abc", projects=None, upload=True).publisher
