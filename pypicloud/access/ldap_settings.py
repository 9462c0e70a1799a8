"""The ``auth.ldap.*`` settings, checked once at start-up (no LDAP library needed here).

Names and meanings are the original pypicloud's; ``group_base_dn``,
``group_search_filter`` and ``timeout`` are new. Every inconsistency is a ``ConfigError``
naming the key, so a typo cannot silently turn into "nobody can log in".
"""

from __future__ import annotations

import dataclasses
import string

from pypicloud.settings import ConfigError, Settings

PREFIX = "auth.ldap."
SCHEMES = ("ldap://", "ldaps://", "ldapi://")
DEFAULT_CACHE_TIME = 600
DEFAULT_TIMEOUT = 5
DEFAULT_GROUP_FILTER = "(|(member={dn})(uniqueMember={dn})(memberUid={username}))"
FALLBACKS = ("none", "config")


@dataclasses.dataclass(frozen=True)
class LDAPSettings:
    url: str
    user_dn_format: str | None = None
    base_dn: str | None = None
    user_search_filter: str | None = None
    service_dn: str | None = None
    service_password: str = ""
    service_username: str | None = None
    admin_field: str | None = None
    admin_value: frozenset[str] = frozenset()
    admin_group_dn: str | None = None
    group_base_dn: str | None = None
    group_search_filter: str = DEFAULT_GROUP_FILTER
    cache_time: int = DEFAULT_CACHE_TIME
    timeout: int = DEFAULT_TIMEOUT
    ignore_cert: bool = False
    ignore_referrals: bool = False
    ignore_multiple_results: bool = False
    fallback: str = "none"

    @classmethod
    def from_settings(cls, settings: Settings) -> LDAPSettings:
        def text(name: str, required: bool = False) -> str | None:
            return settings.str(PREFIX + name, required=required)

        url = text("url", required=True)
        assert url is not None
        for part in url.split():
            if not part.lower().startswith(SCHEMES):
                raise ConfigError(
                    PREFIX + "url", f"expected ldap://, ldaps:// or ldapi://: {part!r}"
                )

        dn_format, base_dn, search = (
            text("user_dn_format"),
            text("base_dn"),
            text("user_search_filter"),
        )
        if dn_format:
            if base_dn or search:
                clash = "base_dn" if base_dn else "user_search_filter"
                raise ConfigError(
                    PREFIX + clash, "cannot be combined with auth.ldap.user_dn_format"
                )
            _check_template(PREFIX + "user_dn_format", dn_format, {"username"}, required="username")
        elif base_dn and search:
            _check_template(PREFIX + "user_search_filter", search, {"username"}, "username")
            _check_filter(PREFIX + "user_search_filter", search)
        else:
            missing = "user_search_filter" if base_dn else "base_dn" if search else "user_dn_format"
            raise ConfigError(
                PREFIX + missing,
                "is required: set auth.ldap.user_dn_format, "
                "or both auth.ldap.base_dn and auth.ldap.user_search_filter",
            )

        service_dn = text("service_dn")
        service_password = settings.get(PREFIX + "service_password") or ""
        if service_password and not service_dn:
            raise ConfigError(PREFIX + "service_password", "needs auth.ldap.service_dn")
        service_username = text("service_username")
        if service_username and not service_dn:
            raise ConfigError(PREFIX + "service_username", "needs auth.ldap.service_dn")

        admin_field = text("admin_field")
        admin_value = frozenset(_lines(settings.get(PREFIX + "admin_value")))
        if admin_field and not admin_value:
            raise ConfigError(PREFIX + "admin_value", "is required with auth.ldap.admin_field")
        if admin_value and not admin_field:
            raise ConfigError(PREFIX + "admin_field", "is required with auth.ldap.admin_value")

        group_base_dn = text("group_base_dn")
        group_filter = text("group_search_filter")
        if group_filter and not group_base_dn:
            raise ConfigError(PREFIX + "group_base_dn", "is required with group_search_filter")
        if group_filter:
            _check_template(PREFIX + "group_search_filter", group_filter, {"username", "dn"})
            _check_filter(PREFIX + "group_search_filter", group_filter)

        return cls(
            url=url,
            user_dn_format=dn_format,
            base_dn=None if dn_format else base_dn,
            user_search_filter=None if dn_format else search,
            service_dn=service_dn,
            service_password=str(service_password),
            service_username=service_username,
            admin_field=admin_field,
            admin_value=admin_value,
            admin_group_dn=text("admin_group_dn"),
            group_base_dn=group_base_dn,
            group_search_filter=group_filter or DEFAULT_GROUP_FILTER,
            cache_time=_int(settings, "cache_time", DEFAULT_CACHE_TIME),
            timeout=_int(settings, "timeout", DEFAULT_TIMEOUT),
            ignore_cert=settings.bool(PREFIX + "ignore_cert"),
            ignore_referrals=settings.bool(PREFIX + "ignore_referrals"),
            ignore_multiple_results=settings.bool(PREFIX + "ignore_multiple_results"),
            fallback=settings.choice(PREFIX + "fallback", FALLBACKS, "none"),
        )


def _int(settings: Settings, name: str, default: int) -> int:
    value = settings.int(PREFIX + name, default, minimum=1)
    assert value is not None
    return value


def _lines(value: object) -> list[str]:
    """One value per line: admin values may hold spaces and commas (DNs, full names)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [line.strip() for line in str(value).splitlines() if line.strip()]


def _check_template(key: str, template: str, allowed: set[str], required: str | None = None):
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(key, f"is not a valid template: {exc}") from None
    unknown = fields - allowed
    if unknown:
        names = ", ".join("{" + n + "}" for n in sorted(allowed))
        raise ConfigError(key, f"unknown placeholder {{{sorted(unknown)[0]}}}; use {names}")
    if required and required not in fields:
        raise ConfigError(key, f"must contain {{{required}}}")


def _check_filter(key: str, template: str) -> None:
    """A cheap sanity check: a filter is parenthesized and its parentheses balance."""
    depth = 0
    for char in template:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if not (template.startswith("(") and template.endswith(")")) or depth != 0:
        raise ConfigError(key, f"is not an LDAP filter such as (uid={{username}}): {template!r}")
