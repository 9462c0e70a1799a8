"""The Access interface: who a user is, what groups they are in, what they may do.

Permissions follow the original pypicloud: explicit per-package user and group grants, else
``pypi.default_read`` / ``pypi.default_write`` for packages with no grant at all; admins may
do everything. The special groups ``everyone`` and ``authenticated`` work in any grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from pypicloud.settings import Settings

EVERYONE = "everyone"
AUTHENTICATED = "authenticated"
ADMIN = "admin"  # the principal every admin holds


def group_principal(group: str) -> str:
    return group if group in (EVERYONE, AUTHENTICATED) else f"group:{group}"


def user_principal(username: str) -> str:
    return f"user:{username}"


@runtime_checkable
class Access(Protocol):
    @classmethod
    def from_settings(cls, settings: Settings) -> Access: ...

    def verify_user(self, username: str, password: str) -> bool:
        """Check a password (slow by design; the security policy caches successes)."""
        ...

    def principals(self, username: str | None) -> frozenset[str]:
        """Every principal of a user (or of an anonymous request for None)."""
        ...

    def can_read(self, principals: frozenset[str], name: str) -> bool: ...

    def can_write(self, principals: frozenset[str], name: str) -> bool: ...

    def readable(self, principals: frozenset[str], names: Iterable[str]) -> set[str]:
        """The subset of ``names`` readable with ``principals``, in one batched call."""
        ...

    def anonymous_may_read_by_default(self) -> bool: ...

    def check_health(self) -> tuple[bool, str]: ...


class PermissionTable:
    """Read/write grants per package and defaults, evaluated with set operations only."""

    def __init__(
        self,
        grants: Mapping[str, Mapping[str, str]],
        default_read: Iterable[str],
        default_write: Iterable[str],
    ) -> None:
        # grants: normalized package name -> principal -> "r" or "rw"
        self.readers: dict[str, frozenset[str]] = {}
        self.writers: dict[str, frozenset[str]] = {}
        for name, by_principal in grants.items():
            self.readers[name] = frozenset(p for p, mode in by_principal.items() if "r" in mode)
            self.writers[name] = frozenset(p for p, mode in by_principal.items() if "w" in mode)
        write = frozenset(group_principal(g) for g in default_write)
        self.default_writers = write
        self.default_readers = frozenset(group_principal(g) for g in default_read) | write

    def can_read(self, principals: frozenset[str], name: str) -> bool:
        if ADMIN in principals:
            return True
        readers = self.readers.get(name, self.default_readers)
        return not readers.isdisjoint(principals)

    def can_write(self, principals: frozenset[str], name: str) -> bool:
        if ADMIN in principals:
            return True
        writers = self.writers.get(name, self.default_writers)
        return not writers.isdisjoint(principals)

    def readable(self, principals: frozenset[str], names: Iterable[str]) -> set[str]:
        if ADMIN in principals:
            return set(names)
        reads_default = not self.default_readers.isdisjoint(principals)
        result = set()
        for name in names:
            readers = self.readers.get(name)
            if readers is None:
                if reads_default:
                    result.add(name)
            elif not readers.isdisjoint(principals):
                result.add(name)
        return result
