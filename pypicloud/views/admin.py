"""Operations: rebuilding the package database, health."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config

from pypicloud.security import ADMINISTER


@view_config(
    route_name="admin_rebuild", request_method="POST", renderer="json", permission=ADMINISTER
)
def rebuild(request: Request) -> dict:
    """Rebuild the cache from storage (after files were copied into storage by hand)."""
    return {"packages": request.services.packages.reload_from_storage()}


@view_config(route_name="health", request_method=("GET", "HEAD"), renderer="json")
def health(request: Request) -> dict:
    checks = request.services.health()
    healthy = all(ok for ok, _ in checks.values())
    request.response.status = 200 if healthy else 503
    return {name: {"ok": ok, "message": msg} for name, (ok, msg) in checks.items()}
