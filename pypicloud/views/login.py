"""Session sign-in and sign-out at the original pypicloud's URLs.

``POST /acct/login`` takes ``{"username", "password"}`` (JSON or form fields) and answers
``{"next": url, "csrf_token": token}``: the session cookie then identifies the browser, and
every state-changing request it makes must carry the token (``X-CSRF-Token`` header or a
``csrf_token`` field).
"""

from __future__ import annotations

from typing import Any

from pyramid.csrf import new_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, HTTPFound
from pyramid.request import Request
from pyramid.security import forget, remember
from pyramid.view import view_config


def _credentials(request: Request) -> tuple[str, str]:
    body: Any
    if request.content_type == "application/json":
        try:
            body = request.json_body
        except ValueError:
            raise HTTPBadRequest("Expected a JSON body") from None
    else:
        body = request.POST
    username = body.get("username") if hasattr(body, "get") else None
    password = body.get("password") if hasattr(body, "get") else None
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise HTTPBadRequest("Expected username and password")
    return username, password


@view_config(route_name="login", request_method="POST", renderer="json", require_csrf=False)
def login(request: Request) -> dict:
    username, password = _credentials(request)
    identity = request.services.authenticator.from_basic(username, password, request.client_addr)
    if identity is None or identity.method != "basic":
        raise HTTPForbidden("Invalid credentials")
    remember(request, identity.username)
    return {"next": request.route_url("root"), "csrf_token": new_csrf_token(request)}


@view_config(route_name="logout", request_method=("GET", "POST"), require_csrf=False)
def logout(request: Request) -> HTTPFound:
    headers = forget(request)
    return HTTPFound(location=request.route_url("root"), headers=headers)
