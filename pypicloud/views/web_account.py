"""The web UI's account page: change the password, create, list and revoke API tokens.

Everything goes through AccountService, as the JSON API does. A new token's secret is in
the answer to the form's POST only (not in a redirect target or the session), so it is
shown once.
"""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.accounts import AccountError
from pypicloud.security import AUTHENTICATED
from pypicloud.tokens import ApiToken
from pypicloud.views.account import signed_in
from pypicloud.views.web import page

EXPIRY_CHOICES = (7, 30, 90, 365)


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    identity = signed_in(request)
    tokens: list[ApiToken] = []
    try:
        tokens = request.services.accounts.tokens_of(identity.username)
        tokens_enabled = True
    except AccountError:
        tokens_enabled = False  # the access backend keeps no tokens
    context.setdefault("message", "")
    context.setdefault("error", "")
    context.setdefault("secret", "")
    return page(
        request,
        "account.html",
        status=status,
        tokens=tokens,
        tokens_enabled=tokens_enabled,
        expiry_choices=EXPIRY_CHOICES,
        **context,
    )


@view_config(route_name="web_account", request_method=("GET", "HEAD"), permission=AUTHENTICATED)
def account_page(request: Request) -> Response:
    message = "Password changed." if request.GET.get("done") == "password" else ""
    if request.GET.get("done") == "revoked":
        message = "Token revoked."
    return _page(request, message=message)


@view_config(route_name="web_password", request_method="POST", permission=AUTHENTICATED)
def change_password(request: Request) -> Response:
    identity = signed_in(request)
    old, new = request.POST.get("old_password"), request.POST.get("new_password")
    if new != request.POST.get("confirm_password"):
        return _page(request, status=400, error="The new passwords differ.")
    try:
        request.services.accounts.change_password(identity.username, old, new)
    except AccountError as exc:
        return _page(request, status=exc.status, error=exc.message)
    return HTTPSeeOther(location=request.route_path("web_account", _query={"done": "password"}))


def _projects(raw: str) -> list[str] | None:
    names = [part for part in raw.replace(",", " ").split() if part]
    return names or None


@view_config(route_name="web_tokens", request_method="POST", permission=AUTHENTICATED)
def create_token(request: Request) -> Response:
    identity = signed_in(request)
    post = request.POST
    expires = str(post.get("expires_in_days", ""))
    try:
        secret, _token = request.services.accounts.create_token(
            identity.username,
            projects=_projects(str(post.get("projects", ""))),
            scope=post.get("scope", "read"),
            expires_in_days=int(expires) if expires.isdigit() else None,
            description=str(post.get("description", "")).strip(),
        )
    except AccountError as exc:
        return _page(request, status=exc.status, error=exc.message)
    response = _page(request, secret=secret)
    response.cache_control = "no-store"
    return response


@view_config(route_name="web_token_revoke", request_method="POST", permission=AUTHENTICATED)
def revoke_token(request: Request) -> Response:
    identity = signed_in(request)
    try:
        request.services.accounts.revoke_token(
            request.matchdict["token_id"], identity.username, admin=False
        )
    except AccountError as exc:
        return _page(request, status=exc.status, error=exc.message)
    return HTTPSeeOther(location=request.route_path("web_account", _query={"done": "revoked"}))
