"""Trusted publishing over HTTP: PyPI's ``/_/oidc/*`` exchange, and the admin REST API.

Every endpoint answers 404 while ``pypi.trusted_publishing`` is off. The exchange is
anonymous (the OIDC token is the credential); refusals are JSON ``{"message": ...}`` as
PyPI's, with a reason that never repeats the token or its claim values.
"""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound
from pyramid.request import Request
from pyramid.view import view_config

from pypicloud.oidc.publishers import PublisherError
from pypicloud.oidc.service import TrustedPublishing
from pypicloud.oidc.verify import ExchangeRefused
from pypicloud.views.account import body
from pypicloud.views.admin import admin_view


def publishing(request: Request) -> TrustedPublishing:
    found: TrustedPublishing | None = request.services.publishing
    if found is None:
        raise HTTPNotFound("Trusted publishing is off (pypi.trusted_publishing)")
    return found


def posted_token(request: Request) -> Any:
    """The ``token`` of a JSON object body, or None."""
    try:
        data = request.json_body
    except ValueError:
        return None
    return data.get("token") if isinstance(data, dict) else None


#: The paths of this server's upload endpoints, as an upload URL names them.
UPLOAD_PATHS = frozenset({"/", "/simple/", "/simple", "/pypi/", "/pypi"})


@view_config(route_name="oidc_discovery", request_method="GET", renderer="json")
def discovery(request: Request) -> dict[str, Any]:
    """The draft PEP 807 discovery: ``?discover=<upload URL's path>`` answers where the
    exchange is, for the upload paths this server has; anything else is a 404."""
    publishing(request)  # 404 while the feature is off
    if request.GET.get("discover") not in UPLOAD_PATHS:
        raise HTTPNotFound("No trusted publishing for this upload URL")
    return {
        "audience-endpoint": request.route_url("oidc_audience"),
        "token-mint-endpoint": request.route_url("oidc_mint_token"),
        # A minted token serves every upload of its lifetime (one per file, as twine does).
        "features": ["multi-use-token"],
        "default-features": ["multi-use-token"],
    }


@view_config(route_name="oidc_audience", request_method="GET", renderer="json")
def audience(request: Request) -> dict[str, str]:
    """The audience a CI job should request its OIDC token for."""
    return {"audience": publishing(request).options.audience}


@view_config(route_name="oidc_mint_token", request_method="POST", renderer="json")
def mint_token(request: Request) -> dict[str, Any]:
    """``{"token": "<OIDC JWT>"}`` -> ``{"success": true, "token": ..., "expires": ...}``
    (``expires`` in seconds since the epoch, as PyPI answers)."""
    service = publishing(request)
    try:
        minted = service.exchange(posted_token(request), request.remote_addr)
    except ExchangeRefused as exc:
        request.response.status = exc.status
        return {
            "message": f"Token request failed: {exc.reason}",
            "errors": [{"code": "invalid-token", "description": exc.reason}],
        }
    request.response.cache_control.no_store = True
    return {
        "success": True,
        "token": minted.secret,
        "expires": int(minted.expires.timestamp()),
        "projects": sorted(minted.projects),
    }


@view_config(route_name="oidc_burn_token", request_method="POST", renderer="json")
def burn_token(request: Request) -> dict[str, Any]:
    """``{"token": "<minted token>"}``: revoke it now; 202 whatever it was (as PyPI)."""
    service = publishing(request)
    service.burn(posted_token(request))
    request.response.status = 202
    return {}


@admin_view("admin_publishers", "GET")
def list_publishers(request: Request) -> dict[str, Any]:
    project = request.GET.get("project")
    found = publishing(request).publishers(project)
    return {"publishers": [p.as_json() for p in found]}


@admin_view("admin_publishers", "POST")
def create_publisher(request: Request) -> dict[str, Any]:
    """``{"project", "issuer", "audience"?, "claims": {claim: value}, "description"?}``"""
    service = publishing(request)
    try:
        publisher = service.register(body(request))
    except PublisherError as exc:
        raise HTTPBadRequest(str(exc)) from None
    return publisher.as_json()


@admin_view("admin_publisher", "GET")
def get_publisher(request: Request) -> dict[str, Any]:
    publisher = publishing(request).get(request.matchdict["publisher_id"])
    if publisher is None:
        raise HTTPNotFound("No such publisher")
    return publisher.as_json()


@admin_view("admin_publisher", "DELETE")
def delete_publisher(request: Request) -> dict[str, Any]:
    if not publishing(request).delete(request.matchdict["publisher_id"]):
        raise HTTPNotFound("No such publisher")
    return {}
