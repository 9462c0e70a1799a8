"""Talking to the LDAP server: one short-lived connection per call, under a deadline.

A python-ldap connection must not be shared by threads that bind as different users, so
each call (a user lookup, a password check, a health check) opens its own connection and
closes it. libldap's network and operation timeouts bound most waits, but not all (a
TLS handshake with a silent ``ldaps://`` server, a hung DNS lookup), so each call also
runs in a daemon thread that the caller stops waiting for after ``timeout`` seconds: a
down or stuck server costs a request at most that, never a hung worker. At most
``MAX_STUCK`` calls may be outstanding at once; past that, calls fail at once.

Everything the user typed is escaped before it reaches a DN (RFC 4514) or a filter
(RFC 4515).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from pypicloud.access.ldap_settings import LDAPSettings

try:
    import ldap
    from ldap.dn import escape_dn_chars, str2dn
    from ldap.filter import escape_filter_chars
except ImportError as exc:  # pragma: no cover - exercised by a test that hides the module
    raise ImportError(
        f"the ldap access backend needs python-ldap ({exc}): pip install 'pypicloud[ldap]'"
    ) from exc

log = logging.getLogger(__name__)
MAX_STUCK = 16
T = TypeVar("T")


class LDAPUnavailable(RuntimeError):
    """The server could not be reached, refused the service account, or did not answer."""


@dataclasses.dataclass(frozen=True)
class Lookup:
    """What the directory says of one user."""

    dn: str
    groups: frozenset[str]
    admin: bool


class Directory:
    """The three questions the access backend asks the server."""

    def __init__(self, config: LDAPSettings) -> None:
        self.config = config
        anchor = config.base_dn or _parent(config.user_dn_format or "") or "dc=invalid"
        # Binding to a DN that cannot exist costs the same round trip as a wrong password.
        self._nobody_dn = f"cn=nobody-{secrets.token_hex(8)},{anchor}"
        self._slots = threading.BoundedSemaphore(MAX_STUCK)

    def ping(self) -> None:
        """Bind as the service account (or anonymously); raise LDAPUnavailable if we cannot."""
        self._call(self._ping)

    def lookup(self, username: str) -> Lookup | None:
        """The user's DN, groups and admin flag; None for no such user."""
        return self._call(lambda: self._lookup(username))

    def check_password(self, dn: str | None, password: str) -> bool:
        """Bind as ``dn``; a None ``dn`` (an unknown user) costs the same bind, and fails."""
        if not password:  # an empty simple bind is an anonymous bind, and "succeeds"
            return False
        ok = self._call(lambda: self._check_password(dn or self._nobody_dn, password))
        return ok and dn is not None

    # -- the calls, each on its own connection ---------------------------------------

    def _ping(self) -> None:
        with self._connection() as conn:
            conn.whoami_s()

    def _check_password(self, dn: str, password: str) -> bool:
        with self._connection(bind_service=False) as conn:
            try:
                conn.simple_bind_s(dn, password)
            except (ldap.INVALID_CREDENTIALS, ldap.INVALID_DN_SYNTAX, ldap.UNWILLING_TO_PERFORM):
                return False
            return True

    def _lookup(self, username: str) -> Lookup | None:
        config = self.config
        wanted = ["memberOf", *([config.admin_field] if config.admin_field else [])]
        with self._connection() as conn:
            if config.user_dn_format:
                base = config.user_dn_format.format(username=escape_dn_chars(username))
                found = _search(conn, base, ldap.SCOPE_BASE, "(objectClass=*)", wanted)
            else:
                assert config.base_dn and config.user_search_filter
                query = config.user_search_filter.format(username=escape_filter_chars(username))
                found = _search(conn, config.base_dn, ldap.SCOPE_SUBTREE, query, wanted)
            if len(found) > 1:
                dns = [dn for dn, _ in found]
                if not config.ignore_multiple_results:
                    log.error(
                        "LDAP: %d entries match %r, refusing them all: %s", len(dns), username, dns
                    )
                    return None
                log.warning(
                    "LDAP: %d entries match %r, using the first: %s", len(dns), username, dns
                )
            if not found:
                return None
            dn, attributes = found[0]
            groups = {name for name in map(_cn_of, _values(attributes, "memberOf")) if name}
            groups |= self._group_search(conn, username, dn)
            admin = bool(
                config.admin_field
                and config.admin_value.intersection(_values(attributes, config.admin_field))
            ) or self._in_admin_group(conn, dn)
        return Lookup(dn, frozenset(groups), admin)

    def _group_search(self, conn: Any, username: str, dn: str) -> set[str]:
        config = self.config
        if not config.group_base_dn:
            return set()
        query = config.group_search_filter.format(
            dn=escape_filter_chars(dn), username=escape_filter_chars(username)
        )
        found = _search(conn, config.group_base_dn, ldap.SCOPE_SUBTREE, query, ["cn"])
        names = {
            next(iter(_values(attributes, "cn")), None) or _cn_of(group)
            for group, attributes in found
        }
        return {name for name in names if name}

    def _in_admin_group(self, conn: Any, dn: str) -> bool:
        if not self.config.admin_group_dn:
            return False
        member = escape_filter_chars(dn)
        query = f"(|(member={member})(uniqueMember={member}))"
        return bool(_search(conn, self.config.admin_group_dn, ldap.SCOPE_BASE, query, ["1.1"]))

    # -- connections and the deadline ------------------------------------------------

    def _call(self, work: Callable[[], T]) -> T:
        """Run ``work`` in a daemon thread; stop waiting for it after the timeout."""
        url, timeout = self.config.url, self.config.timeout
        if not self._slots.acquire(blocking=False):
            raise LDAPUnavailable(f"{MAX_STUCK} calls to LDAP server {url} are still waiting")
        outcome: list[Any] = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append((True, work()))
            except BaseException as exc:  # handed to the caller below
                outcome.append((False, exc))
            finally:
                self._slots.release()
                done.set()

        threading.Thread(target=run, name="ldap-call", daemon=True).start()
        if not done.wait(timeout):
            raise LDAPUnavailable(f"LDAP server {url} did not answer within {timeout}s")
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    @contextmanager
    def _connection(self, bind_service: bool = True) -> Iterator[Any]:
        config = self.config
        try:
            conn = ldap.initialize(config.url)
            conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
            conn.set_option(ldap.OPT_NETWORK_TIMEOUT, float(config.timeout))
            conn.set_option(ldap.OPT_TIMEOUT, float(config.timeout))
            conn.set_option(ldap.OPT_REFERRALS, 0 if config.ignore_referrals else 1)
            if config.ignore_cert:
                conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_NEVER)
                conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # this connection's own TLS context
            conn.timeout = config.timeout  # python-ldap's wait for synchronous results
        except ldap.LDAPError as exc:
            raise LDAPUnavailable(f"cannot connect to {config.url}: {_why(exc)}") from None
        try:
            if bind_service:
                conn.simple_bind_s(config.service_dn or "", config.service_password)
            yield conn
        except ldap.INVALID_CREDENTIALS:
            raise LDAPUnavailable(
                f"LDAP server {config.url} refused auth.ldap.service_dn's password"
            ) from None
        except ldap.LDAPError as exc:
            raise LDAPUnavailable(f"LDAP server {config.url}: {_why(exc)}") from None
        finally:
            with suppress(ldap.LDAPError):
                conn.unbind_s()


def _search(conn: Any, base: str, scope: int, query: str, attrs: list[str]) -> list:
    """Entries (DN, decoded attributes), skipping referrals; a missing base is no entry."""
    try:
        results = conn.search_ext_s(base, scope, query, attrs, timeout=conn.timeout)
    except (ldap.NO_SUCH_OBJECT, ldap.INVALID_DN_SYNTAX):
        return []
    return [
        (dn, {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in attributes.items()})
        for dn, attributes in results
        if dn is not None and isinstance(attributes, dict)
    ]


def _values(attributes: dict[str, list[str]], name: str) -> list[str]:
    """An attribute's values; attribute names are case-insensitive."""
    wanted = name.lower()
    return next((v for k, v in attributes.items() if k.lower() == wanted), [])


def _cn_of(dn: str) -> str | None:
    """The value of a DN's first RDN when it is a ``cn`` (how groups are named)."""
    try:
        rdn = str2dn(dn)[0]
    except (ldap.DECODING_ERROR, IndexError):
        return None
    return next((value for attr, value, _ in rdn if attr.lower() == "cn"), None)


def _parent(dn_format: str) -> str:
    """``ou=people,dc=x`` from ``uid={username},ou=people,dc=x``."""
    return dn_format.partition(",")[2]


def _why(exc: Exception) -> str:
    info = exc.args[0] if exc.args else {}
    if not isinstance(info, dict):
        return str(exc) or type(exc).__name__
    text = str(info.get("desc") or type(exc).__name__)
    return text + (f" ({info['info']})" if info.get("info") else "")
