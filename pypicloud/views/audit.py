"""``GET /admin/audit``: the audit log for admins, newest first, as JSON."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPBadRequest
from pyramid.request import Request
from pyramid.view import view_config

from pypicloud.audit import AuditQuery
from pypicloud.security import ADMINISTER


@view_config(route_name="admin_audit", request_method="GET", renderer="json", permission=ADMINISTER)
def audit(request: Request) -> dict[str, Any]:
    """``?since=<ISO time>&user=&project=&action=&limit=`` (limit 1 to 1000, 100 default).
    ``stored`` is false when this package database keeps no audit log."""
    try:
        query = AuditQuery.from_params(request.GET)
    except ValueError as exc:
        raise HTTPBadRequest(str(exc)) from None
    log = request.services.audit
    return {"stored": log.stored, "entries": [e.as_dict() for e in log.query(query)]}
