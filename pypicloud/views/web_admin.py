"""The web UI's admin page: users, groups, grants, registration, rebuild, ACL export.

One page and one POST endpoint whose ``action`` field names an AccountService call, so the
page changes exactly what the admin JSON API changes, under the same rules; every form
carries the CSRF token and redirects back with what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.accounts import AccountError, AccountService
from pypicloud.audit import AuditQuery
from pypicloud.security import ADMINISTER
from pypicloud.views.web import page

Field = Callable[[str], str]
AUDIT_ROWS = 25
ACTIONS: dict[str, Callable[[AccountService, Field], str]] = {}


def action(name: str) -> Callable[[Callable[[AccountService, Field], str]], Any]:
    """Register a form action: it changes something and says what, for the redirect."""

    def register(func: Callable[[AccountService, Field], str]) -> Any:
        ACTIONS[name] = func
        return func

    return register


@action("approve")
def _approve(accounts: AccountService, f: Field) -> str:
    accounts.approve(f("username"))
    return f"Approved {f('username')}."


@action("admin")
def _admin(accounts: AccountService, f: Field) -> str:
    accounts.set_admin(f("username"), f("admin") == "1")
    return f"Admin flag of {f('username')} changed."


@action("create_user")
def _create_user(accounts: AccountService, f: Field) -> str:
    accounts.create_user(f("username"), f("password"))
    return f"Created {f('username')}."


@action("delete_user")
def _delete_user(accounts: AccountService, f: Field) -> str:
    accounts.delete_user(f("username"))
    return f"Deleted {f('username')}."


@action("join")
def _join(accounts: AccountService, f: Field) -> str:
    accounts.set_member(f("username"), f("group"), f("member") == "1")
    return f"Membership of {f('username')} in {f('group')} changed."


@action("create_group")
def _create_group(accounts: AccountService, f: Field) -> str:
    accounts.create_group(f("group"))
    return f"Created group {f('group')}."


@action("delete_group")
def _delete_group(accounts: AccountService, f: Field) -> str:
    accounts.delete_group(f("group"))
    return f"Deleted group {f('group')}."


@action("register")
def _register(accounts: AccountService, f: Field) -> str:
    accounts.set_allow_register(f("allow") == "1")
    return "Registration " + ("opened." if f("allow") == "1" else "closed.")


@action("grant")
def _grant(accounts: AccountService, f: Field) -> str:
    accounts.edit_permission(f("project"), f("kind"), f("name"), f("permission"), f("grant") == "1")
    return f"Permissions of {f('project')} changed."


def _audit(request: Request) -> dict[str, Any]:
    """The latest entries of the audit log, for the page's table."""
    log = request.services.audit
    return {"audit": log.query(AuditQuery(limit=AUDIT_ROWS)), "audit_stored": log.stored}


def _state(accounts: AccountService) -> dict[str, Any]:
    try:
        users = accounts.user_data()
        return {
            "writable": True,
            "users": users,
            "pending": accounts.pending_users(),
            "groups": accounts.groups(),
            "allow_register": accounts.allow_register(),
        }
    except AccountError as exc:
        return {"writable": False, "readonly_reason": exc.message}


@view_config(route_name="web_admin", request_method=("GET", "HEAD"), permission=ADMINISTER)
def admin_page(request: Request) -> Response:
    accounts = request.services.accounts
    project = str(request.GET.get("project", "")).strip()
    grants = None
    if project:
        grants = accounts.package_permissions(project)
    return page(
        request,
        "admin.html",
        message=str(request.GET.get("done", ""))[:200],
        error="",
        project=project,
        grants=grants,
        rebuild=request.services.packages.rebuilder.status(),
        **_state(accounts),
        **_audit(request),
    )


@view_config(route_name="web_admin_action", request_method="POST", permission=ADMINISTER)
def admin_action(request: Request) -> Response:
    name = str(request.POST.get("action", ""))
    if name == "rebuild":
        started = request.services.packages.start_rebuild()
        done = "Rebuild started." if started else "A rebuild is already running."
    else:
        change = ACTIONS.get(name)
        if change is None:
            raise HTTPBadRequest(f"Unknown action {name!r}")
        try:
            done = change(request.services.accounts, lambda k: str(request.POST.get(k, "")).strip())
        except AccountError as exc:
            accounts = request.services.accounts
            return page(
                request,
                "admin.html",
                status=exc.status,
                message="",
                error=exc.message,
                project="",
                grants=None,
                rebuild=request.services.packages.rebuilder.status(),
                **_state(accounts),
                **_audit(request),
            )
    query: dict[str, str] = {"done": done}
    if name == "grant":
        query["project"] = str(request.POST.get("project", ""))
    return HTTPSeeOther(location=request.route_path("web_admin", _query=query))
