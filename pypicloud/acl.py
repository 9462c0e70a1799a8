"""Import of the original pypicloud's ``/admin/acl.json.gz`` layout into any MutableAccess.

The layout (what ``AccountService.dump`` writes and ``ppc-export`` saves)::

    {"allow_register": false,
     "users": [{"username": "alice", "password": "<hash>", "admin": true}, ...],
     "pending_users": [{"username": "eve", "password": "<hash>"}],
     "groups": {"devs": ["bob"]},
     "packages": {"users": {"secret": {"bob": ["read", "write"]}},
                  "groups": {"secret": {"devs": ["read"], "everyone": ["read"]}}},
     "tokens": [{"id": "…", "username": "bob", "digest": "<sha256>", "scope": "read",
                 "projects": null, "description": "", "created": "<iso>", ...}],
     "publishers": [{"id": "…", "project": "widget", "issuer": "https://…",
                     "audience": "pypicloud", "claims": {"repository": "o/r"},
                     "description": "", "created": "<iso>"}]}

``tokens`` and ``publishers`` are this project's additions (the original ignores unknown
keys): API tokens by digest, never a secret, restored by ``AccountService.load`` into the
token store; trusted publishers (``Publisher.as_json``), re-created by id. The used token
ids that stop a replayed OIDC token are not exported: they only matter until it expires.

``load`` only adds and corrects, never deletes, and changes only what differs, so running it
twice changes nothing the second time (and leaves the backend's change counter alone).
Existing users keep their password: an import never resets a password someone changed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

from packaging.utils import canonicalize_name

from pypicloud.access.base import Mode, MutableAccess, group_principal, user_principal
from pypicloud.tokens import ApiToken

DIGEST = re.compile(r"^[0-9a-f]{64}$")


class AclError(ValueError):
    """The document is not in the acl.json layout; the message says where."""


def _mode(permissions: Any, where: str) -> Mode | None:
    if not isinstance(permissions, list):
        raise AclError(f"{where}: expected a list of permissions")
    if "write" in permissions:
        return "rw"
    return "r" if "read" in permissions else None


def _section(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data.get(key, kind())
    if not isinstance(value, kind):
        raise AclError(f"{key!r}: expected a JSON {'object' if kind is dict else 'list'}")
    return value


def _users(data: dict[str, Any], key: str) -> list[tuple[str, str | None, bool]]:
    found = []
    for entry in _section(data, key, list):
        if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
            raise AclError(f"{key!r}: every entry needs a username")
        password = entry.get("password")
        found.append((entry["username"], password or None, bool(entry.get("admin", False))))
    return found


def _time(entry: dict[str, Any], key: str, where: str) -> dt.datetime | None:
    value = entry.get(key)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise AclError(f"{where}.{key}: expected an ISO date and time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def tokens(data: Any) -> list[tuple[ApiToken, str]]:
    """The document's API tokens with their digests (none in the original's layout)."""
    if not isinstance(data, dict):
        raise AclError("expected a JSON object")
    found = []
    for i, entry in enumerate(_section(data, "tokens", list)):
        where = f"tokens[{i}]"
        if not isinstance(entry, dict):
            raise AclError(f"{where}: expected a JSON object")
        token_id, username, digest = entry.get("id"), entry.get("username"), entry.get("digest")
        if not all(isinstance(v, str) and v for v in (token_id, username, digest)):
            raise AclError(f"{where}: needs an id, a username and a digest")
        if not DIGEST.match(str(digest)) or entry.get("scope") not in ("read", "upload"):
            raise AclError(f"{where}: needs a sha256 hex digest and a read or upload scope")
        projects = entry.get("projects")
        if projects is not None and (
            not isinstance(projects, list) or not all(isinstance(p, str) for p in projects)
        ):
            raise AclError(f"{where}.projects: expected a list of project names or null")
        token = ApiToken(
            token_id=str(token_id),
            username=str(username),
            projects=frozenset(map(canonicalize_name, projects)) if projects is not None else None,
            upload=entry["scope"] == "upload",
            expires=_time(entry, "expires", where),
            description=str(entry.get("description") or ""),
            created=_time(entry, "created", where),
            last_used=_time(entry, "last_used", where),
        )
        found.append((token, str(digest)))
    return found


def publisher_entries(data: dict[str, Any]) -> list[Any]:
    """The document's trusted publishers, unchecked (TrustedPublishing.parse checks them
    against the importing server's rules); none in the original's layout."""
    return _section(data, "publishers", list)


def load(backend: MutableAccess, data: Any) -> Counter[str]:
    """Bring the backend to the document's users, groups and grants; count each change."""
    if not isinstance(data, dict):
        raise AclError("expected a JSON object")
    done: Counter[str] = Counter()
    approved = {u.username: u for u in backend.users()}
    pending = set(backend.pending_users())

    for username, password, admin in _users(data, "users"):
        if username in pending:
            backend.approve_user(username)
            pending.discard(username)
            done["users approved"] += 1
        elif username not in approved:
            if password is None:
                done["users skipped (no password hash)"] += 1
                continue
            backend.create_user(username, password, admin=admin)
            done["users created"] += 1
            continue
        current = approved.get(username)
        if (current.admin if current else False) != admin:
            backend.set_admin(username, admin)
            done["admin flags set"] += 1

    for username, password, _ in _users(data, "pending_users"):
        if username in pending or username in approved:
            continue
        if password is None:
            done["users skipped (no password hash)"] += 1
            continue
        backend.create_user(username, password, pending=True)
        done["pending users created"] += 1

    groups = backend.groups()
    for group, members in _section(data, "groups", dict).items():
        if not isinstance(members, list):
            raise AclError(f"groups.{group}: expected a list of user names")
        if group not in groups:
            backend.create_group(group)
            done["groups created"] += 1
        for member in members:
            if member not in groups.get(group, frozenset()):
                backend.add_member(group, member)
                done["memberships added"] += 1

    grants = backend.grants()
    packages = _section(data, "packages", dict)
    for kind in ("users", "groups"):
        by_project = packages.get(kind, {})
        if not isinstance(by_project, dict):
            raise AclError(f"packages.{kind}: expected a JSON object")
        for project, by_name in by_project.items():
            if not isinstance(by_name, dict):
                raise AclError(f"packages.{kind}.{project}: expected a JSON object")
            name = canonicalize_name(project)
            for who, permissions in by_name.items():
                mode = _mode(permissions, f"packages.{kind}.{project}.{who}")
                principal = user_principal(who) if kind == "users" else group_principal(who)
                if mode is not None and grants.get(name, {}).get(principal) != mode:
                    backend.set_grant(name, principal, mode)
                    done["grants set"] += 1

    allow = data.get("allow_register")
    if isinstance(allow, bool) and allow != backend.allow_register():
        backend.set_allow_register(allow)
        done["registration switch set"] += 1
    return done


def summary(done: Counter[str]) -> str:
    if not done:
        return "nothing to change"
    return ", ".join(f"{count} {what}" for what, count in sorted(done.items()))
