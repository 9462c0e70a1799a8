"""API tokens: what a token allows, and the interface of the stores that keep them.

A client sends a token as the password with ``__token__`` as the user name (what twine, uv
and pip already do for PyPI). Stores keep only a hash of each token: a token is long and
random, so a fast hash (sha256) is enough, and verifying one costs microseconds. The stores
themselves (in the package database or the sql access database) come with the
access-control work; ``NoTokens`` refuses every token until one is configured.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

TOKEN_USERNAME = "__token__"
SECRET_PREFIX = "ppc_"
#: The owner of a token minted by trusted publishing: no user can have a ':' in their name.
PUBLISHER_OWNER_PREFIX = "oidc:"


@dataclasses.dataclass(frozen=True)
class ApiToken:
    """One token's owner and limits. ``projects`` None means every project the owner has."""

    token_id: str
    username: str
    projects: frozenset[str] | None = None  # normalized names
    upload: bool = False  # read only unless true
    expires: dt.datetime | None = None
    description: str = ""
    created: dt.datetime | None = None
    last_used: dt.datetime | None = None

    @property
    def publisher(self) -> bool:
        """Minted by trusted publishing: upload to its projects, nothing else."""
        return self.username.startswith(PUBLISHER_OWNER_PREFIX) and self.projects is not None

    @property
    def unrestricted(self) -> bool:
        """Whether the token may do all its owner may (admin actions included)."""
        return self.projects is None and self.upload

    def covers(self, project: str) -> bool:
        return self.projects is None or project in self.projects

    def expired(self, now: dt.datetime | None = None) -> bool:
        if self.expires is None:
            return False
        return (now or dt.datetime.now(dt.UTC)) >= self.expires


def token_digest(secret: str) -> str:
    """What a store keeps of a token (and looks it up by)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A token's secret: 256 random bits, recognisable by its prefix (secret scanners)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def new_token_id() -> str:
    return secrets.token_hex(8)


@runtime_checkable
class TokenStore(Protocol):
    def verify_token(self, secret: str) -> ApiToken | None:
        """The token with this secret, if it exists and is not revoked (expiry is checked
        by the caller on every use, so a remembered token still expires on time)."""
        ...

    def version(self) -> int:
        """Changes whenever a token is created or revoked (see AccessBackend.version)."""
        ...


@runtime_checkable
class MutableTokenStore(TokenStore, Protocol):
    """A store that can issue and revoke tokens (the REST API and the web UI call it)."""

    def create(
        self,
        username: str,
        *,
        projects: Iterable[str] | None = None,
        upload: bool = False,
        expires: dt.datetime | None = None,
        description: str = "",
    ) -> tuple[str, ApiToken]:
        """Issue a token; the secret is returned once and never stored."""
        ...

    def list(self, username: str | None = None) -> list[ApiToken]:
        """Tokens of one user, or of everyone (admins)."""
        ...

    def get(self, token_id: str) -> ApiToken | None: ...

    def revoke(self, token_id: str) -> bool:
        """Remove a token; False when there was none with that id."""
        ...

    def revoke_all(self, username: str) -> int:
        """Remove every token of a user (deleted users keep none)."""
        ...

    def hashed(self) -> builtins.list[tuple[ApiToken, str]]:
        """Every token with its digest (what ``ppc-export`` carries: there is no secret)."""
        ...

    def restore(self, token: ApiToken, digest: str) -> bool:
        """Insert an exported token as it was, so its secret keeps working; False, and
        nothing changes, when a token with its id (or digest) is already here."""
        ...


class NoTokens:
    """No token store configured: every token is refused."""

    def verify_token(self, secret: str) -> ApiToken | None:
        token_digest(secret)  # same cost as a lookup
        return None

    def version(self) -> int:
        return 0
