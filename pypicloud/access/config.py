"""Access from the ini file: ``user.<name>`` hashes, ``group.<name>``, ``package.<p>.*``."""

from __future__ import annotations

from packaging.utils import canonicalize_name

from pypicloud.access.base import Grants, Mode, UserFacts, group_principal, user_principal
from pypicloud.access.passwords import HASH_COMMAND, dummy_verify, is_known_hash, verify_password
from pypicloud.settings import ConfigError, Settings

MODES: dict[str, Mode] = {"r": "r", "read": "r", "w": "rw", "rw": "rw", "wr": "rw", "write": "rw"}


class ConfigAccess:
    """Users, groups and grants fixed at start-up. Immutable, hence thread-safe."""

    def __init__(
        self,
        users: dict[str, str],
        groups: dict[str, list[str]],
        grants: dict[str, dict[str, Mode]],
    ) -> None:
        self.passwords = users
        user_groups: dict[str, set[str]] = {}
        for group, members in groups.items():
            for member in members:
                user_groups.setdefault(member, set()).add(group)
        self.facts = {name: UserFacts(name, frozenset(user_groups.get(name, ()))) for name in users}
        self._grants = grants

    @classmethod
    def from_settings(cls, settings: Settings) -> ConfigAccess:
        users: dict[str, str] = {}
        for key in settings.keys_with_prefix("user."):
            hashed = settings.str(key, required=True)
            assert hashed is not None
            if not is_known_hash(hashed):
                raise ConfigError(key, f"is not a password hash (make one with: {HASH_COMMAND})")
            users[key[len("user.") :]] = hashed
        groups = {
            key[len("group.") :]: settings.list(key) for key in settings.keys_with_prefix("group.")
        }
        grants: dict[str, dict[str, Mode]] = {}
        for key in settings.keys_with_prefix("package."):
            name, kind, who = _split_grant_key(key, key[len("package.") :])
            mode = MODES.get((settings.str(key) or "").lower())
            if mode is None:
                raise ConfigError(key, "expected r or rw")
            principal = user_principal(who) if kind == "user" else group_principal(who)
            grants.setdefault(canonicalize_name(name), {})[principal] = mode
        return cls(users, groups, grants)

    def verify_user(self, username: str, password: str) -> bool:
        hashed = self.passwords.get(username)
        if hashed is None:
            dummy_verify()  # same cost as a real check: timing must not reveal user names
            return False
        return verify_password(password, hashed)

    def user(self, username: str) -> UserFacts | None:
        return self.facts.get(username)

    def grants(self) -> Grants:
        return self._grants

    def version(self) -> int:
        return 0

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
