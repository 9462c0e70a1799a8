"""Administration: the original pypicloud's admin REST API, rebuild, and health.

Every endpoint needs an admin (Basic auth, an unrestricted token, or a session with the
CSRF token); bodies are JSON or form fields, answers JSON, as the original's.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

from pyramid.httpexceptions import HTTPMethodNotAllowed
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.accounts import AccountError, AccountService
from pypicloud.rebuild import RebuildBusy
from pypicloud.security import ADMINISTER
from pypicloud.views.account import body, refuse


def _run(request: Request, action: Callable[[AccountService], Any]) -> Any:
    try:
        result = action(request.services.accounts)
    except AccountError as exc:
        raise refuse(exc) from None
    return {} if result is None else result


def admin_view(route: str, method: str | tuple[str, ...]) -> Any:
    return view_config(
        route_name=route, request_method=method, renderer="json", permission=ADMINISTER
    )


@admin_view("admin_rebuild", ("GET", "POST"))
def rebuild(request: Request) -> dict:
    """Rebuild the cache from storage (after files were copied into storage by hand).

    GET is the original's, kept for scripts; a browser session must POST (with CSRF).
    ``?background=1`` starts it in a thread and answers 202 at once (progress at
    ``/admin/rebuild/status``); otherwise the answer waits for the count, as the original's.
    A rebuild already running anywhere in the deployment answers 409."""
    if request.method == "GET" and request.identity.csrf_required:
        raise HTTPMethodNotAllowed("POST /admin/rebuild with the CSRF token")
    packages = request.services.packages
    if request.params.get("background") in ("1", "true"):
        started = packages.start_rebuild()
        request.response.status = 202 if started else 409
        return {"started": started, "rebuild": packages.rebuilder.status().as_dict()}
    try:
        return {"packages": packages.reload_from_storage()}
    except RebuildBusy as exc:
        request.response.status = 409
        return {"error": str(exc), "rebuild": packages.rebuilder.status().as_dict()}


@admin_view("admin_rebuild_status", "GET")
def rebuild_status(request: Request) -> dict:
    """This process's rebuild: running or not, files listed so far, times, last result."""
    return request.services.packages.rebuilder.status().as_dict()


@admin_view("admin_users", "GET")
def users(request: Request) -> Any:
    return _run(request, lambda a: a.user_data())


@admin_view("admin_user", "GET")
def user(request: Request) -> Any:
    return _run(request, lambda a: a.user_data(request.matchdict["username"]))


@admin_view("admin_user", "PUT")
def create_user(request: Request) -> Any:
    password = body(request).get("password")
    return _run(request, lambda a: a.create_user(request.matchdict["username"], password))


@admin_view("admin_user", "DELETE")
def delete_user(request: Request) -> Any:
    return _run(request, lambda a: a.delete_user(request.matchdict["username"]))


@admin_view("admin_user_approve", "POST")
def approve(request: Request) -> Any:
    return _run(request, lambda a: a.approve(request.matchdict["username"]))


@admin_view("admin_user_admin", "POST")
def set_admin(request: Request) -> Any:
    admin = _flag(body(request), "admin")
    return _run(request, lambda a: a.set_admin(request.matchdict["username"], admin))


@admin_view("admin_user_group", ("PUT", "DELETE"))
def membership(request: Request) -> Any:
    username, group = request.matchdict["username"], request.matchdict["group"]
    member = request.method == "PUT"
    return _run(request, lambda a: a.set_member(username, group, member))


@admin_view("admin_user_permissions", "GET")
def user_permissions(request: Request) -> Any:
    return _run(request, lambda a: a.user_permissions(request.matchdict["username"]))


@admin_view("admin_groups", "GET")
def groups(request: Request) -> Any:
    return _run(request, lambda a: a.groups())


@admin_view("admin_group", "GET")
def group(request: Request) -> Any:
    return _run(request, lambda a: a.group_data(request.matchdict["group"]))


@admin_view("admin_group", "PUT")
def create_group(request: Request) -> Any:
    return _run(request, lambda a: a.create_group(request.matchdict["group"]))


@admin_view("admin_group", "DELETE")
def delete_group(request: Request) -> Any:
    return _run(request, lambda a: a.delete_group(request.matchdict["group"]))


@admin_view("admin_package", "GET")
def package_permissions(request: Request) -> Any:
    return _run(request, lambda a: a.package_permissions(request.matchdict["package"]))


@admin_view("admin_permission", ("PUT", "DELETE"))
def edit_permission(request: Request) -> Any:
    m = request.matchdict
    grant = request.method == "PUT"
    return _run(
        request,
        lambda a: a.edit_permission(
            m["package"], m["kind"], m["principal"], m["permission"], grant
        ),
    )


@admin_view("admin_pending", "GET")
def pending(request: Request) -> Any:
    return _run(request, lambda a: a.pending_users())


@admin_view("admin_register", "GET")
def registration(request: Request) -> Any:
    return _run(request, lambda a: {"allow": a.allow_register()})


@admin_view("admin_register", "POST")
def set_registration(request: Request) -> Any:
    allow = _flag(body(request), "allow")
    return _run(request, lambda a: a.set_allow_register(allow))


@admin_view("admin_signup_token", "GET")
def signup_token(request: Request) -> Any:
    def make(accounts: AccountService) -> dict:
        token = accounts.signup_token(request.matchdict["username"])
        return {"token": token, "token_url": request.route_url("login", _query={"token": token})}

    return _run(request, make)


@view_config(route_name="admin_acl", request_method="GET", permission=ADMINISTER)
def acl(request: Request) -> Response:
    """Users (with password hashes), groups, grants, the registration switch, API token
    digests and trusted publishers, gzipped: what ``ppc-export`` writes and ``ppc-import``
    reads."""
    data = _run(request, lambda a: a.dump())
    payload = gzip.compress(json.dumps(data, separators=(",", ":")).encode())
    response = Response(body=payload, content_type="application/gzip")
    response.content_disposition = 'attachment; filename="acl.json.gz"'
    response.cache_control.no_store = True
    return response


@view_config(route_name="health", request_method=("GET", "HEAD"), renderer="json")
def health(request: Request) -> dict:
    """Readiness: 503 while a backend fails or this process rebuilds its package database
    (a load balancer then sends requests elsewhere); ``?live`` is the liveness answer.
    Anonymous callers see each check's verdict; its message only an admin sees."""
    if "live" in request.params:
        return live(request)
    checks = request.services.health()
    rebuild = request.services.packages.rebuilder.status()
    healthy = all(ok for ok, _ in checks.values())
    status = "rebuilding" if rebuild.running else "ok" if healthy else "unhealthy"
    request.response.status = 200 if status == "ok" else 503
    # A message may name a directory, a bucket or a server: only admins read them.
    detailed = bool(request.has_permission(ADMINISTER))
    answer: dict[str, Any] = {
        name: {"ok": ok, "message": msg} if detailed else {"ok": ok}
        for name, (ok, msg) in checks.items()
    }
    answer["status"] = status
    if rebuild.running:
        answer["rebuild"] = rebuild.as_dict()
    return answer


@view_config(route_name="health_live", request_method=("GET", "HEAD"), renderer="json")
def live(request: Request) -> dict:
    """Liveness: 200 whenever the process answers at all, rebuilding or not."""
    request.response.status = 200
    return {"status": "alive"}


def _flag(data: Any, key: str) -> Any:
    """A JSON boolean, or the form field's "true"/"false" (the original took both)."""
    value = data.get(key)
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower(), value)
    return value
