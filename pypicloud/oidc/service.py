"""TrustedPublishing: publishers (admins) and the token exchange (CI).

A minted token belongs to no user: its owner is ``oidc:<publisher ids>`` (a name no user
can have), and the security policy gives such a token upload to its projects and nothing
else (security.py, ``Identity.publisher``). Deleting a publisher revokes its live tokens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pypicloud.audit import AuditLog, NullAuditLog
from pypicloud.oidc.keys import IssuerKeys
from pypicloud.oidc.options import PublishingOptions
from pypicloud.oidc.publishers import Publisher, PublisherError, check_definition, from_json
from pypicloud.oidc.store import SQLPublisherStore
from pypicloud.oidc.verify import ExchangeRefused, verify
from pypicloud.security import Authenticator
from pypicloud.settings import ConfigError, Settings
from pypicloud.tokens import PUBLISHER_OWNER_PREFIX, MutableTokenStore, TokenStore

log = logging.getLogger(__name__)
THROTTLE_KEY = "__oidc__"
MAX_PUBLISHERS_PER_TOKEN = 10  # the owner name lists them (255 characters)


@dataclasses.dataclass(frozen=True)
class Minted:
    secret: str
    expires: dt.datetime
    projects: frozenset[str]


def publisher_owner(publishers: list[Publisher]) -> str:
    return PUBLISHER_OWNER_PREFIX + "+".join(sorted(p.publisher_id for p in publishers))


def owner_ids(username: str) -> set[str]:
    if not username.startswith(PUBLISHER_OWNER_PREFIX):
        return set()
    return set(username.removeprefix(PUBLISHER_OWNER_PREFIX).split("+"))


class TrustedPublishing:
    def __init__(
        self,
        store: SQLPublisherStore,
        tokens: MutableTokenStore,
        authenticator: Authenticator,
        options: PublishingOptions,
        audit: AuditLog | None = None,
        keys: IssuerKeys | None = None,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.authenticator = authenticator
        self.options = options
        self.audit: AuditLog = audit or NullAuditLog()
        self.keys = keys or IssuerKeys(
            timeout=float(options.fetch_timeout),
            cache_seconds=options.keys_cache_seconds,
            allow_http=options.allow_http,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        tokens: TokenStore,
        authenticator: Authenticator,
        audit: AuditLog,
    ) -> TrustedPublishing | None:
        options = PublishingOptions.from_settings(settings)
        if not options.enabled:
            return None
        engine = getattr(tokens, "engine", None)
        if engine is None or not isinstance(tokens, MutableTokenStore):
            raise ConfigError(
                "pypi.trusted_publishing",
                "needs a SQL database for its tokens (pypi.auth = sql, or pypi.db = sql)",
            )
        return cls(SQLPublisherStore(engine), tokens, authenticator, options, audit)

    # -- publishers (admins) -------------------------------------------------------------

    def register(self, data: Mapping[str, Any]) -> Publisher:
        project, issuer, audience, claims, description = check_definition(
            data, default_audience=self.options.audience, allow_http=self.options.allow_http
        )
        publisher = self.store.add(project, issuer, audience, claims, description)
        log.info("publisher %s registered for %s", publisher.publisher_id, project)
        self.audit.record(
            "publisher.create",
            project=project,
            target=publisher.publisher_id,
            detail=f"issuer {issuer}, claims {', '.join(sorted(claims))}"[:2000],
        )
        return publisher

    def publishers(self, project: str | None = None) -> list[Publisher]:
        return self.store.list(project)

    def get(self, publisher_id: str) -> Publisher | None:
        return self.store.get(publisher_id)

    def delete(self, publisher_id: str) -> bool:
        publisher = self.store.get(publisher_id)
        if publisher is None or not self.store.remove(publisher_id):
            return False
        revoked = self._revoke_tokens_of({publisher_id})
        self.audit.record(
            "publisher.delete",
            project=publisher.project,
            target=publisher_id,
            detail=f"{revoked} live tokens revoked",
        )
        return True

    def _revoke_tokens_of(self, publisher_ids: set[str]) -> int:
        """Revoke the live tokens minted for these publishers: they were minted under
        claims that no longer hold."""
        revoked = 0
        for token in self.tokens.list():
            if publisher_ids & owner_ids(token.username):
                revoked += self.tokens.revoke(token.token_id)
        self.authenticator.token_version.expire()
        self.authenticator.forget_all()
        return revoked

    # -- export and import (ppc-export, ppc-import, /admin/acl.json.gz) ------------------

    def dump(self) -> list[dict[str, Any]]:
        return [publisher.as_json() for publisher in self.store.list()]

    def parse(self, entries: list[Any]) -> list[Publisher]:
        """A file's publishers, all checked before anything is written (as the API checks
        an admin's, with this server's audience and http rule); PublisherError names the
        first bad entry."""
        found: dict[str, Publisher] = {}
        for i, entry in enumerate(entries):
            try:
                publisher = from_json(
                    entry,
                    default_audience=self.options.audience,
                    allow_http=self.options.allow_http,
                )
            except PublisherError as exc:
                raise PublisherError(f"publishers[{i}]: {exc}") from None
            if publisher.publisher_id in found:
                raise PublisherError(f"publishers[{i}]: id {publisher.publisher_id} twice")
            found[publisher.publisher_id] = publisher
        return list(found.values())

    def restore(self, publishers: list[Publisher]) -> Counter[str]:
        """Re-create publishers by id; one that differs from the file is corrected and its
        live tokens revoked, as deleting it would."""
        created, updated = self.store.restore(publishers)
        if updated:
            self._revoke_tokens_of(set(updated))
        for publisher_id in updated:
            log.info("publisher %s updated by an import", publisher_id)
        return +Counter({"publishers restored": len(created), "publishers updated": len(updated)})

    # -- the exchange (CI) ---------------------------------------------------------------

    def exchange(self, token: Any, address: str | None = None) -> Minted:
        """A minted upload token for an OIDC token, or ExchangeRefused (audited and
        throttled as a failed login is; the token itself is never logged)."""
        try:
            verified = verify(token, self.store.of_issuer, self.keys, self.options.leeway)
            claims = verified.claims
            if len(verified.publishers) > MAX_PUBLISHERS_PER_TOKEN:
                raise ExchangeRefused(
                    f"the token matches more than {MAX_PUBLISHERS_PER_TOKEN} publishers"
                )
            lasts = dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
            used_until = lasts + dt.timedelta(seconds=self.options.leeway)
            if not self.store.use_once(claims["iss"], claims["jti"], used_until):
                raise ExchangeRefused("the token was already used (its jti was seen)")
        except ExchangeRefused as exc:
            self.audit.record("oidc.exchange_failed", detail=exc.reason)
            self.authenticator.throttle.failed(THROTTLE_KEY, address)
            raise
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.options.token_lifetime)
        projects = frozenset(p.project for p in verified.publishers)
        owner = publisher_owner(verified.publishers)
        secret, minted = self.tokens.create(
            owner,
            projects=projects,
            upload=True,
            expires=expires,
            description="trusted publishing",
        )
        for publisher in verified.publishers:
            self.audit.record(
                "oidc.exchange",
                project=publisher.project,
                target=minted.token_id,
                detail=f"publisher {publisher.publisher_id}, issuer {claims['iss']}"[:2000],
            )
        log.info("token %s minted for publisher(s) %s", minted.token_id, owner)
        return Minted(secret=secret, expires=minted.expires or expires, projects=projects)

    def burn(self, secret: Any) -> None:
        """Revoke a minted token once CI is done with it (uv does this after uploading).
        Anything else, a user's token included, is left alone, and the caller learns
        nothing either way."""
        if not isinstance(secret, str) or len(secret) > 1000:
            return
        token = self.tokens.verify_token(secret)
        if token is None or not token.publisher:
            return
        self.tokens.revoke(token.token_id)
        self.authenticator.token_version.expire()
        self.authenticator.forget_all()
        self.audit.record("oidc.burn", target=token.token_id, detail=f"of {token.username}")


__all__ = ["ExchangeRefused", "Minted", "PublisherError", "TrustedPublishing"]
