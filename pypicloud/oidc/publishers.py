"""A trusted publisher: which OIDC tokens may upload to which project.

A publisher names an issuer, the audience its tokens must carry, and claims that must
equal given values (``repository``, ``workflow_ref``, ``environment``...): generic, so any
CI's issuer fits. A token is accepted for a project when one of its publishers matches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

MAX_CLAIMS = 20
MAX_VALUE_LENGTH = 500
CLAIM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$")
#: Claims the verifier checks itself; a publisher may not pin them to other values.
RESERVED_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})
PROJECT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")
PUBLISHER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")  # the store's key column holds 32


class PublisherError(ValueError):
    """An admin's publisher definition is malformed; the message says which part."""


@dataclasses.dataclass(frozen=True)
class Publisher:
    publisher_id: str
    project: str  # normalized
    issuer: str
    audience: str
    claims: Mapping[str, str]
    description: str = ""
    created: dt.datetime | None = None

    def mismatched_claim(self, token_claims: Mapping[str, Any]) -> str | None:
        """The first required claim the token lacks or carries with another value."""
        for name, expected in sorted(self.claims.items()):
            if token_claims.get(name) != expected:
                return name
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.publisher_id,
            "project": self.project,
            "issuer": self.issuer,
            "audience": self.audience,
            "claims": dict(sorted(self.claims.items())),
            "description": self.description,
            "created": self.created.isoformat() if self.created else None,
        }


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_issuer(issuer: Any, allow_http: bool) -> str:
    """An issuer is an https URL without query or fragment (http only where allowed)."""
    if not isinstance(issuer, str) or not 0 < len(issuer) <= 500:
        raise PublisherError("issuer must be a URL of at most 500 characters")
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PublisherError("issuer must be an https URL")
    if parts.scheme == "http" and not allow_http:
        raise PublisherError("issuer must be an https URL (pypi.oidc_allow_http is off)")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise PublisherError("issuer must have no query, fragment or credentials")
    return issuer


def check_claims(claims: Any) -> dict[str, str]:
    if not isinstance(claims, dict) or not claims:
        raise PublisherError(
            'claims must be an object of claim -> expected value, e.g. {"repository": "o/r"}'
        )
    if len(claims) > MAX_CLAIMS:
        raise PublisherError(f"at most {MAX_CLAIMS} claims")
    checked: dict[str, str] = {}
    for name, value in claims.items():
        if not isinstance(name, str) or not CLAIM_NAME.match(name):
            raise PublisherError(f"invalid claim name {str(name)[:100]!r}")
        if name in RESERVED_CLAIMS:
            raise PublisherError(f"claim {name!r} is checked by the server, not by a publisher")
        if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE_LENGTH:
            raise PublisherError(
                f"claim {name!r} needs a text value of 1 to {MAX_VALUE_LENGTH} characters"
            )
        checked[name] = value
    return checked


def check_definition(
    data: Mapping[str, Any], *, default_audience: str, allow_http: bool
) -> tuple[str, str, str, dict[str, str], str]:
    """(project, issuer, audience, claims, description) from an admin's JSON body."""
    project = data.get("project")
    if not isinstance(project, str) or not PROJECT_NAME.match(project):
        raise PublisherError("project must be a valid project name")
    audience = data.get("audience", default_audience)
    if (
        not isinstance(audience, str)
        or not 0 < len(audience) <= 255
        or audience.strip() != audience
    ):
        raise PublisherError("audience must be text of 1 to 255 characters")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > 200:
        raise PublisherError("description must be text of at most 200 characters")
    unknown = set(data) - {"project", "issuer", "audience", "claims", "description"}
    if unknown:
        raise PublisherError(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    return (
        canonicalize_name(project),
        check_issuer(data.get("issuer"), allow_http),
        audience,
        check_claims(data.get("claims")),
        description,
    )


def from_json(entry: Any, *, default_audience: str, allow_http: bool) -> Publisher:
    """The publisher ``as_json`` described (an export), checked as an admin's definition is:
    a hand-edited file may not register what the API would refuse."""
    if not isinstance(entry, dict):
        raise PublisherError("expected a JSON object")
    publisher_id = entry.get("id")
    if not isinstance(publisher_id, str) or not PUBLISHER_ID.match(publisher_id):
        raise PublisherError("id must be 1 to 32 letters, digits, _ or -")
    definition = {k: v for k, v in entry.items() if k not in ("id", "created")}
    project, issuer, audience, claims, description = check_definition(
        definition, default_audience=default_audience, allow_http=allow_http
    )
    return Publisher(publisher_id, project, issuer, audience, claims, description, _created(entry))


def _created(entry: Mapping[str, Any]) -> dt.datetime | None:
    value = entry.get("created")
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise PublisherError("created must be an ISO date and time, or null") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
