"""pypicloud's REST API: list, download, upload, delete and yank files."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.models import Package
from pypicloud.views.common import require_read, require_write, stable_file_url, upload_time
from pypicloud.views.files import METADATA_SUFFIX, download, metadata_response
from pypicloud.views.upload import refuse, store_upload


def package_json(request: Request, package: Package) -> dict:
    """A file in the original pypicloud's API shape, with the newer facts added."""
    return {
        "name": package.name,
        "version": package.version,
        "filename": package.filename,
        "last_modified": package.last_modified.timestamp(),
        "upload_time": upload_time(package),
        "summary": package.summary,
        "url": stable_file_url(request, package),
        "requires_python": package.requires_python,
        "sha256": package.sha256,
        "md5": package.md5,
        "size": package.size,
        "uploader": package.data.get("uploader"),
        "yanked": package.yanked,
    }


@view_config(route_name="api_packages", request_method="GET", renderer="json")
def list_projects(request: Request) -> dict:
    services = request.services
    names = services.access.readable(request.principals, services.packages.projects())
    return {"packages": sorted(names)}


@view_config(route_name="api_project", request_method="GET", renderer="json")
def list_files(request: Request) -> dict:
    name = canonicalize_name(request.matchdict["name"])
    require_read(request, name)
    files = request.services.packages.files(name)
    if not files:
        raise HTTPNotFound()
    return {"packages": [package_json(request, p) for p in files]}


def _lookup(request: Request) -> tuple[str, str, Package | None]:
    name = canonicalize_name(request.matchdict["name"])
    filename = request.matchdict["filename"]
    return name, filename, request.services.packages.fetch(name, filename)


@view_config(route_name="api_file", request_method=("GET", "HEAD"))
def get_file(request: Request) -> Response:
    """A file, or its core metadata at ``<file>.metadata``: one permission check, one lookup."""
    name = canonicalize_name(request.matchdict["name"])
    require_read(request, name)
    filename = request.matchdict["filename"]
    wants_metadata = filename.endswith(METADATA_SUFFIX)
    if wants_metadata:
        filename = filename[: -len(METADATA_SUFFIX)]
    package = request.services.packages.fetch(name, filename)
    if package is None:
        raise HTTPNotFound()
    return metadata_response(request, package) if wants_metadata else download(request, package)


@view_config(route_name="api_file", request_method="POST")
def upload_file(request: Request) -> Response:
    name = canonicalize_name(request.matchdict["name"])
    require_write(request, name)
    try:
        form = request.POST
    except Exception as exc:
        raise refuse(f"Invalid request: malformed body ({exc})") from None
    content = form.get("content")
    if content is not None and getattr(content, "filename", None) != request.matchdict["filename"]:
        raise refuse("The uploaded file's name does not match the URL")
    return store_upload(request, form, name=request.matchdict["name"])


@view_config(route_name="api_file", request_method="DELETE")
def delete_file(request: Request) -> Response:
    name, _, package = _lookup(request)
    require_write(request, name)
    if not request.services.packages.options.allow_delete:
        raise HTTPForbidden("Deleting packages is disabled (pypi.allow_delete)")
    if package is None:
        raise HTTPNotFound()
    request.services.packages.delete(package)
    return Response(status=200, body=b"", content_type="text/plain")


@view_config(route_name="api_file", request_method="PATCH", renderer="json")
def patch_file(request: Request) -> dict:
    """Yank or unyank: ``{"yanked": true, "reason": "..."}`` or ``{"yanked": false}``."""
    name, _, package = _lookup(request)
    require_write(request, name)
    if package is None:
        raise HTTPNotFound()
    try:
        body = request.json_body
    except ValueError:
        raise HTTPBadRequest("Expected a JSON body") from None
    if not isinstance(body, dict) or not isinstance(body.get("yanked"), bool):
        raise HTTPBadRequest('Expected {"yanked": true|false, "reason": "..."}')
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise HTTPBadRequest("reason must be a string")
    package = request.services.packages.set_yanked(package, body["yanked"], reason.strip())
    return package_json(request, package)
