"""Who is asking, and what they may do: the one Pyramid security policy.

An identity comes from HTTP Basic auth (``__token__`` as the user name means an API token),
or from a signed session cookie (the web UI). It is computed once per request. Views declare
``permission=`` and the policy answers through Access; the forbidden view (views/errors.py)
turns a refusal into 401 (anonymous, with a challenge), 404 (signed in, may not read: the
project's existence is not revealed) or 403 (signed in, may read but not this).

pip sends credentials with every request and a password hash costs milliseconds to seconds
by design, so a success is remembered for ``auth.cache_seconds`` under a keyed BLAKE2 MAC of
``user:password`` keyed with a per-process secret (never the password itself). Failures are
never remembered. What is remembered is dropped when the access backend's ``version()``
moves (a password changed, a token was revoked), which every process notices within
``auth.recheck_seconds``. A password still in use is checked again in the background in
the last quarter of its lifetime and renewed only if it still verifies, so pip's steady
requests never wait for the hash; the whole Authorization header is remembered the same
way, so a repeated one is not even decoded again.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, Literal, TypeVar

from packaging.utils import canonicalize_name
from pyramid.httpexceptions import HTTPForbidden
from pyramid.interfaces import ISecurityPolicy
from pyramid.request import Request
from pyramid.security import Allowed, Denied
from zope.interface import implementer

from pypicloud.access import Access
from pypicloud.access.base import ADMIN
from pypicloud.access.evaluator import VersionWatch
from pypicloud.audit import Actor, AuditLog, NullAuditLog
from pypicloud.throttle import LoginThrottle
from pypicloud.tokens import TOKEN_USERNAME, ApiToken, TokenStore

log = logging.getLogger(__name__)
V = TypeVar("V")
Method = Literal["basic", "token", "session"]
SESSION_USER = "userid"
PUBLISHER_PRINCIPAL = "oidc:publisher"
#: Where ``cookieless_identity`` leaves the identity it found, for Pyramid's request.
IDENTITY_KEY = "pypicloud.identity"
#: The user-name slot of the header cache's MAC (a header is not a user name).
AUTHORIZATION_KEY = "\0authorization"
#: The share of ``auth.cache_seconds`` left when a remembered password is checked again.
REFRESH_SHARE = 0.25
#: Distinct (version, principals, token scope) keys remembered by viewer_key_of.
MAX_VIEWER_KEYS = 4096

# Permissions views declare.
READ = "read"  # read the context's project
WRITE = "write"  # upload to, yank or delete in the context's project
ADMINISTER = "admin"
AUTHENTICATED = "authenticated"  # any signed-in identity
LIST = "list"  # see listings (filtered per project): anonymous only on a public index


@dataclasses.dataclass(frozen=True)
class Identity:
    """A signed-in user, how they signed in, and (for a token) what the token allows."""

    username: str
    method: Method
    principals: frozenset[str]
    token: ApiToken | None = None

    @property
    def csrf_required(self) -> bool:
        """Only a cookie is sent by a browser on its own; Basic and token requests are
        made deliberately by clients (twine, uv, scripts), which cannot be forged."""
        return self.method == "session"

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.principals and (self.token is None or self.token.unrestricted)

    @property
    def publisher(self) -> bool:
        """A trusted publisher's minted token: no user, no grant, upload only."""
        return self.token is not None and self.token.publisher


class CredentialCache(Generic[V]):
    """Recently verified secrets, as keyed digests with an expiry and what they proved.

    Entries belong to one access ``version``; a lookup at another version forgets all.
    """

    def __init__(self, ttl: float = 60.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, tuple[float, V]] = {}
        self._version: Hashable = None
        self._lock = threading.Lock()

    def key_for(self, username: str, secret: str) -> bytes:
        """What stands for the secret in memory (a keyed digest, never the secret)."""
        return self._digest(username, secret)

    def _digest(self, username: str, secret: str) -> bytes:
        message = username.encode() + b"\0" + secret.encode()
        # Keyed BLAKE2 is a MAC in one C call (hmac.new costs several Python frames).
        return hashlib.blake2b(message, key=self._key, digest_size=32).digest()

    def get(self, username: str, secret: str, version: Hashable = 0) -> V | None:
        entry = self.entry(username, secret, version)
        return None if entry is None else entry[1]

    def entry(self, username: str, secret: str, version: Hashable = 0) -> tuple[float, V] | None:
        """(seconds left, value) of a live entry, or None."""
        if self.ttl <= 0:
            return None
        if version != self._version:
            with self._lock:
                self._entries.clear()
                self._version = version
            return None
        entry = self._entries.get(self._digest(username, secret))
        if entry is None:
            return None
        left = entry[0] - time.monotonic()
        return None if left <= 0 else (left, entry[1])

    def put(self, username: str, secret: str, value: V, version: Hashable = 0) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[self._digest(username, secret)] = (now + self.ttl, value)

    def clear(self) -> None:
        """Forget everything (this process changed a password or revoked a token)."""
        with self._lock:
            self._entries.clear()


class _Flight:
    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result = False


class SingleFlight:
    """Concurrent checks of the same credentials run once; the others wait for its answer.

    pip and wrk open several connections at once with the same password: without this,
    each verified the (deliberately slow) hash before the first could fill the cache.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[bytes, _Flight] = {}

    def run(self, key: bytes, check: Callable[[], bool]) -> bool:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            return flight.result
        try:
            flight.result = check()
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.result


def basic_credentials(request: Request) -> tuple[str, str] | None:
    return basic_credentials_in(request.environ)


def basic_credentials_in(environ: dict) -> tuple[str, str] | None:
    """(user, password) from a WSGI environ's HTTP Basic Authorization header, if any."""
    return parse_basic(environ.get("HTTP_AUTHORIZATION", ""))


def parse_basic(header: str) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header's value, if it is one."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        return None
    return username, password


class Authenticator:
    """Turns credentials into an Identity, verifying each secret at most once a while."""

    def __init__(
        self,
        access: Access,
        tokens: TokenStore,
        cache: CredentialCache[str] | None = None,
        throttle: LoginThrottle | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.access = access
        self.tokens = tokens
        #: Failed logins are recorded (the attempted name and address, never the secret).
        self.audit: AuditLog = audit or NullAuditLog()
        self.throttle = throttle or LoginThrottle()
        self.token_version = VersionWatch(tokens.version, access.defaults.recheck_seconds)
        self.cache: CredentialCache[str] = cache if cache is not None else CredentialCache()
        self.token_cache: CredentialCache[ApiToken] = CredentialCache(self.cache.ttl)
        #: Whole Authorization headers already turned into an identity, under the same MAC,
        #: expiry and version rule: pip repeats one header on every request, and decoding
        #: it, finding the user's principals and building the identity cost more than the
        #: rest of a cached answer.
        self.header_cache: CredentialCache[Identity] = CredentialCache(self.cache.ttl)
        self.flights = SingleFlight()
        #: A remembered password with less than this left is checked again in the
        #: background: a client that keeps sending it never waits for the hash.
        self.refresh_within = self.cache.ttl * REFRESH_SHARE
        self._refreshing: set[bytes] = set()
        self._refresh_lock = threading.Lock()

    def version(self) -> tuple[int, int]:
        """What remembered secrets depend on: the access and token stores' versions."""
        return self.access.version(), self.token_version.current()

    def from_authorization(self, header: str, address: str | None = None) -> Identity | None:
        """The identity an ``Authorization`` header's value proves (Basic; None for any
        other scheme or for wrong credentials). A header seen before, at the same access
        and token versions and within the cache's lifetime, is not decoded again."""
        version = self.version()
        entry = self.header_cache.entry(AUTHORIZATION_KEY, header, version)
        if entry is not None:
            left, known = entry
            if known.token is None:
                if left < self.refresh_within:
                    self._refresh(header)
                return known
            if not known.token.expired():
                return known
        credentials = parse_basic(header)
        if credentials is None:
            return None
        identity = self.from_basic(credentials[0], credentials[1], address)
        if identity is not None:
            self.header_cache.put(AUTHORIZATION_KEY, header, identity, version)
        return identity

    def _refresh(self, header: str) -> None:
        """Check a remembered Basic header's password again in a thread of its own."""
        key = self.header_cache.key_for(AUTHORIZATION_KEY, header)
        with self._refresh_lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        threading.Thread(
            target=self._recheck, args=(key, header), name="pypicloud-recheck", daemon=True
        ).start()

    def _recheck(self, key: bytes, header: str) -> None:
        """Renew the remembered password and header, only if the password still verifies
        (if not, they expire as they would have and the next request is refused)."""
        try:
            credentials = parse_basic(header)
            if credentials is None or credentials[0] == TOKEN_USERNAME:
                return
            username, password = credentials
            version = self.version()
            if not self.access.verify_user(username, password):
                return
            identity = self._identity(username, "basic")
            if identity is None:
                return
            self.cache.put(username, password, username, version)
            self.header_cache.put(AUTHORIZATION_KEY, header, identity, version)
        except Exception:  # a backend that fails: the entries simply expire
            log.warning("checking a remembered password again failed", exc_info=True)
        finally:
            with self._refresh_lock:
                self._refreshing.discard(key)

    def from_basic(
        self, username: str, password: str, address: str | None = None
    ) -> Identity | None:
        if username == TOKEN_USERNAME:
            return self.from_token(password, address)
        version = self.version()
        if self.cache.get(username, password, version) is None:
            key = self.cache.key_for(username, password)
            if not self.flights.run(key, lambda: self._verify(username, password, version)):
                self.audit.record(
                    "login.failed", target=username, actor=Actor(name=username, address=address)
                )
                self.throttle.failed(username, address)
                return None
        return self._identity(username, "basic")

    def _verify(self, username: str, password: str, version: Hashable) -> bool:
        if self.cache.get(username, password, version) is not None:
            return True  # a flight that just landed filled it
        if not self.access.verify_user(username, password):
            return False
        self.cache.put(username, password, username, version)
        return True

    def from_token(self, secret: str, address: str | None = None) -> Identity | None:
        version = self.version()
        token = self.token_cache.get(TOKEN_USERNAME, secret, version)
        if token is None:
            token = self.tokens.verify_token(secret)
            if token is None:
                who = Actor(name=TOKEN_USERNAME, address=address)
                self.audit.record("login.failed", target=TOKEN_USERNAME, actor=who, detail="token")
                self.throttle.failed(TOKEN_USERNAME, address)
                return None
            self.token_cache.put(TOKEN_USERNAME, secret, token, version)
        if token.expired():
            who = Actor(name=token.username, token_id=token.token_id, address=address)
            self.audit.record(
                "login.failed", target=token.username, actor=who, detail="expired token"
            )
            return None
        return self._identity(token.username, "token", token)

    def from_session(self, username: str) -> Identity | None:
        return self._identity(username, "session")

    def _identity(
        self, username: str, method: Method, token: ApiToken | None = None
    ) -> Identity | None:
        if token is not None and token.publisher:
            # Not a user: none of a user's principals (not even "authenticated").
            return Identity(username, method, frozenset({PUBLISHER_PRINCIPAL}), token)
        principals = self.access.principals_if_known(username)
        if principals is None:  # deleted (or not yet approved) since
            return None
        return Identity(username, method, principals, token)

    def forget_all(self) -> None:
        self.cache.clear()
        self.token_cache.clear()
        self.header_cache.clear()


class ProjectContext:
    """The resource a request is about: one project (normalized), or none."""

    def __init__(self, request: Request) -> None:
        name = (request.matchdict or {}).get("name")
        self.project: str | None = canonicalize_name(name) if name else None


class PermissionDenied(Denied):
    """A refusal that remembers which permission was missing, for the forbidden view."""

    def __new__(
        cls, permission: str, identity: Identity | None, project: str | None = None
    ) -> PermissionDenied:
        inst = super().__new__(cls, "%s denied", permission)
        inst.permission = permission
        inst.identity = identity
        inst.project = project
        return inst

    permission: str
    identity: Identity | None
    project: str | None


@implementer(ISecurityPolicy)
class SecurityPolicy:
    """Pyramid's security policy over an Authenticator and Access."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self.access = authenticator.access
        #: viewer_key_of's answers: sorting the principals again for every listing
        #: request cost as much as finding the cached page.
        self._viewer_keys: dict[tuple[object, ...], tuple[object, ...]] = {}

    def identity(self, request: Request) -> Identity | None:
        cache = request.__dict__
        if "_ppc_identity" not in cache:
            environ = request.environ
            if IDENTITY_KEY in environ:  # the front door (frontdoor.py) already asked
                cache["_ppc_identity"] = environ[IDENTITY_KEY]
            else:
                cache["_ppc_identity"] = self._identify(request)
        return cache["_ppc_identity"]

    def cookieless_identity(self, environ: dict) -> Identity | None:
        """The identity of a request that carries no cookie, from its WSGI environ alone
        (the front door answers before Pyramid makes a request): Basic credentials or
        anonymous. Kept in the environ, so Pyramid does not check the password again."""
        header = environ.get("HTTP_AUTHORIZATION")
        identity = None
        if header:
            identity = self.authenticator.from_authorization(header, environ.get("REMOTE_ADDR"))
        environ[IDENTITY_KEY] = identity
        return identity

    def _identify(self, request: Request) -> Identity | None:
        header = request.environ.get("HTTP_AUTHORIZATION")
        if header and parse_basic(header) is not None:
            return self.authenticator.from_authorization(header, request.remote_addr)
        # A session only exists where a cookie came with the request (and parsing none
        # costs more than the rest of a cached answer).
        if request.environ.get("HTTP_COOKIE") and request.cookies:
            username = request.session.get(SESSION_USER)
            if isinstance(username, str):
                return self.authenticator.from_session(username)
        return None

    def authenticated_userid(self, request: Request) -> str | None:
        identity = self.identity(request)
        return identity.username if identity else None

    def permits(self, request: Request, context: object, permission: str) -> Allowed | Denied:
        identity = self.identity(request)
        project = getattr(context, "project", None)
        if self.allows(identity, permission, project):
            return Allowed("%s allowed", permission)
        return PermissionDenied(permission, identity, project)

    def require(self, request: Request, permission: str, project: str | None) -> None:
        """For a view whose project is known only from the body (the legacy upload)."""
        identity = self.identity(request)
        if not self.allows(identity, permission, project):
            raise HTTPForbidden(result=PermissionDenied(permission, identity, project))

    def allows(self, identity: Identity | None, permission: str, project: str | None) -> bool:
        if identity is not None and identity.publisher:
            return publisher_allows(identity, permission, project)
        principals = identity.principals if identity else self.access.principals(None)
        token = identity.token if identity else None
        if permission == AUTHENTICATED:
            return identity is not None
        if permission == LIST:
            return identity is not None or self.access.anonymous_may_read_by_default()
        if permission == ADMINISTER:
            return identity is not None and identity.is_admin
        if project is None:
            return False
        if token is not None and not token.covers(project):
            return False
        if permission == READ:
            return self.access.can_read(principals, project)
        if permission == WRITE:
            if token is not None and not token.upload:
                return False
            return self.access.can_write(principals, project)
        return False

    def readable(self, request: Request, names: frozenset[str] | list[str]) -> set[str]:
        """The projects of ``names`` this request may read: one batched check."""
        identity = self.identity(request)
        principals = identity.principals if identity else self.access.principals(None)
        visible = self.access.readable(principals, names)
        if identity is not None and identity.token is not None:
            visible = {name for name in visible if identity.token.covers(name)}
        return visible

    def viewer_key(self, request: Request) -> tuple[object, ...]:
        """Everything that decides which projects this request may see, as a key that
        every process spells the same way (cached listings and their ETags use it)."""
        return self.viewer_key_of(self.identity(request))

    def viewer_key_of(self, identity: Identity | None) -> tuple[object, ...]:
        version = self.access.version()
        principals = identity.principals if identity else self.access.principals(None)
        token = identity.token if identity else None
        projects = token.projects if token else None
        memo = self._viewer_keys
        found = memo.get((version, principals, projects))
        if found is None:
            scope = tuple(sorted(projects)) if projects is not None else None
            found = (version, tuple(sorted(principals)), scope)
            if len(memo) >= MAX_VIEWER_KEYS:
                memo.clear()
            memo[version, principals, projects] = found
        return found

    def remember(self, request: Request, userid: str, **kw: object) -> list[tuple[str, str]]:
        """Sign a user in with the session cookie (a new session: no fixation)."""
        request.session.invalidate()
        request.session[SESSION_USER] = userid
        request.__dict__.pop("_ppc_identity", None)
        request.environ.pop(IDENTITY_KEY, None)
        return []

    def forget(self, request: Request, **kw: object) -> list[tuple[str, str]]:
        request.session.invalidate()
        request.__dict__["_ppc_identity"] = None
        request.environ.pop(IDENTITY_KEY, None)
        return []


def publisher_allows(identity: Identity, permission: str, project: str | None) -> bool:
    """A minted token uploads to its projects (no grant is needed: the admin who registered
    the publisher granted it); it reads nothing, lists nothing, administers nothing."""
    if permission == AUTHENTICATED:
        return True  # the upload views ask for this first, then for WRITE on the project
    token = identity.token
    return (
        permission == WRITE
        and project is not None
        and token is not None
        and token.upload
        and token.covers(project)
    )


def csrf_applies(request: Request) -> bool:
    """CSRF is checked for cookie-authenticated requests only (Pyramid's callback)."""
    identity = request.identity
    return identity is not None and identity.csrf_required
