"""``auth.ldap.*`` parsing: every bad or missing value stops start-up naming its key."""

from __future__ import annotations

import sys

import pytest

from pypicloud.access import BACKENDS, backend_from_settings
from pypicloud.access.ldap_settings import DEFAULT_GROUP_FILTER, LDAPSettings
from pypicloud.settings import ConfigError, Settings

DN_MODE = {
    "auth.ldap.url": "ldap://ldap.invalid:389",
    "auth.ldap.user_dn_format": "uid={username},ou=people,dc=example,dc=org",
}
SEARCH_MODE = {
    "auth.ldap.url": "ldaps://ldap.invalid",
    "auth.ldap.base_dn": "ou=people,dc=example,dc=org",
    "auth.ldap.user_search_filter": "(&(objectClass=person)(uid={username}))",
}


def parse(raw: dict[str, str], **changes: str | None) -> LDAPSettings:
    merged = {**raw, **{f"auth.ldap.{k}": v for k, v in changes.items()}}
    return LDAPSettings.from_settings(
        Settings({k: v for k, v in merged.items() if v is not None}, environ={})
    )


def test_defaults():
    config = parse(DN_MODE)
    assert config.user_dn_format == DN_MODE["auth.ldap.user_dn_format"]
    assert (config.base_dn, config.user_search_filter, config.service_dn) == (None, None, None)
    assert config.cache_time == 600 and config.timeout == 5
    assert config.group_search_filter == DEFAULT_GROUP_FILTER and config.group_base_dn is None
    assert not (config.ignore_cert or config.ignore_referrals or config.ignore_multiple_results)
    assert config.fallback == "none" and config.admin_value == frozenset()


def test_every_key():
    config = parse(
        SEARCH_MODE,
        service_dn="cn=reader,dc=example,dc=org",
        service_password="pw",
        service_username="pypi-service",
        admin_field="memberOf",
        admin_value="cn=PyPI Admins,ou=groups,dc=example,dc=org\n  cn=root,dc=example,dc=org",
        admin_group_dn="cn=admins,ou=groups,dc=example,dc=org",
        group_base_dn="ou=groups,dc=example,dc=org",
        group_search_filter="(member={dn})",
        cache_time="30",
        timeout="2",
        ignore_cert="true",
        ignore_referrals="yes",
        ignore_multiple_results="on",
        fallback="config",
    )
    assert config.base_dn == "ou=people,dc=example,dc=org"
    assert config.user_search_filter == SEARCH_MODE["auth.ldap.user_search_filter"]
    assert (config.service_dn, config.service_password) == ("cn=reader,dc=example,dc=org", "pw")
    assert config.service_username == "pypi-service"
    # One admin value a line: DNs hold commas and spaces.
    assert config.admin_value == {
        "cn=PyPI Admins,ou=groups,dc=example,dc=org",
        "cn=root,dc=example,dc=org",
    }
    assert config.admin_group_dn == "cn=admins,ou=groups,dc=example,dc=org"
    assert (config.group_base_dn, config.group_search_filter) == (
        "ou=groups,dc=example,dc=org",
        "(member={dn})",
    )
    assert (config.cache_time, config.timeout) == (30, 2)
    assert config.ignore_cert and config.ignore_referrals and config.ignore_multiple_results
    assert config.fallback == "config"


@pytest.mark.parametrize(
    ("raw", "changes", "key"),
    [
        (DN_MODE, {"url": None}, "auth.ldap.url"),
        (DN_MODE, {"url": "http://ldap.invalid"}, "auth.ldap.url"),
        (DN_MODE, {"user_dn_format": None}, "auth.ldap.user_dn_format"),
        (DN_MODE, {"user_dn_format": "uid=bob,dc=org"}, "auth.ldap.user_dn_format"),
        (DN_MODE, {"user_dn_format": "uid={user},dc=org"}, "auth.ldap.user_dn_format"),
        (DN_MODE, {"user_dn_format": "uid={username,dc=org"}, "auth.ldap.user_dn_format"),
        (DN_MODE, {"base_dn": "dc=org"}, "auth.ldap.base_dn"),
        (DN_MODE, {"user_search_filter": "(uid={username})"}, "auth.ldap.user_search_filter"),
        (SEARCH_MODE, {"base_dn": None}, "auth.ldap.base_dn"),
        (SEARCH_MODE, {"user_search_filter": None}, "auth.ldap.user_search_filter"),
        (SEARCH_MODE, {"user_search_filter": "uid={username}"}, "auth.ldap.user_search_filter"),
        (SEARCH_MODE, {"user_search_filter": "(uid={username}"}, "auth.ldap.user_search_filter"),
        (SEARCH_MODE, {"user_search_filter": "(uid=bob)"}, "auth.ldap.user_search_filter"),
        (DN_MODE, {"service_password": "pw"}, "auth.ldap.service_password"),
        (DN_MODE, {"service_username": "svc"}, "auth.ldap.service_username"),
        (DN_MODE, {"admin_field": "title"}, "auth.ldap.admin_value"),
        (DN_MODE, {"admin_value": "boss"}, "auth.ldap.admin_field"),
        (DN_MODE, {"group_search_filter": "(member={dn})"}, "auth.ldap.group_base_dn"),
        (
            DN_MODE,
            {"group_base_dn": "dc=org", "group_search_filter": "(member={user})"},
            "auth.ldap.group_search_filter",
        ),
        (
            DN_MODE,
            {"group_base_dn": "dc=org", "group_search_filter": "member={dn}"},
            "auth.ldap.group_search_filter",
        ),
        (DN_MODE, {"cache_time": "0"}, "auth.ldap.cache_time"),
        (DN_MODE, {"cache_time": "soon"}, "auth.ldap.cache_time"),
        (DN_MODE, {"timeout": "-1"}, "auth.ldap.timeout"),
        (DN_MODE, {"ignore_cert": "maybe"}, "auth.ldap.ignore_cert"),
        (DN_MODE, {"ignore_referrals": "2"}, "auth.ldap.ignore_referrals"),
        (DN_MODE, {"ignore_multiple_results": "x"}, "auth.ldap.ignore_multiple_results"),
        (DN_MODE, {"fallback": "sql"}, "auth.ldap.fallback"),
    ],
)
def test_bad_values_name_the_key(raw, changes, key):
    with pytest.raises(ConfigError) as error:
        parse(raw, **changes)
    assert error.value.key == key


def test_an_unknown_ldap_key_is_a_typo():
    settings = Settings({**DN_MODE, "pypi.auth": "ldap", "auth.ldap.cach_time": "5"}, environ={})
    backend_from_settings(settings)
    with pytest.raises(ConfigError, match="auth.ldap.cach_time"):
        settings.check_unused()


def test_the_original_names_all_load_the_backend():
    from pypicloud.access.ldap import LDAPAccess

    for name in (
        "ldap",
        "pypicloud.access.ldap_.LDAPAccessBackend",
        "pypicloud.access.LDAPAccessBackend",
    ):
        assert name in BACKENDS
        found = backend_from_settings(Settings({**DN_MODE, "pypi.auth": name}, environ={}))
        assert isinstance(found, LDAPAccess)  # built without contacting the server


def test_fallback_config_reads_grants_users_and_groups():
    from pypicloud.access.ldap import LDAPAccess

    raw = {
        **DN_MODE,
        "auth.ldap.fallback": "config",
        "group.devs": "bob ci",
        "package.secret.user.bob": "rw",
    }
    access = LDAPAccess.from_settings(Settings(raw, environ={}))
    assert access.grants() == {"secret": {"user:bob": "rw"}}
    assert access.config_groups == {"bob": {"devs"}, "ci": {"devs"}}


def test_config_keys_without_fallback_are_warned_about(caplog):
    from pypicloud.access.ldap import LDAPAccess

    access = LDAPAccess.from_settings(Settings({**DN_MODE, "package.x.user.bob": "r"}, environ={}))
    assert access.grants() == {}
    assert any("auth.ldap.fallback = config" in r.getMessage() for r in caplog.records)


def test_without_python_ldap_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ldap", None)  # as if python-ldap were not installed
    for module in ("pypicloud.access.ldap", "pypicloud.access.ldap_client"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(ConfigError) as error:
        backend_from_settings(Settings({**DN_MODE, "pypi.auth": "ldap"}, environ={}))
    assert error.value.key == "pypi.auth"
    assert "pip install 'pypicloud[ldap]'" in str(error.value)
