"""The original pypicloud's JSON layout of users, groups and grants, read and edited.

A secret (or file) that the original wrote keeps working, and what we write it can read::

    {
      "users": {"alice": "<hash>"},            approved users and their password hashes
      "pending_users": {"eve": "<hash>"},      registered, waiting for an admin
      "admins": ["alice"],
      "groups": {"devs": ["bob"]},
      "packages": {"secret": {"users": {"bob": ["read", "write"]},
                              "groups": {"everyone": ["read"]}}},
      "allow_registration": false
    }

Package keys are read normalized (the original did not always normalize them); a grant we
write lands under the normalized name, merging any spelling of it. Functions here are pure:
the storage around them (a Secrets Manager secret) decides how a change is written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from packaging.utils import canonicalize_name

from pypicloud.access.base import (
    RESERVED_GROUPS,
    Grants,
    Mode,
    UserFacts,
    group_principal,
    user_principal,
)

Document = dict[str, Any]
PERMISSIONS: dict[Mode, list[str]] = {"r": ["read"], "rw": ["read", "write"]}


def normalized(raw: Any) -> Document:
    """A document with every section present and of the right type (``{}`` for none)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError("the access document is not a JSON object")
    doc: Document = dict(raw)
    for key in ("users", "pending_users", "groups", "packages"):
        section = doc.get(key) or {}
        if not isinstance(section, dict):
            raise ValueError(f"{key!r} is not a JSON object")
        doc[key] = dict(section)
    doc["groups"] = {g: list(members or []) for g, members in doc["groups"].items()}
    doc["admins"] = list(doc.get("admins") or [])
    doc["allow_registration"] = bool(doc.get("allow_registration", False))
    return doc


def _mode(permissions: Any) -> Mode | None:
    permissions = permissions or []
    if "write" in permissions:
        return "rw"  # the original allowed write without read; uploading implies seeing
    return "r" if "read" in permissions else None


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The facts of one version of the document, computed once for fast lookups."""

    passwords: dict[str, str]
    pending: dict[str, str]
    facts: dict[str, UserFacts]
    members: dict[str, frozenset[str]]
    grants: Grants
    allow_register: bool

    @classmethod
    def of(cls, doc: Document) -> Snapshot:
        doc = normalized(doc)
        passwords = {str(u): str(h) for u, h in doc["users"].items()}
        members = {str(g): frozenset(map(str, m)) for g, m in doc["groups"].items()}
        admins = set(doc["admins"])
        facts = {
            name: UserFacts(
                name,
                frozenset(g for g, m in members.items() if name in m),
                name in admins,
            )
            for name in passwords
        }
        grants: dict[str, dict[str, Mode]] = {}
        for project, by_kind in doc["packages"].items():
            by_kind = by_kind or {}
            for kind, principal in (("users", user_principal), ("groups", group_principal)):
                for name, permissions in (by_kind.get(kind) or {}).items():
                    mode = _mode(permissions)
                    if mode is None:
                        continue
                    by_principal = grants.setdefault(canonicalize_name(project), {})
                    if by_principal.get(principal(name)) != "rw":
                        by_principal[principal(name)] = mode
        return cls(
            passwords=passwords,
            pending={str(u): str(h) for u, h in doc["pending_users"].items()},
            facts=facts,
            members=members,
            grants=grants,
            allow_register=doc["allow_registration"],
        )


# -- edits: each changes a normalized document in place, or raises before changing it ---


def _known(doc: Document, username: str) -> None:
    if username not in doc["users"] and username not in doc["pending_users"]:
        raise KeyError(username)


def _group(doc: Document, group: str) -> list[str]:
    if group not in doc["groups"]:
        raise KeyError(group)
    members: list[str] = doc["groups"][group]
    return members


def create_user(
    doc: Document, username: str, password_hash: str, admin: bool, pending: bool
) -> None:
    if username in doc["users"] or username in doc["pending_users"]:
        raise ValueError(f"user {username!r} exists")
    doc["pending_users" if pending else "users"][username] = password_hash
    if admin and username not in doc["admins"]:
        doc["admins"].append(username)


def delete_user(doc: Document, username: str) -> None:
    _known(doc, username)
    doc["users"].pop(username, None)
    doc["pending_users"].pop(username, None)
    doc["admins"] = [name for name in doc["admins"] if name != username]
    for group, members in doc["groups"].items():
        doc["groups"][group] = [name for name in members if name != username]
    for by_kind in doc["packages"].values():
        (by_kind.get("users") or {}).pop(username, None)
    _drop_empty_packages(doc)


def set_password(doc: Document, username: str, password_hash: str) -> None:
    _known(doc, username)
    doc["users" if username in doc["users"] else "pending_users"][username] = password_hash


def set_admin(doc: Document, username: str, admin: bool) -> None:
    _known(doc, username)
    doc["admins"] = [name for name in doc["admins"] if name != username]
    if admin:
        doc["admins"].append(username)


def approve_user(doc: Document, username: str) -> None:
    if username not in doc["pending_users"]:
        raise KeyError(username)
    doc["users"][username] = doc["pending_users"].pop(username)


def create_group(doc: Document, group: str) -> None:
    if group in RESERVED_GROUPS:
        raise ValueError(f"{group!r} is a reserved group")
    if group in doc["groups"]:
        raise ValueError(f"group {group!r} exists")
    doc["groups"][group] = []


def delete_group(doc: Document, group: str) -> None:
    _group(doc, group)
    del doc["groups"][group]
    for by_kind in doc["packages"].values():
        (by_kind.get("groups") or {}).pop(group, None)
    _drop_empty_packages(doc)


def add_member(doc: Document, group: str, username: str) -> None:
    members = _group(doc, group)
    _known(doc, username)
    if username not in members:
        members.append(username)


def remove_member(doc: Document, group: str, username: str) -> None:
    members = _group(doc, group)
    _known(doc, username)
    doc["groups"][group] = [name for name in members if name != username]


def set_grant(doc: Document, project: str, principal: str, mode: Mode | None) -> None:
    kind, name = _split_principal(principal)
    if kind == "users":
        _known(doc, name)
    elif name not in RESERVED_GROUPS:
        _group(doc, name)
    if mode is not None and mode not in PERMISSIONS:
        raise ValueError(f"expected r or rw, got {mode!r}")
    project = canonicalize_name(project)
    merged: dict[str, dict[str, list[str]]] = {"users": {}, "groups": {}}
    for key in [k for k in doc["packages"] if canonicalize_name(k) == project]:
        by_kind = doc["packages"].pop(key) or {}
        for section in merged:
            merged[section].update(by_kind.get(section) or {})
    if mode is None:
        merged[kind].pop(name, None)
    else:
        merged[kind][name] = list(PERMISSIONS[mode])
    doc["packages"][project] = merged
    _drop_empty_packages(doc)


def _split_principal(principal: str) -> tuple[str, str]:
    if principal in RESERVED_GROUPS:
        return "groups", principal
    kind, _, name = principal.partition(":")
    if kind in ("user", "group") and name:
        return f"{kind}s", name
    raise ValueError(
        f"expected user:<name>, group:<name>, everyone or authenticated: {principal!r}"
    )


def _drop_empty_packages(doc: Document) -> None:
    doc["packages"] = {
        project: by_kind
        for project, by_kind in doc["packages"].items()
        if any((by_kind or {}).get(section) for section in ("users", "groups"))
    }


def set_allow_register(doc: Document, allow: bool) -> None:
    doc["allow_registration"] = bool(allow)
