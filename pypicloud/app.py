"""The objects built once at start-up and shared by every request and thread."""

from __future__ import annotations

import dataclasses
import logging

from pypicloud.access import Access
from pypicloud.access.base import MutableAccess, unknown_users
from pypicloud.access.passwords import PasswordHasher
from pypicloud.accounts import AccountOptions, AccountService, tokens_from
from pypicloud.attestation_verify import AttestationVerifier
from pypicloud.audit import AuditLog, NullAuditLog, audit_from_settings
from pypicloud.cache import Cache, cache_from_settings
from pypicloud.metrics import Metrics, MetricsOptions
from pypicloud.oidc.service import TrustedPublishing
from pypicloud.packages import PackageOptions, PackageService
from pypicloud.pages import PageCache
from pypicloud.retention.rules import RetentionOptions
from pypicloud.retention.runner import RetentionRunner
from pypicloud.retention.schedule import RetentionSchedule
from pypicloud.security import Authenticator, CredentialCache, SecurityPolicy
from pypicloud.settings import Settings
from pypicloud.storage import Storage, storage_from_settings
from pypicloud.sync.options import SyncOptions
from pypicloud.tokens import NoTokens, TokenStore
from pypicloud.upstream import Upstream

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """``pypi.*`` settings the views read."""

    realm: str = "pypi"
    cache_max_age: int = 0
    #: Index pages anonymous readers get may be kept this long by nginx or a CDN, and
    #: served stale for this much longer while one request refreshes them.
    index_max_age: int = 60
    index_stale_while_revalidate: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerOptions:
        return cls(
            realm=settings.str("pypi.realm", "pypi") or "pypi",
            cache_max_age=settings.int("pyramid.cache_max_age", 0, minimum=0) or 0,
            index_max_age=settings.int("pypi.index_max_age", cls.index_max_age, minimum=0) or 0,
            index_stale_while_revalidate=settings.int(
                "pypi.index_stale_while_revalidate", cls.index_stale_while_revalidate, minimum=0
            )
            or 0,
        )


@dataclasses.dataclass
class Services:
    storage: Storage
    cache: Cache
    access: Access
    tokens: TokenStore
    packages: PackageService
    authenticator: Authenticator
    security: SecurityPolicy
    passwords: PasswordHasher
    accounts: AccountService
    pages: PageCache
    options: ServerOptions
    upstream: Upstream
    audit: AuditLog = dataclasses.field(default_factory=NullAuditLog)
    metrics: Metrics = dataclasses.field(default_factory=lambda: Metrics(MetricsOptions("off")))
    #: Rebuild the package database from storage when ``start`` is called.
    rebuild_on_start: bool = False
    #: ``pypi.retention``: ``ppc-retention`` runs it; ``retention_schedule`` when an
    #: interval is set (``start`` begins it).
    retention: RetentionRunner | None = None
    retention_schedule: RetentionSchedule | None = None
    #: Trusted publishing (``pypi.trusted_publishing``); None when it is off.
    publishing: TrustedPublishing | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        storage = storage_from_settings(settings)
        cache = cache_from_settings(settings)
        metrics = Metrics(MetricsOptions.from_settings(settings))
        audit = audit_from_settings(settings, cache)
        access = Access.from_settings(settings)
        tokens: TokenStore = tokens_from(access.backend, cache) or NoTokens()
        packages = PackageService(
            storage,
            cache,
            PackageOptions.from_settings(settings),
            audit=audit,
            metrics=metrics,
            verifier=AttestationVerifier.from_settings(settings),
        )
        retention = RetentionOptions.from_settings(settings)
        ttl = settings.int("auth.cache_seconds", 60, minimum=0)
        authenticator = Authenticator(
            access, tokens, CredentialCache(ttl=float(ttl or 0)), audit=audit
        )
        passwords = PasswordHasher.from_settings(settings)
        publishing = TrustedPublishing.from_settings(settings, tokens, authenticator, audit)
        accounts = AccountService(
            access,
            authenticator,
            tokens,
            passwords,
            AccountOptions.from_settings(settings),
            audit=audit,
            publishing=publishing,  # its publishers go into exports
        )
        services = cls(
            storage=storage,
            cache=cache,
            access=access,
            tokens=tokens,
            packages=packages,
            authenticator=authenticator,
            security=SecurityPolicy(authenticator),
            passwords=passwords,
            accounts=accounts,
            pages=PageCache(observe=metrics.page),
            options=ServerOptions.from_settings(settings),
            upstream=Upstream.from_settings(settings, packages),
            audit=audit,
            metrics=metrics,
            publishing=publishing,
        )
        for name in unknown_users(access.backend, sorted(access.defaults.admins)):
            log.warning("auth.admins names %r, a user the access backend does not know", name)
        if nobody_can_log_in(access.backend):
            log.warning(
                "no user can log in: the access backend has no users (add user.<name> = <hash "
                "from ppc-gen-password>; with a writable backend the first user to register "
                "becomes admin)"
            )
        SyncOptions.from_settings(settings)  # ppc-sync's keys: checked with the rest
        services.rebuild_on_start = settings.bool("db.reload_on_start", False) or cache.is_empty()
        services.retention = RetentionRunner(packages, retention)
        if retention.interval is not None:
            services.retention_schedule = RetentionSchedule(services.retention, retention.interval)
        return services

    def start(self) -> None:
        """Begin the work that outlives start-up, once every setting has been checked: a
        start-up refused later must not leave a rebuild's lock and status in the shared
        database (another server would wait on a dead process's lease)."""
        if self.rebuild_on_start:
            # In the background: the server answers meanwhile (/health says "rebuilding").
            self.packages.start_rebuild()
        if self.retention_schedule is not None:
            self.retention_schedule.start()

    def health(self) -> dict[str, tuple[bool, str]]:
        return {**self.packages.health(), "access": self.access.check_health()}


def nobody_can_log_in(backend: object) -> bool:
    """True when the backend can tell it has no user yet (the ini's user.<name> lines, a
    SQL table); directories such as LDAP cannot be listed and count as having users."""
    passwords = getattr(backend, "passwords", None)
    if isinstance(passwords, dict):  # config access
        return not passwords
    if isinstance(backend, MutableAccess):
        try:
            return not backend.users()
        except Exception:  # an unreachable backend: /health reports it, no guess here
            return False
    return False
