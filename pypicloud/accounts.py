"""AccountService: registration, passwords, users, groups, grants and API tokens (and, for
export and import, trusted publishers).

The account and admin REST APIs, the web UI and ``ppc-import`` call this, never a backend
directly, so the rules live once: names are checked, passwords hashed with ``auth.scheme``,
the first user becomes admin when no admin exists, and every change is seen by this process
at once (and by every other within ``auth.recheck_seconds``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from packaging.utils import canonicalize_name

from pypicloud.access import Access
from pypicloud.access.base import RESERVED_GROUPS, Mode, MutableAccess, group_principal
from pypicloud.access.passwords import PasswordHasher
from pypicloud.audit import AuditLog, NullAuditLog
from pypicloud.oidc.publishers import Publisher, PublisherError
from pypicloud.oidc.service import TrustedPublishing
from pypicloud.security import Authenticator
from pypicloud.settings import ConfigError, Settings
from pypicloud.tokens import PUBLISHER_OWNER_PREFIX, ApiToken, MutableTokenStore, TokenStore

log = logging.getLogger(__name__)
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
GROUPNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+ -]{0,99}$")
MIN_PASSWORD_LENGTH = 8
MAX_TOKEN_DAYS = 3650
DEFAULT_SIGNUP_EXPIRE = 7 * 24 * 3600


class AccountError(Exception):
    """A request the account rules refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclasses.dataclass(frozen=True)
class AccountOptions:
    signing_key: bytes
    signup_expire: int = DEFAULT_SIGNUP_EXPIRE

    @classmethod
    def from_settings(cls, settings: Settings) -> AccountOptions:
        key = settings.str("auth.signing_key")
        if key is not None and len(key) < 16:
            raise ConfigError("auth.signing_key", "must be at least 16 characters")
        expire = settings.int("auth.token_expire", DEFAULT_SIGNUP_EXPIRE, minimum=60)
        return cls(
            signing_key=key.encode() if key else secrets.token_bytes(32),
            signup_expire=expire or DEFAULT_SIGNUP_EXPIRE,
        )


def check_username(username: str) -> str:
    if not USERNAME.match(username) or username == "__token__":
        raise AccountError(
            "Invalid user name: letters, digits and . _ @ + -, at most 100 characters"
        )
    return username


def check_group(group: str) -> str:
    if group in RESERVED_GROUPS:
        raise AccountError(f"{group!r} is a reserved name")
    if not GROUPNAME.match(group):
        raise AccountError("Invalid group name: letters, digits, spaces and . _ @ + -")
    return group


def check_password(password: Any) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _permissions(mode: Mode) -> list[str]:
    return ["read", "write"] if mode == "rw" else ["read"]


class AccountService:
    """The account use cases; one instance per process, shared by every thread."""

    def __init__(
        self,
        access: Access,
        authenticator: Authenticator,
        tokens: TokenStore,
        passwords: PasswordHasher,
        options: AccountOptions,
        audit: AuditLog | None = None,
        publishing: TrustedPublishing | None = None,
    ) -> None:
        self.access = access
        self.authenticator = authenticator
        self.tokens = tokens
        self.passwords = passwords
        self.options = options
        self.audit: AuditLog = audit or NullAuditLog()
        #: Trusted publishing, for its publishers in an export; None when it is off.
        self.publishing = publishing

    # -- what can change -----------------------------------------------------------------

    @property
    def mutable(self) -> MutableAccess:
        backend = self.access.backend
        if not isinstance(backend, MutableAccess):
            raise AccountError(
                f"The access backend ({type(backend).__name__}) is read-only: "
                "change users and grants where it keeps them"
            )
        return backend

    @property
    def token_store(self) -> MutableTokenStore:
        if not isinstance(self.tokens, MutableTokenStore):
            raise AccountError("API tokens need a SQL database (pypi.auth = sql, or pypi.db = sql)")
        return self.tokens

    def _changed(self) -> None:
        """This process sees its own change at once; others at their next version check."""
        self.access.watch.expire()
        self.authenticator.token_version.expire()
        self.authenticator.forget_all()

    # -- registration --------------------------------------------------------------------

    def needs_admin(self) -> bool:
        backend = self.mutable
        if any(self.access.knows(name) for name in self.access.defaults.admins):
            return False
        return not any(user.admin for user in backend.users())

    def register(self, username: str, password: Any) -> str:
        """Register a user: the first user when no admin exists becomes an approved admin;
        otherwise registration must be open and the user waits for approval.
        Returns "admin" or "pending"."""
        backend = self.mutable
        check_username(username)
        check_password(password)
        if self.needs_admin():
            self._create(username, password, admin=True, pending=False)
            log.info("registered %s as the first admin", username)
            self.audit.record("user.register", target=username, detail="first admin")
            return "admin"
        if not backend.allow_register():
            raise AccountError("Registration is closed", status=403)
        self._create(username, password, admin=False, pending=True)
        log.info("registered %s, pending approval", username)
        self.audit.record("user.register", target=username, detail="pending approval")
        return "pending"

    def _create(self, username: str, password: str, *, admin: bool, pending: bool) -> None:
        try:
            self.mutable.create_user(
                username, self.passwords.hash(password), admin=admin, pending=pending
            )
        except ValueError:
            raise AccountError(f"User {username!r} already exists", status=409) from None
        self._changed()

    def signup_token(self, username: str) -> str:
        """A signed, expiring invitation to register ``username`` (approved at once)."""
        check_username(username)
        payload = json.dumps(
            {"u": username, "e": int(time.time()) + self.options.signup_expire},
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        digest = hmac.new(self.options.signing_key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def register_with_token(self, token: Any, password: Any) -> str:
        if not isinstance(token, str) or token.count(".") != 1:
            raise AccountError("Invalid signup token", status=403)
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise AccountError("Invalid signup token", status=403)
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            username, expires = str(data["u"]), int(data["e"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise AccountError("Invalid signup token", status=403) from None
        if expires < time.time():
            raise AccountError("The signup token has expired", status=403)
        check_password(password)
        self._create(username, password, admin=False, pending=False)
        self.audit.record("user.register", target=username, detail="signup token")
        return username

    # -- passwords -----------------------------------------------------------------------

    def change_password(self, username: str, old: Any, new: Any) -> None:
        if not isinstance(old, str) or not self.access.verify_user(username, old):
            raise AccountError("The old password is wrong", status=403)
        self.set_password(username, new)

    def set_password(self, username: str, password: Any) -> None:
        check_password(password)
        try:
            self.mutable.set_password(username, self.passwords.hash(password))
        except KeyError:
            raise AccountError(f"No user {username!r}", status=404) from None
        self._changed()
        self.audit.record("user.password", target=username)

    # -- users and groups (admins) -------------------------------------------------------

    def user_data(self, username: str | None = None) -> Any:
        """The original's shapes: a list of users, or one user with their groups."""
        backend = self.mutable
        users = {u.username: u for u in backend.users()}
        if username is None:
            return [
                {
                    "username": u.username,
                    "admin": self._is_admin(u.username, u.admin),
                    "groups": sorted(u.groups),
                }
                for u in users.values()
            ]
        user = users.get(username)
        if user is None:
            raise AccountError(f"No user {username!r}", status=404)
        return {
            "username": user.username,
            "admin": self._is_admin(user.username, user.admin),
            "groups": sorted(user.groups),
        }

    def _is_admin(self, username: str, flag: bool) -> bool:
        return flag or username in self.access.defaults.admins

    def create_user(self, username: str, password: Any) -> None:
        """An admin's new user is approved at once."""
        check_username(username)
        check_password(password)
        self._create(username, password, admin=False, pending=False)
        self.audit.record("user.create", target=username)

    def delete_user(self, username: str) -> None:
        try:
            self.mutable.delete_user(username)
        except KeyError:
            raise AccountError(f"No user {username!r}", status=404) from None
        if isinstance(self.tokens, MutableTokenStore):
            self.tokens.revoke_all(username)
        self._changed()
        self.audit.record("user.delete", target=username)

    def _edit(self, change: Any, *args: Any) -> None:
        try:
            change(*args)
        except KeyError as exc:
            raise AccountError(f"No such user or group: {exc.args[0]!r}", status=404) from None
        except ValueError as exc:
            raise AccountError(str(exc), status=409) from None
        self._changed()

    def approve(self, username: str) -> None:
        self._edit(self.mutable.approve_user, username)
        self.audit.record("user.approve", target=username)

    def set_admin(self, username: str, admin: Any) -> None:
        if not isinstance(admin, bool):
            raise AccountError('Expected {"admin": true|false}')
        self._edit(self.mutable.set_admin, username, admin)
        self.audit.record("user.admin", target=username, detail="admin" if admin else "not admin")

    def set_member(self, username: str, group: str, member: bool) -> None:
        backend = self.mutable
        self._edit(backend.add_member if member else backend.remove_member, group, username)
        action = "group.add_member" if member else "group.remove_member"
        self.audit.record(action, target=username, detail=f"group {group}")

    def groups(self) -> list[str]:
        return sorted(self.mutable.groups())

    def group_data(self, group: str) -> dict[str, Any]:
        members = self.mutable.groups().get(group)
        if members is None:
            raise AccountError(f"No group {group!r}", status=404)
        principal = group_principal(group)
        return {
            "members": sorted(members),
            "packages": [
                {"package": project, "permissions": _permissions(by[principal])}
                for project, by in sorted(self.access.backend.grants().items())
                if principal in by
            ],
        }

    def create_group(self, group: str) -> None:
        self._edit(self.mutable.create_group, check_group(group))
        self.audit.record("group.create", target=group)

    def delete_group(self, group: str) -> None:
        self._edit(self.mutable.delete_group, group)
        self.audit.record("group.delete", target=group)

    def pending_users(self) -> list[str]:
        return self.mutable.pending_users()

    def allow_register(self) -> bool:
        return self.mutable.allow_register()

    def set_allow_register(self, allow: Any) -> None:
        if not isinstance(allow, bool):
            raise AccountError('Expected {"allow": true|false}')
        self._edit(self.mutable.set_allow_register, allow)
        self.audit.record("registration.open" if allow else "registration.close")

    # -- grants (admins) -----------------------------------------------------------------

    def user_permissions(self, username: str) -> list[dict[str, Any]]:
        principal = f"user:{username}"
        return [
            {"package": project, "permissions": _permissions(by[principal])}
            for project, by in sorted(self.access.backend.grants().items())
            if principal in by
        ]

    def package_permissions(self, project: str) -> dict[str, list[dict[str, Any]]]:
        grants = self.access.backend.grants().get(canonicalize_name(project), {})
        result: dict[str, list[dict[str, Any]]] = {"user": [], "group": []}
        for principal, mode in sorted(grants.items()):
            kind, _, name = principal.partition(":")
            if kind == "user":
                result["user"].append({"username": name, "permissions": _permissions(mode)})
            else:
                group = name if kind == "group" else principal
                result["group"].append({"group": group, "permissions": _permissions(mode)})
        return result

    def edit_permission(
        self, project: str, kind: str, name: str, permission: str, grant: bool
    ) -> None:
        """The original's read/write switches mapped onto r / rw grants: granting write
        grants read too; revoking read revokes write too."""
        if kind not in ("user", "group") or permission not in ("read", "write"):
            raise AccountError("Expected /admin/package/<p>/(user|group)/<name>/(read|write)")
        principal = f"user:{name}" if kind == "user" else group_principal(name)
        project = canonicalize_name(project)
        current = self.access.backend.grants().get(project, {}).get(principal)
        mode: Mode | None
        if grant:
            mode = "rw" if permission == "write" or current == "rw" else "r"
        elif permission == "write":
            mode = "r" if current else None
        else:
            mode = None
        self._edit(self.mutable.set_grant, project, principal, mode)
        self.audit.record(
            "permission.grant" if grant else "permission.revoke",
            project=project,
            target=principal,
            detail=f"{permission}: now {mode or 'none'}",
        )

    # -- export and import ---------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything, in the original's ``/admin/acl.json.gz`` layout, plus ``tokens``:
        each API token with its sha256 digest (there is no secret to include), and
        ``publishers``: the trusted publishers (none when trusted publishing is off)."""
        backend = self.mutable
        hashes = getattr(backend, "password_hash", None)
        packages: dict[str, dict[str, dict[str, list[str]]]] = {"users": {}, "groups": {}}
        for project, by in backend.grants().items():
            for principal, mode in by.items():
                kind, _, name = principal.partition(":")
                if kind == "user":
                    packages["users"].setdefault(project, {})[name] = _permissions(mode)
                else:
                    group = name if kind == "group" else principal
                    packages["groups"].setdefault(project, {})[group] = _permissions(mode)
        users = [
            {
                "username": user.username,
                "admin": user.admin,
                "password": hashes(user.username) if hashes else None,
            }
            for user in backend.users()
        ]
        return {
            "allow_register": backend.allow_register(),
            "users": users,
            "groups": {name: sorted(members) for name, members in backend.groups().items()},
            "packages": packages,
            "pending_users": [
                {"username": name, "password": hashes(name) if hashes else None}
                for name in backend.pending_users()
            ],
            "tokens": [
                {**token_json(token), "digest": digest}
                for token, digest in (
                    self.tokens.hashed() if isinstance(self.tokens, MutableTokenStore) else []
                )
            ],
            "publishers": self.publishing.dump() if self.publishing else [],
        }

    def load(self, data: Any, warn: Callable[[str], None] = log.warning) -> Counter[str]:
        """Import a ``dump()`` (or the original's acl.json); see ``pypicloud.acl.load``.
        Tokens are restored by id (one already here is left alone); a token whose owner
        is no user here is skipped, and ``warn`` told. Publishers are restored by id (one
        already here is corrected to the file's); they are checked before anything is
        written, and a file with publishers is refused whole where trusted publishing is
        off, rather than imported without them."""
        from pypicloud import acl

        restore = acl.tokens(data)
        publishers = self._publishers_in(data)
        try:
            done = acl.load(self.mutable, data)
            if restore and not isinstance(self.tokens, MutableTokenStore):
                warn(f"{len(restore)} tokens skipped: no token store here (a SQL database)")
                done["tokens skipped (no token store)"] += len(restore)
            elif restore:
                store = self.token_store
                users = {user.username for user in self.mutable.users()}
                for token, digest in restore:
                    if token.username not in users:
                        warn(f"token {token.token_id} skipped: no user {token.username!r} here")
                        done["tokens skipped (no such user)"] += 1
                    elif store.restore(token, digest):
                        done["tokens restored"] += 1
            if publishers and self.publishing:
                done.update(self.publishing.restore(publishers))
            summary = ", ".join(f"{count} {what}" for what, count in sorted(done.items()))
            self.audit.record("acl.import", detail=summary[:2000] or "nothing")
            return done
        finally:
            self._changed()

    def _publishers_in(self, data: dict[str, Any]) -> list[Publisher]:
        from pypicloud import acl

        entries = acl.publisher_entries(data)
        if not entries:
            return []
        if self.publishing is None:
            raise AccountError(
                f"the file has {len(entries)} trusted publishers, but trusted publishing is "
                "off here (set pypi.trusted_publishing = true to import them): nothing imported"
            )
        try:
            return self.publishing.parse(entries)
        except PublisherError as exc:
            raise acl.AclError(str(exc)) from None

    # -- API tokens ----------------------------------------------------------------------

    def create_token(
        self,
        username: str,
        *,
        projects: Any = None,
        scope: Any = "read",
        expires_in_days: Any = None,
        description: Any = "",
    ) -> tuple[str, ApiToken]:
        if scope not in ("read", "upload"):
            raise AccountError('scope must be "read" or "upload"')
        if username.startswith(PUBLISHER_OWNER_PREFIX):
            # Such a token would pass for one minted by trusted publishing.
            raise AccountError("This account cannot have API tokens", status=403)
        if projects is not None and (
            not isinstance(projects, list) or not all(isinstance(p, str) for p in projects)
        ):
            raise AccountError("projects must be a list of project names (or absent)")
        if not isinstance(description, str) or len(description) > 200:
            raise AccountError("description must be text of at most 200 characters")
        expires = None
        if expires_in_days is not None:
            if not isinstance(expires_in_days, int) or not 0 < expires_in_days <= MAX_TOKEN_DAYS:
                raise AccountError(f"expires_in_days must be 1 to {MAX_TOKEN_DAYS}")
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_in_days)
        secret, token = self.token_store.create(
            username,
            projects=projects,
            upload=scope == "upload",
            expires=expires,
            description=description,
        )
        log.info("token %s issued to %s", token.token_id, username)
        self.audit.record(
            "token.create",
            target=token.token_id,
            detail=f"of {username}, scope {'upload' if token.upload else 'read'}",
        )
        return secret, token

    def tokens_of(self, username: str | None) -> list[ApiToken]:
        return self.token_store.list(username)

    def revoke_token(self, token_id: str, by: str, admin: bool) -> None:
        """A user revokes their own tokens; an admin revokes anyone's."""
        store = self.token_store
        token = store.get(token_id)
        if token is None or (token.username != by and not admin):
            raise AccountError("No such token", status=404)
        store.revoke(token_id)
        self._changed()
        log.info("token %s of %s revoked by %s", token_id, token.username, by)
        self.audit.record("token.revoke", target=token_id, detail=f"of {token.username}")


def token_json(token: ApiToken) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": token.token_id,
        "username": token.username,
        "projects": sorted(token.projects) if token.projects is not None else None,
        "scope": "upload" if token.upload else "read",
        "description": token.description,
        "created": iso(token.created),
        "expires": iso(token.expires),
        "last_used": iso(token.last_used),
    }


def tokens_from(backend: object, cache: object) -> TokenStore | None:
    """The token store beside the access database, else beside the package database."""
    from pypicloud.access.sql_tokens import SQLTokenStore

    for holder in (backend, cache):
        engine = getattr(holder, "engine", None)
        if engine is not None:
            return SQLTokenStore(engine)
    return None
