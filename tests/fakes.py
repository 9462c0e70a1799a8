"""In-memory test doubles of the backend interfaces, for fast unit tests only.

Every backend's real tests talk to its real service; these stand in where a unit test is
about the code above the interface (the evaluator, the security policy, the service).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import BinaryIO

from pypicloud.access.base import Grants, Mode, UserFacts
from pypicloud.cache.base import ProjectSummary, summarize
from pypicloud.models import Package
from pypicloud.storage import FileExists, PackageNotStored
from pypicloud.tokens import ApiToken, token_digest
from pypicloud.versions import newest_first


class MemoryAccess:
    """A MutableAccess kept in dictionaries; its "hash" is the password (tests only)."""

    def __init__(self) -> None:
        self.passwords: dict[str, str] = {}
        self.admins: set[str] = set()
        self.pending: set[str] = set()
        self.members: dict[str, set[str]] = {}
        self.grant_table: dict[str, dict[str, Mode]] = {}
        self.register = False
        self.counter = 0
        self.verifications = 0

    @classmethod
    def from_settings(cls, settings: object) -> MemoryAccess:
        return cls()

    def _bump(self) -> None:
        self.counter += 1

    def verify_user(self, username: str, password: str) -> bool:
        self.verifications += 1
        return username not in self.pending and self.passwords.get(username) == password

    def user(self, username: str) -> UserFacts | None:
        if username not in self.passwords or username in self.pending:
            return None
        groups = frozenset(g for g, members in self.members.items() if username in members)
        return UserFacts(username, groups, username in self.admins)

    def grants(self) -> Grants:
        return {name: dict(by) for name, by in self.grant_table.items()}

    def version(self) -> int:
        return self.counter

    def check_health(self) -> tuple[bool, str]:
        return True, ""

    def create_user(
        self, username: str, password_hash: str, *, admin: bool = False, pending: bool = False
    ) -> None:
        password = password_hash
        if username in self.passwords:
            raise ValueError(username)
        self.passwords[username] = password
        if admin:
            self.admins.add(username)
        if pending:
            self.pending.add(username)
        self._bump()

    def delete_user(self, username: str) -> None:
        del self.passwords[username]
        self.admins.discard(username)
        for members in self.members.values():
            members.discard(username)
        self._bump()

    def set_password(self, username: str, password_hash: str) -> None:
        if username not in self.passwords:
            raise KeyError(username)
        self.passwords[username] = password_hash
        self._bump()

    def set_admin(self, username: str, admin: bool) -> None:
        (self.admins.add if admin else self.admins.discard)(username)
        self._bump()

    def pending_users(self) -> list[str]:
        return sorted(self.pending)

    def approve_user(self, username: str) -> None:
        self.pending.remove(username)
        self._bump()

    def users(self) -> list[UserFacts]:
        return [f for f in map(self.user, sorted(self.passwords)) if f is not None]

    def groups(self) -> dict[str, frozenset[str]]:
        return {g: frozenset(m) for g, m in self.members.items()}

    def create_group(self, group: str) -> None:
        self.members.setdefault(group, set())
        self._bump()

    def delete_group(self, group: str) -> None:
        del self.members[group]
        self._bump()

    def add_member(self, group: str, username: str) -> None:
        self.members[group].add(username)
        self._bump()

    def remove_member(self, group: str, username: str) -> None:
        self.members[group].discard(username)
        self._bump()

    def set_grant(self, project: str, principal: str, mode: Mode | None) -> None:
        by = self.grant_table.setdefault(project, {})
        if mode is None:
            by.pop(principal, None)
            if not by:
                del self.grant_table[project]
        else:
            by[principal] = mode
        self._bump()

    def allow_register(self) -> bool:
        return self.register

    def set_allow_register(self, allow: bool) -> None:
        self.register = allow
        self._bump()


class MemoryTokens:
    """A TokenStore keeping token digests, with revocation."""

    def __init__(self) -> None:
        self.tokens: dict[str, ApiToken] = {}
        self.counter = 0
        self.lookups = 0

    def add(self, secret: str, token: ApiToken) -> None:
        self.tokens[token_digest(secret)] = token
        self.counter += 1

    def revoke(self, secret: str) -> None:
        del self.tokens[token_digest(secret)]
        self.counter += 1

    def verify_token(self, secret: str) -> ApiToken | None:
        self.lookups += 1
        return self.tokens.get(token_digest(secret))

    def version(self) -> int:
        return self.counter


class MemoryStorage:
    """A Storage in a dictionary, with the exclusive-create rule."""

    redirect_urls = False

    def __init__(self, url_base: str | None = None) -> None:
        self.files: dict[str, tuple[Package, bytes]] = {}
        self.url_base = url_base
        self.lock = threading.Lock()

    def list(self, known: Mapping[str, Package] | None = None) -> Iterator[Package]:
        yield from (p for p, _ in list(self.files.values()))

    def upload(self, package: Package, data: BinaryIO, *, overwrite: bool = False) -> Package:
        body = data.read()
        stored = dataclasses.replace(
            package, data=dict(package.data), last_modified=dt.datetime.now(dt.UTC)
        )
        with self.lock:
            if package.filename in self.files and not overwrite:
                raise FileExists(package.filename)
            self.files[package.filename] = (stored, body)
        return stored

    def update_metadata(self, package: Package) -> None:
        if package.filename not in self.files:
            raise PackageNotStored(package.filename)
        self.files[package.filename] = (package, self.files[package.filename][1])

    def delete(self, package: Package) -> None:
        self.files.pop(package.filename, None)

    def open(self, package: Package) -> AbstractContextManager[BinaryIO]:
        if package.filename not in self.files:
            raise PackageNotStored(package.filename)
        return io.BytesIO(self.files[package.filename][1])

    def download_url(self, package: Package) -> str | None:
        return f"{self.url_base}/{package.filename}?sig=x" if self.url_base else None

    def check_health(self) -> tuple[bool, str]:
        return True, ""


class MemoryCache:
    """A Cache in a dictionary."""

    def __init__(self) -> None:
        self.records: dict[str, Package] = {}
        self.metadata: dict[str, bytes] = {}
        self.states: dict[str, str] = {}
        self.statuses: dict[str, str] = {}
        self.counter = 0
        self.fail_saves = False
        self.locks: dict[str, str] = {}

    def fetch(self, filename: str) -> Package | None:
        return self.records.get(filename)

    def all(self, name: str) -> list[Package]:
        return newest_first([p for p in self.records.values() if p.name == name])

    def all_packages(self) -> list[Package]:
        return list(self.records.values())

    def distinct(self) -> list[str]:
        return sorted({p.name for p in self.records.values()})

    def summary(self) -> list[ProjectSummary]:
        return summarize(self.records.values())

    def save(self, package: Package) -> None:
        if self.fail_saves:
            raise RuntimeError("database down")
        self.records[package.filename] = package
        self.counter += 1

    def delete(self, package: Package) -> None:
        self.records.pop(package.filename, None)
        self.metadata.pop(package.filename, None)
        self.counter += 1

    def reload_from_storage(self, packages: Iterable[Package], graceful: bool = False) -> int:
        self.records = {p.filename: p for p in packages}
        self.graceful = graceful
        self.counter += 1
        return len(self.records)

    def is_empty(self) -> bool:
        return not self.records

    def serial(self) -> int:
        return self.counter

    def core_metadata(self, filename: str) -> bytes | None:
        return self.metadata.get(filename)

    def save_core_metadata(self, filename: str, content: bytes) -> None:
        self.metadata[filename] = content

    def save_uploaded(self, package: Package, core_metadata: bytes) -> None:
        self.save_core_metadata(package.filename, core_metadata)
        self.save(package)

    def try_lock(self, name: str, owner: str, seconds: float) -> bool:
        holder = self.locks.setdefault(name, owner)
        return holder == owner

    def unlock(self, name: str, owner: str) -> None:
        if self.locks.get(name) == owner:
            del self.locks[name]

    def save_state(self, name: str, value: str) -> None:
        self.states[name] = value

    def state(self, name: str) -> str | None:
        return self.states.get(name)

    def project_status(self, name: str) -> str | None:
        return self.statuses.get(name)

    def project_statuses(self, names: Iterable[str]) -> dict[str, str]:
        return {name: self.statuses[name] for name in names if name in self.statuses}

    def save_project_status(self, name: str, value: str | None) -> None:
        if value is None:
            self.statuses.pop(name, None)
        else:
            self.statuses[name] = value
        self.counter += 1

    def check_health(self) -> tuple[bool, str]:
        return True, ""
