"""The Secrets Manager backend against moto's HTTP server: facts, every change, versions
seen across processes, concurrent writers, the original's layout, and the app on top."""

from __future__ import annotations

import json
import threading

import pytest
from passlib.hash import sha512_crypt

from pypicloud.access import aws_secrets_manager as module
from pypicloud.access.aws_secrets_manager import AWSSecretsManagerAccess, SecretError
from pypicloud.access.base import MutableAccess, UserFacts
from pypicloud.settings import Settings
from tests.fixtures.access import app_over, check_world_through_app
from tests.fixtures.aws_secrets import FAST_HASH, secret_settings, unique_secret
from tests.functional.access import world
from tests.tools import free_port

WORLD_GRANTS = {
    "carols-pkg": {"user:carol": "rw"},
    "secret": {"user:bob": "rw", "user:dave": "r"},
}
OTHER_HASH = sha512_crypt.using(rounds=1000).hash("other-pw")


def backend_for(settings: dict[str, str]) -> AWSSecretsManagerAccess:
    return AWSSecretsManagerAccess.from_settings(Settings(settings, environ={}))


@pytest.fixture
def access(aws_access_settings) -> AWSSecretsManagerAccess:
    return backend_for(aws_access_settings)


@pytest.fixture
def empty(moto_endpoint) -> AWSSecretsManagerAccess:
    """A backend whose secret does not exist yet."""
    return backend_for(secret_settings(moto_endpoint, unique_secret()))


def stored(client, access: AWSSecretsManagerAccess) -> dict:
    answer = client.get_secret_value(SecretId=access.secret_id, VersionStage="AWSCURRENT")
    return json.loads(answer["SecretString"])


def test_it_is_a_mutable_access_backend(access):
    assert isinstance(access, MutableAccess)


def test_facts_of_the_standard_world(access):
    assert access.verify_user("bob", world.PASSWORD)
    assert not access.verify_user("bob", "wrong")
    assert access.user("bob") == UserFacts("bob", frozenset({"devs"}))
    assert access.user("alice") == UserFacts("alice", frozenset(), admin=True)
    assert access.user("nobody") is None
    assert access.grants() == WORLD_GRANTS
    assert access.check_health() == (True, "")


def test_unknown_and_pending_users_cost_a_password_check(access, monkeypatch):
    access.create_user("eve", FAST_HASH, pending=True)
    calls = []
    monkeypatch.setattr(module, "dummy_verify", lambda: calls.append(1))
    assert not access.verify_user("nobody", world.PASSWORD)
    assert not access.verify_user("eve", world.PASSWORD)
    assert access.user("eve") is None
    assert len(calls) == 2


def test_a_secret_in_the_original_layout_with_its_quirks(secrets_client, moto_endpoint):
    secret_id = unique_secret()
    document = {  # no pending_users, no allow_registration; unnormalized names
        "users": {"ann": FAST_HASH},
        "groups": {"team": ["ann"]},
        "admins": [],
        "packages": {
            "My_Package": {"users": {"ann": ["write"]}, "groups": {"everyone": ["read"]}},
            "empty.one": {"users": {"ann": []}},
            "Team.Only": {"groups": {"team": ["read", "write"]}},
        },
    }
    secrets_client.create_secret(Name=secret_id, SecretString=json.dumps(document))
    access = backend_for(secret_settings(moto_endpoint, secret_id))
    assert access.grants() == {
        "my-package": {"user:ann": "rw", "everyone": "r"},
        "team-only": {"group:team": "rw"},
    }
    assert access.user("ann") == UserFacts("ann", frozenset({"team"}))
    assert access.pending_users() == [] and access.allow_register() is False
    # A new grant on another spelling of a name lands under the normalized one.
    access.set_grant("my-package", "authenticated", "r")
    packages = stored(secrets_client, access)["packages"]
    assert "My_Package" not in packages
    assert packages["my-package"] == {  # what it did not touch stays as it was
        "users": {"ann": ["write"]},
        "groups": {"everyone": ["read"], "authenticated": ["read"]},
    }


def test_the_secret_is_created_on_first_write_with_the_kms_key(secrets_client, moto_endpoint):
    secret_id = unique_secret()
    settings = {**secret_settings(moto_endpoint, secret_id), "auth.kms_key_id": "alias/pypi"}
    access = backend_for(settings)
    assert access.version() == 0
    assert access.user("ann") is None and access.grants() == {}
    assert access.check_health() == (True, f"secret {secret_id!r} does not exist yet")
    access.create_user("ann", FAST_HASH, admin=True)
    assert access.version() != 0
    assert secrets_client.describe_secret(SecretId=secret_id)["KmsKeyId"] == "alias/pypi"
    assert stored(secrets_client, access) == {
        "users": {"ann": FAST_HASH},
        "pending_users": {},
        "admins": ["ann"],
        "groups": {},
        "packages": {},
        "allow_registration": False,
    }


def test_a_secret_created_without_a_value(secrets_client, moto_endpoint):
    secret_id = unique_secret()
    secrets_client.create_secret(Name=secret_id)  # as Terraform creates one
    access = backend_for(secret_settings(moto_endpoint, secret_id))
    assert access.user("ann") is None
    access.create_user("ann", FAST_HASH)
    access.create_group("team")
    assert backend_for(secret_settings(moto_endpoint, secret_id)).groups() == {"team": frozenset()}


def test_every_change_and_its_version(access, secrets_client):
    seen = {access.version()}

    def changed() -> None:
        number = access.version()
        assert number not in seen, "version() must change on every change"
        seen.add(number)

    access.set_allow_register(True)
    assert access.allow_register()
    changed()
    access.create_user("eve", FAST_HASH, pending=True)
    assert access.pending_users() == ["eve"] and access.user("eve") is None
    changed()
    access.approve_user("eve")
    assert access.pending_users() == [] and access.verify_user("eve", world.PASSWORD)
    changed()
    access.set_password("eve", OTHER_HASH)
    assert access.verify_user("eve", "other-pw") and not access.verify_user("eve", world.PASSWORD)
    changed()
    access.set_admin("eve", True)
    assert access.user("eve").admin
    changed()
    access.create_group("ops")
    changed()
    access.add_member("ops", "eve")
    assert access.user("eve").groups == {"ops"}
    assert access.groups() == {"devs": {"bob"}, "ops": {"eve"}}
    changed()
    access.set_grant("tool", "group:ops", "rw")
    access.set_grant("tool", "user:carol", "r")
    access.set_grant("tool", "everyone", "r")
    assert access.grants()["tool"] == {"group:ops": "rw", "user:carol": "r", "everyone": "r"}
    changed()
    access.set_grant("tool", "everyone", None)
    assert "everyone" not in access.grants()["tool"]
    changed()
    access.remove_member("ops", "eve")
    assert access.user("eve").groups == frozenset()
    changed()
    access.delete_group("ops")
    assert "group:ops" not in access.grants()["tool"] and "ops" not in access.groups()
    changed()
    access.set_admin("eve", False)
    access.delete_user("eve")
    assert access.user("eve") is None and not access.verify_user("eve", "other-pw")
    changed()
    access.delete_user("carol")
    assert "tool" not in access.grants() and "carols-pkg" not in access.grants()
    changed()
    assert [facts.username for facts in access.users()] == ["alice", "bob", "dave"]
    document = stored(secrets_client, access)
    assert document["users"].keys() == {"alice", "bob", "dave"}
    assert document["packages"] == {
        "secret": {"users": {"bob": ["read", "write"], "dave": ["read"]}, "groups": {}}
    }
    assert document["allow_registration"] is True


def test_a_change_that_changes_nothing_writes_nothing(access):
    before = access.version()
    access.add_member("devs", "bob")  # already a member
    access.set_admin("alice", True)
    assert access.version() == before


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda a: a.create_user("bob", FAST_HASH), ValueError),
        (lambda a: a.create_group("devs"), ValueError),
        (lambda a: a.create_group("everyone"), ValueError),
        (lambda a: a.set_grant("x", "bob", "r"), ValueError),
        (lambda a: a.delete_user("nobody"), KeyError),
        (lambda a: a.set_password("nobody", FAST_HASH), KeyError),
        (lambda a: a.set_admin("nobody", True), KeyError),
        (lambda a: a.approve_user("bob"), KeyError),
        (lambda a: a.delete_group("nobody"), KeyError),
        (lambda a: a.add_member("nobody", "bob"), KeyError),
        (lambda a: a.add_member("devs", "nobody"), KeyError),
        (lambda a: a.remove_member("devs", "nobody"), KeyError),
        (lambda a: a.set_grant("x", "user:nobody", "r"), KeyError),
        (lambda a: a.set_grant("x", "group:nobody", "r"), KeyError),
    ],
)
def test_bad_changes_raise_and_write_nothing(access, call, error):
    before = access.version()
    with pytest.raises(error):
        call(access)
    assert access.version() == before


def test_a_change_reaches_another_process(aws_access_settings):
    one, other = backend_for(aws_access_settings), backend_for(aws_access_settings)
    before = other.version()
    assert other.user("eve") is None
    one.create_user("eve", FAST_HASH)
    assert other.version() != before
    assert other.user("eve") == UserFacts("eve")
    assert other.version() == one.version()  # the same number in every process


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_concurrent_writers_lose_nothing(aws_access_settings, processes):
    """Each writer adds its own user at the same moment: every one must land. Separate
    backends stand for separate server processes (only the secret is shared)."""
    count = 8
    shared = backend_for(aws_access_settings)
    backends = [backend_for(aws_access_settings) if processes else shared for _ in range(count)]
    for backend in backends:
        backend.version()  # each has read the secret once: all start from one version
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def add(index: int) -> None:
        start.wait()
        try:
            backends[index].create_user(f"user{index}", FAST_HASH)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    fresh = backend_for(aws_access_settings)
    names = {facts.username for facts in fresh.users()}
    assert names == set(world.USERS) | {f"user{i}" for i in range(count)}


def test_concurrent_readers_and_a_writer(access):
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert access.user("bob") == UserFacts("bob", frozenset({"devs"}))
                assert access.grants()["secret"] == WORLD_GRANTS["secret"]
                access.version()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for index in range(3):
        access.create_group(f"g{index}")
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and {"g0", "g1", "g2"} <= access.groups().keys()


def test_an_unreachable_service_is_logged_not_fatal(caplog):
    settings = secret_settings(f"http://127.0.0.1:{free_port()}", unique_secret())
    access = backend_for(settings)
    assert access.version() == 0
    assert access.user("bob") is None
    assert not access.verify_user("bob", world.PASSWORD)
    ok, message = access.check_health()
    assert not ok and settings["auth.secret_id"] in message
    with pytest.raises(SecretError):
        access.grants()  # no safe answer: an empty table would open every project
    with pytest.raises(SecretError):
        access.create_user("ann", FAST_HASH)
    assert "cannot describe" in caplog.text


def test_invalid_json_is_an_error(secrets_client, moto_endpoint):
    secret_id = unique_secret()
    secrets_client.create_secret(Name=secret_id, SecretString="{not json")
    with pytest.raises(SecretError, match="not a valid access document"):
        backend_for(secret_settings(moto_endpoint, secret_id)).grants()


def test_through_the_app(aws_access_settings, tmp_path):
    check_world_through_app(app_over(aws_access_settings, tmp_path))
