"""Project status (PEP 792): read and set it over the REST API and the web UI's form.

Reading needs READ (a project the caller may not read answers 404, as a missing one);
setting needs WRITE on the project (its owners) or an admin. Both 404 for a name with
neither files nor a status, so the answer never depends on anything else.
"""

from __future__ import annotations

import enum

from pyramid.httpexceptions import HTTPBadRequest, HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.view import view_config

from pypicloud.security import ADMINISTER, READ, WRITE
from pypicloud.status import InvalidStatus, ProjectStatus, parse


def withheld(request: Request, name: str | None) -> bool:
    """Whether a quarantined project's files are refused to this request: to all but
    admins, who may still fetch a file by its URL to inspect it."""
    if name is None or not request.services.packages.status(name).hides_files:
        return False
    return not request.has_permission(ADMINISTER)


class Shown(enum.Enum):
    """How much of a project's files a listing or a write's answer shows."""

    FILES = "files"  # every fact, download URLs included
    NAMES = "names"  # each file's name and states (yanked, kept): enough to manage it
    NOTHING = "nothing"


def files_shown(request: Request, name: str) -> Shown:
    """What this request is shown of ``name``'s files in a listing, a page or a write's
    answer (its context is the project).

    A quarantined project's files are withheld from all but admins, yet its owners (who
    may write to it) still get their names and states, never a URL or a fact read from a
    file: they may yank, keep or delete those files, and could not name them otherwise.
    PyPI freezes a quarantined project, since only its admins set or clear quarantine;
    here its owners may set and clear it themselves (``put_status``), so hiding the names
    they manage would only make a clean-up harder. Readers who may not write see none.
    Whoever may write but not read (a trusted publisher's upload token) is never shown
    more than names."""
    if withheld(request, name):
        return Shown.NAMES if request.has_permission(WRITE) else Shown.NOTHING
    return Shown.FILES if request.has_permission(READ) else Shown.NAMES


def _known(request: Request) -> tuple[str, ProjectStatus]:
    name = request.context.project
    packages = request.services.packages
    status = packages.status(name)
    if status.is_active and not packages.files(name):
        raise HTTPNotFound()
    return name, status


def _answer(name: str, status: ProjectStatus) -> dict:
    return {"name": name, **status.as_json()}


@view_config(
    route_name="api_project_status", request_method="GET", renderer="json", permission=READ
)
def get_status(request: Request) -> dict:
    return _answer(*_known(request))


@view_config(
    route_name="api_project_status", request_method="PUT", renderer="json", permission=READ
)
def put_status(request: Request) -> dict:
    """``{"status": "archived", "reason": "..."}``; ``active`` clears it."""
    name, _ = _known(request)
    request.services.security.require(request, WRITE, name)
    try:
        body = request.json_body
    except ValueError:
        raise HTTPBadRequest("Expected a JSON body") from None
    if not isinstance(body, dict):
        raise HTTPBadRequest('Expected {"status": "...", "reason": "..."}')
    try:
        status = parse(body.get("status"), body.get("reason"))
    except InvalidStatus as exc:
        raise HTTPBadRequest(str(exc)) from None
    return _answer(name, request.services.packages.set_status(name, status))


@view_config(route_name="web_project_status", request_method="POST", permission=READ)
def post_status_form(request: Request) -> HTTPSeeOther:
    """The project page's form (CSRF-checked like every session POST)."""
    name, _ = _known(request)
    request.services.security.require(request, WRITE, name)
    try:
        status = parse(request.POST.get("status"), request.POST.get("reason", ""))
    except InvalidStatus as exc:
        raise HTTPBadRequest(str(exc)) from None
    request.services.packages.set_status(name, status)
    return HTTPSeeOther(location=request.route_path("web_project", name=name))
