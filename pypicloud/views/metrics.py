"""``/metrics``: the Prometheus text format, for whom ``pypi.metrics`` allows."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPForbidden, HTTPNotFound, HTTPUnauthorized
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.metrics import CONTENT_TYPE
from pypicloud.views.common import challenge


@view_config(route_name="metrics", request_method=("GET", "HEAD"))
def metrics(request: Request) -> Response:
    """404 when off; else the bearer token (``token``) or an admin (``admin``, ``token``)."""
    found = request.services.metrics
    mode = found.options.mode
    if mode == "off":
        raise HTTPNotFound("Metrics are off (pypi.metrics)")
    if mode != "everyone" and not _allowed(request):
        if request.identity is not None:
            raise HTTPForbidden("Metrics are for admins")
        if mode == "token":
            realm = request.services.options.realm.replace('"', "")
            denied = HTTPUnauthorized(detail="A bearer token is required")
            denied.headers["WWW-Authenticate"] = f'Bearer realm="{realm}"'
            raise denied
        raise challenge(request, "Metrics are for admins")
    response = Response(body=found.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    response.cache_control = "no-store"
    return response


def _allowed(request: Request) -> bool:
    options = request.services.metrics.options
    if options.mode == "token" and options.token_matches(request.headers.get("Authorization", "")):
        return True
    identity = request.identity
    return identity is not None and identity.is_admin
