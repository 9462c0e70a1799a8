"""Operations: rebuilding the package database, health."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.views.common import require_admin


@view_config(route_name="admin_rebuild", request_method="POST", renderer="json")
def rebuild(request: Request) -> dict:
    """Rebuild the cache from storage (after files were copied into storage by hand)."""
    require_admin(request)
    return {"packages": request.services.packages.reload_from_storage()}


@view_config(route_name="health", request_method=("GET", "HEAD"), renderer="json")
def health(request: Request) -> dict | Response:
    services = request.services
    checks = {
        "storage": services.storage.check_health(),
        "cache": services.cache.check_health(),
        "access": services.access.check_health(),
    }
    healthy = all(ok for ok, _ in checks.values())
    request.response.status = 200 if healthy else 503
    return {name: {"ok": ok, "message": msg} for name, (ok, msg) in checks.items()}
