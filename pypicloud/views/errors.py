"""Error answers: the permission rule, written once, and JSON errors for JSON clients.

A refused permission becomes 401 with a Basic challenge for an anonymous request (so pip,
keyring and browsers retry with credentials), 404 for a signed-in user who may not read the
project (exactly what a missing project answers, so a private name never leaks), and 403 for
a signed-in user who may read but not do this. Under ``/api/`` and ``/admin/``, and for any
client that prefers JSON, an error is ``{"error": "..."}`` with the same status and headers.
"""

from __future__ import annotations

import json

from pyramid.events import NewRequest, subscriber
from pyramid.httpexceptions import HTTPBadRequest, HTTPError, HTTPForbidden, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config

from pypicloud.security import ADMINISTER, READ, WRITE, PermissionDenied, basic_credentials
from pypicloud.views.common import challenge

JSON_PREFIXES = ("/api/", "/admin/", "/acct/")


@forbidden_view_config()
def forbidden(exc: HTTPForbidden, request: Request) -> Response:
    result = getattr(exc, "result", None)
    if not isinstance(result, PermissionDenied):
        return error_response(exc, request)  # a 403 a view raised itself
    if result.identity is None:
        invalid = basic_credentials(request) is not None
        return error_response(
            challenge(request, "Invalid credentials" if invalid else "Login required"), request
        )
    project = result.project
    if result.permission == READ:
        return error_response(HTTPNotFound(), request)
    if result.permission == WRITE:
        # Refusing a write says nothing a 404 would hide when the user may not read either:
        # the same answer comes for a project that does not exist.
        return error_response(HTTPForbidden(f"You may not write to {project}"), request)
    if result.permission == ADMINISTER:
        return error_response(HTTPForbidden("Admins only"), request)
    return error_response(HTTPForbidden(), request)


@subscriber(NewRequest)
def refuse_undecodable_urls(event: NewRequest) -> None:
    """A path or query that is not UTF-8 names nothing here: a 400 before any view reads
    it (WebOb would raise deep inside one, a 500)."""
    try:
        event.request.path_info  # noqa: B018 (decoding is the check)
        event.request.GET  # noqa: B018
    except UnicodeDecodeError:
        raise HTTPBadRequest("The URL is not valid UTF-8") from None


@subscriber(NewRequest)
def ignore_malformed_ranges(event: NewRequest) -> None:
    """A ``Range`` header WebOb cannot parse (``bytes=-``) is ignored, as RFC 9110 allows:
    the whole file, not the 500 WebOb's conditional response would raise."""
    drop_malformed_range(event.request)


def drop_malformed_range(request: Request) -> None:
    """Also called by the tweens that answer or resolve responses before routing."""
    try:
        request.range  # noqa: B018 (parsing is the check)
    except ValueError:
        request.environ.pop("HTTP_RANGE", None)


@exception_view_config(HTTPError)
def http_error(exc: HTTPError, request: Request) -> Response:
    return error_response(exc, request)


def wants_json(request: Request) -> bool:
    # The raw path: this also answers for a path that is not UTF-8.
    if request.environ.get("PATH_INFO", "").startswith(JSON_PREFIXES):
        return True
    offers = request.accept.acceptable_offers(["text/html", "application/json"])
    return bool(offers) and offers[0][0] == "application/json"


def error_response(exc: HTTPError, request: Request) -> Response:
    """``exc`` as it is, or as JSON for a JSON client (same status line and headers)."""
    if not wants_json(request):
        return exc
    message = exc.detail or exc.title
    response = Response(
        body=json.dumps({"error": str(message)}).encode(),
        status=exc.status,
        content_type="application/json",
    )
    for name, value in exc.headers.items():
        if not name.lower().startswith("content-"):
            response.headers[name] = value
    return response
