"""What access backends supply: facts about users, groups and grants, never decisions.

Every backend (config, sql, ldap, ...) answers the same few questions; one evaluator
(``pypicloud.access.evaluator.Access``) turns the answers into read/write/admin decisions,
so every backend has the same semantics. Writable backends also implement
``MutableAccess``, which the admin API, the web UI and ``ppc-import`` call.

Grants map a normalized project name to ``{principal: "r" | "rw"}``; principals are
``user:<name>``, ``group:<name>``, ``everyone`` and ``authenticated``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Literal, Protocol, runtime_checkable

from pypicloud.settings import Settings

EVERYONE = "everyone"
AUTHENTICATED = "authenticated"
ADMIN = "admin"  # the principal every admin holds
RESERVED_GROUPS = frozenset({EVERYONE, AUTHENTICATED})

Mode = Literal["r", "rw"]
Grants = Mapping[str, Mapping[str, Mode]]


def group_principal(group: str) -> str:
    return group if group in RESERVED_GROUPS else f"group:{group}"


def user_principal(username: str) -> str:
    return f"user:{username}"


@dataclasses.dataclass(frozen=True)
class UserFacts:
    """What a backend knows of one user: their groups and whether it made them admin."""

    username: str
    groups: frozenset[str] = frozenset()
    admin: bool = False


@runtime_checkable
class AccessBackend(Protocol):
    """The data every access backend supplies. Implementations must be thread-safe."""

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessBackend: ...

    def verify_user(self, username: str, password: str) -> bool:
        """Check a password (slow by design: the security policy remembers successes).

        An unknown user must cost as much as a wrong password, so timing reveals nothing.
        """
        ...

    def user(self, username: str) -> UserFacts | None:
        """The user's groups and admin flag; None for a user the backend does not know."""
        ...

    def grants(self) -> Grants:
        """Every explicit per-project grant, by normalized project name."""
        ...

    def version(self) -> int:
        """A number that changes whenever a user, password, group, grant or token changes.

        It lives where every server process sees it (the backend's shared database), so a
        change made through one process reaches the others' caches within the security
        policy's re-check interval. Read-only backends return a constant.
        """
        ...

    def check_health(self) -> tuple[bool, str]: ...


@runtime_checkable
class MutableAccess(AccessBackend, Protocol):
    """A backend whose users, groups and grants can change while the server runs.

    Passwords arrive hashed (``pypicloud.access.passwords.PasswordHasher``, which honours
    ``auth.scheme`` / ``auth.rounds``), so no backend handles a plain password it stores.
    Every change bumps ``version()``. A method given a user or group that does not exist
    raises ``KeyError``; creating one that exists raises ``ValueError``.
    """

    def create_user(
        self, username: str, password_hash: str, *, admin: bool = False, pending: bool = False
    ) -> None:
        """Add a user (``pending`` until an admin approves them)."""
        ...

    def delete_user(self, username: str) -> None:
        """Remove the user, their memberships and their grants."""
        ...

    def set_password(self, username: str, password_hash: str) -> None: ...

    def set_admin(self, username: str, admin: bool) -> None: ...

    def pending_users(self) -> list[str]: ...

    def approve_user(self, username: str) -> None: ...

    def users(self) -> list[UserFacts]:
        """Every approved user."""
        ...

    def groups(self) -> dict[str, frozenset[str]]:
        """Every group and its members."""
        ...

    def create_group(self, group: str) -> None: ...

    def delete_group(self, group: str) -> None:
        """Remove the group, its memberships and its grants."""
        ...

    def add_member(self, group: str, username: str) -> None: ...

    def remove_member(self, group: str, username: str) -> None: ...

    def set_grant(self, project: str, principal: str, mode: Mode | None) -> None:
        """Grant ``mode`` on a normalized project to ``user:<u>`` or ``group:<g>`` (or
        ``everyone`` / ``authenticated``); None revokes it."""
        ...

    def allow_register(self) -> bool: ...

    def set_allow_register(self, allow: bool) -> None: ...


def unknown_users(backend: AccessBackend, names: Iterable[str]) -> list[str]:
    """The names the backend does not know (for the start-up warning on auth.admins)."""
    return [name for name in names if backend.user(name) is None]
