"""Session sign-in and sign-out at the original pypicloud's URLs.

``POST /acct/login`` takes ``{"username", "password"}`` as JSON (answering
``{"next": url, "csrf_token": token}``) or as the login page's form (answering a redirect).
The session cookie then identifies the browser, and every state-changing request it makes
must carry the CSRF token (``X-CSRF-Token`` header or a ``csrf_token`` field).
"""

from __future__ import annotations

from pyramid.csrf import new_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, HTTPFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import forget, remember
from pyramid.view import view_config

from pypicloud.views.account import body
from pypicloud.views.web import page


def _page(request: Request, error: str = "", username: str = "", status: int = 200) -> Response:
    action = request.route_url("login")
    return page(request, "login.html", status, action=action, error=error, username=username)


@view_config(route_name="login", request_method=("GET", "HEAD"))
def login_page(request: Request) -> Response:
    return _page(request)


@view_config(route_name="login", request_method="POST", require_csrf=False)
def login(request: Request) -> Response:
    from_page = request.content_type != "application/json"
    data = body(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise HTTPBadRequest("Expected username and password")
    identity = request.services.authenticator.from_basic(username, password, request.remote_addr)
    if identity is None or identity.method != "basic":
        if from_page:
            return _page(request, "Wrong user name or password.", username, status=403)
        raise HTTPForbidden("Invalid credentials")
    remember(request, identity.username)
    token = new_csrf_token(request)
    if from_page:
        return HTTPSeeOther(location=request.route_url("root"))
    response = request.response
    response.content_type = "application/json"
    response.json_body = {"next": request.route_url("root"), "csrf_token": token}
    return response


@view_config(route_name="logout", request_method=("GET", "POST"), require_csrf=False)
def logout(request: Request) -> HTTPFound:
    headers = forget(request)
    return HTTPFound(location=request.route_url("root"), headers=headers)
