"""Access from the ini file: ``user.<name>`` hashes, ``group.<name>``, ``package.<p>.*``."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import canonicalize_name

from pypicloud.access.base import (
    ADMIN,
    AUTHENTICATED,
    EVERYONE,
    PermissionTable,
    group_principal,
    user_principal,
)
from pypicloud.access.passwords import dummy_verify, is_known_hash, verify_password
from pypicloud.settings import ConfigError, Settings

MODES = {"r": "r", "read": "r", "w": "rw", "rw": "rw", "wr": "rw", "write": "rw"}


class ConfigAccess:
    """Users, groups and grants fixed at start-up. Immutable, hence thread-safe."""

    def __init__(
        self,
        users: dict[str, str],
        groups: dict[str, list[str]],
        admins: Iterable[str],
        table: PermissionTable,
    ) -> None:
        self.users = users
        self.admins = frozenset(admins)
        self.user_groups: dict[str, set[str]] = {}
        for group, members in groups.items():
            for member in members:
                self.user_groups.setdefault(member, set()).add(group)
        self.table = table
        self._anonymous = frozenset({EVERYONE})

    @classmethod
    def from_settings(cls, settings: Settings) -> ConfigAccess:
        users: dict[str, str] = {}
        for key in settings.keys_with_prefix("user."):
            username = key[len("user.") :]
            hashed = settings.str(key, required=True)
            assert hashed is not None
            if not is_known_hash(hashed):
                raise ConfigError(key, "is not a password hash (make one with ppc-gen-password)")
            users[username] = hashed
        groups = {
            key[len("group.") :]: settings.list(key) for key in settings.keys_with_prefix("group.")
        }
        grants: dict[str, dict[str, str]] = {}
        for key in settings.keys_with_prefix("package."):
            rest = key[len("package.") :]
            name, kind, who = _split_grant_key(key, rest)
            mode = MODES.get((settings.str(key) or "").lower())
            if mode is None:
                raise ConfigError(key, "expected r or rw")
            principal = user_principal(who) if kind == "user" else group_principal(who)
            grants.setdefault(canonicalize_name(name), {})[principal] = mode
        table = PermissionTable(
            grants,
            settings.list("pypi.default_read", [AUTHENTICATED]),
            settings.list("pypi.default_write", []),
        )
        return cls(users, groups, settings.list("auth.admins"), table)

    def verify_user(self, username: str, password: str) -> bool:
        hashed = self.users.get(username)
        if hashed is None:
            dummy_verify()  # same cost as a real check: timing must not reveal user names
            return False
        return verify_password(password, hashed)

    def principals(self, username: str | None) -> frozenset[str]:
        if username is None:
            return self._anonymous
        found = {EVERYONE, AUTHENTICATED, user_principal(username)}
        found.update(group_principal(g) for g in self.user_groups.get(username, ()))
        if username in self.admins:
            found.add(ADMIN)
        return frozenset(found)

    def can_read(self, principals: frozenset[str], name: str) -> bool:
        return self.table.can_read(principals, name)

    def can_write(self, principals: frozenset[str], name: str) -> bool:
        return self.table.can_write(principals, name)

    def readable(self, principals: frozenset[str], names: Iterable[str]) -> set[str]:
        return self.table.readable(principals, names)

    def anonymous_may_read_by_default(self) -> bool:
        return EVERYONE in self.table.default_readers

    def check_health(self) -> tuple[bool, str]:
        return True, ""


def _split_grant_key(key: str, rest: str) -> tuple[str, str, str]:
    """``<name>.user.<u>`` or ``<name>.group.<g>``; package names may contain dots."""
    for kind in ("user", "group"):
        marker = f".{kind}."
        if marker in rest:
            name, _, who = rest.rpartition(marker)
            if name and who:
                return name, kind, who
    raise ConfigError(key, "expected package.<name>.user.<user> or package.<name>.group.<group>")
