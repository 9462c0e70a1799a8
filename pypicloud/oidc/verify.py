"""Checking one OIDC token against the publishers of its issuer.

The order matters for safety: the algorithm is checked from the header before anything
else (``none`` and HMAC never reach a key), the issuer is looked up among the publishers
before any network request (an unknown issuer is never contacted), and only then are the
signature, time claims, audience, issuer and the publishers' claims verified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from pypicloud.oidc.keys import IssuerKeys, KeyUnavailable
from pypicloud.oidc.publishers import Publisher

ALGORITHMS = ("RS256", "ES256")
MAX_TOKEN_LENGTH = 16 * 1024


class ExchangeRefused(Exception):
    """A token that is not accepted; ``reason`` is safe to show (no claim values)."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclasses.dataclass(frozen=True)
class Verified:
    claims: Mapping[str, Any]
    publishers: list[Publisher]  # every publisher the token matches


def time_refusals() -> list[tuple[type[Exception], str]]:
    """PyJWT's refusals and what the client is told of each."""
    import jwt

    return [
        (jwt.ExpiredSignatureError, "the token has expired"),
        (jwt.ImmatureSignatureError, "the token is not valid yet"),
        (jwt.InvalidIssuedAtError, "the token's issue time is invalid"),
        (jwt.InvalidAudienceError, "the token's audience is not accepted"),
        (jwt.InvalidIssuerError, "the token's issuer does not match"),
        (jwt.InvalidSignatureError, "the token's signature is invalid"),
    ]


def verify(
    token: Any,
    publishers_of: Callable[[str], list[Publisher]],
    keys: IssuerKeys,
    leeway: int,
) -> Verified:
    import jwt  # PyJWT and what it pulls in (~20 MB): only once publishing is used

    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise ExchangeRefused('expected {"token": "<OIDC token>"}', status=400)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise ExchangeRefused("the token is not a well-formed JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise ExchangeRefused(f"the token's algorithm is not accepted ({', '.join(ALGORITHMS)})")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str):
        raise ExchangeRefused("the token names no issuer")
    candidates = publishers_of(issuer)
    if not candidates:
        raise ExchangeRefused("no publisher trusts the token's issuer")
    try:
        key = keys.signing_key(issuer, token)
    except KeyUnavailable as exc:
        raise ExchangeRefused(str(exc)) from None
    if key.algorithm_name != algorithm:
        raise ExchangeRefused("the token's algorithm does not match the issuer's key")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=sorted({p.audience for p in candidates}),
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "jti"]},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise ExchangeRefused(f"the token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        for kind, reason in time_refusals():
            if isinstance(exc, kind):
                raise ExchangeRefused(reason) from None
        raise ExchangeRefused("the token could not be verified") from None
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise ExchangeRefused("the token's jti must be text")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    for_audience = [p for p in candidates if p.audience in audiences]
    matching = [p for p in for_audience if p.mismatched_claim(claims) is None]
    if not matching:
        if len(for_audience) == 1:
            name = for_audience[0].mismatched_claim(claims)
            raise ExchangeRefused(f"the token's claim {name!r} does not match the publisher")
        raise ExchangeRefused("the token's claims match no publisher")
    return Verified(claims=claims, publishers=matching)
