"""Registration, passwords and API tokens: the original pypicloud's URLs, and ours for tokens.

Bodies are JSON objects or form fields with the same names; answers are JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, status_map
from pyramid.request import Request
from pyramid.view import view_config

from pypicloud.accounts import AccountError, token_json
from pypicloud.security import ADMINISTER, AUTHENTICATED, Identity


def body(request: Request) -> Mapping[str, Any]:
    """A JSON object, or the form fields (the original took both)."""
    if request.content_type == "application/json":
        try:
            data = request.json_body
        except ValueError:
            raise HTTPBadRequest("Expected a JSON object") from None
        if not isinstance(data, dict):
            raise HTTPBadRequest("Expected a JSON object")
        return data
    return request.POST


def refuse(error: AccountError) -> Exception:
    return status_map.get(error.status, HTTPBadRequest)(error.message)


def signed_in(request: Request) -> Identity:
    """The caller, who must have signed in with a password or a session (not a token: a
    token must never mint or outlive the credentials it came from)."""
    identity: Identity = request.identity
    if identity.method == "token":
        raise HTTPForbidden("Sign in with a password to manage your account")
    return identity


@view_config(route_name="api_register", request_method="PUT", renderer="json")
@view_config(route_name="login", request_method="PUT", renderer="json")
def register(request: Request) -> dict:
    username = request.matchdict.get("username") or body(request).get("username")
    if not isinstance(username, str):
        raise HTTPBadRequest("Expected a username")
    try:
        outcome = request.services.accounts.register(username, body(request).get("password"))
    except AccountError as exc:
        raise refuse(exc) from None
    return {"username": username, "admin": outcome == "admin", "pending": outcome == "pending"}


@view_config(route_name="token_register", request_method="PUT", renderer="json")
def register_with_token(request: Request) -> dict:
    data = body(request)
    try:
        username = request.services.accounts.register_with_token(
            data.get("token"), data.get("password")
        )
    except AccountError as exc:
        raise refuse(exc) from None
    return {"username": username, "next": request.route_url("root")}


@view_config(
    route_name="api_password", request_method="POST", renderer="json", permission=AUTHENTICATED
)
def change_password(request: Request) -> dict:
    identity = signed_in(request)
    data = body(request)
    try:
        request.services.accounts.change_password(
            identity.username, data.get("old_password"), data.get("new_password")
        )
    except AccountError as exc:
        raise refuse(exc) from None
    return {}


@view_config(
    route_name="api_tokens", request_method="GET", renderer="json", permission=AUTHENTICATED
)
def list_tokens(request: Request) -> dict:
    identity = signed_in(request)
    try:
        tokens = request.services.accounts.tokens_of(identity.username)
    except AccountError as exc:
        raise refuse(exc) from None
    return {"tokens": [token_json(t) for t in tokens]}


@view_config(
    route_name="api_tokens", request_method="POST", renderer="json", permission=AUTHENTICATED
)
def create_token(request: Request) -> dict:
    """``{"projects": [...] | null, "scope": "read" | "upload", "expires_in_days": n,
    "description": "..."}``; the answer's ``token`` is shown this once and never again."""
    identity = signed_in(request)
    data = body(request)
    try:
        secret, token = request.services.accounts.create_token(
            identity.username,
            projects=data.get("projects"),
            scope=data.get("scope", "read"),
            expires_in_days=data.get("expires_in_days"),
            description=data.get("description", ""),
        )
    except AccountError as exc:
        raise refuse(exc) from None
    return {"token": secret, **token_json(token)}


@view_config(
    route_name="api_token", request_method="DELETE", renderer="json", permission=AUTHENTICATED
)
def revoke_token(request: Request) -> dict:
    identity = signed_in(request)
    try:
        request.services.accounts.revoke_token(
            request.matchdict["token_id"], identity.username, identity.is_admin
        )
    except AccountError as exc:
        raise refuse(exc) from None
    return {}


@view_config(
    route_name="admin_tokens", request_method="GET", renderer="json", permission=ADMINISTER
)
def all_tokens(request: Request) -> dict:
    try:
        tokens = request.services.accounts.tokens_of(request.GET.get("username"))
    except AccountError as exc:
        raise refuse(exc) from None
    return {"tokens": [token_json(t) for t in tokens]}
