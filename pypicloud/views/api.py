"""pypicloud's REST API: list, download, upload, delete and yank files and releases."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPBadRequest, HTTPForbidden, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.models import Package
from pypicloud.packages import NotAllowed
from pypicloud.security import LIST, READ, WRITE
from pypicloud.views.common import principals, readable, stable_file_url, upload_time
from pypicloud.views.files import METADATA_SUFFIX, download, metadata_response
from pypicloud.views.project_status import Shown, files_shown, withheld
from pypicloud.views.upload import read_form, refuse, store_upload


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
        "yanked": package.yanked is not False,
        "yanked_reason": package.yanked or None,
        "keep": package.kept,
    }


def managed_json(package: Package) -> dict:
    """A file whose facts are withheld, as its owners see it: what names it and what they
    may change, no URL and nothing read from the file (summary, digests, size)."""
    return {
        "name": package.name,
        "version": package.version,
        "filename": package.filename,
        "yanked": package.yanked is not False,
        "yanked_reason": package.yanked or None,
        "keep": package.kept,
    }


def shown_json(request: Request, package: Package, shown: Shown) -> dict:
    """A file in the shape ``files_shown`` allows (never called for ``NOTHING``)."""
    return package_json(request, package) if shown is Shown.FILES else managed_json(package)


def files_json(request: Request, files: list[Package]) -> list[dict]:
    """The project's files as this caller may see them (see ``files_shown``)."""
    shown = files_shown(request, request.context.project)
    if shown is Shown.NOTHING:
        return []
    return [shown_json(request, p, shown) for p in files]


@view_config(route_name="api_packages", request_method="GET", renderer="json", permission=LIST)
def list_projects(request: Request) -> dict:
    return {"packages": sorted(readable(request, request.services.packages.projects()))}


@view_config(route_name="api_project", request_method="GET", renderer="json", permission=READ)
def list_files(request: Request) -> dict:
    """The project's files, and its status (PEP 792). A quarantined project is listed with
    no file to readers, as the simple index offers none (its downloads 404), and with
    names and states only to its owners, who manage them; admins see everything."""
    name = request.context.project
    files = request.services.packages.files(name)
    if not files:  # existence before the quarantine, so the project itself stays visible
        raise HTTPNotFound()
    return {
        "packages": files_json(request, files),
        "project_status": request.services.packages.status(name).as_json(),
    }


def _lookup(request: Request) -> Package:
    package = request.services.packages.fetch(
        request.context.project, request.matchdict["filename"]
    )
    if package is None:
        raise HTTPNotFound()
    return package


@view_config(route_name="api_file", request_method=("GET", "HEAD"), permission=READ)
def get_file(request: Request) -> Response:
    """A file, or its core metadata at ``<file>.metadata``: one permission check, one lookup."""
    filename = request.matchdict["filename"]
    wants_metadata = filename.endswith(METADATA_SUFFIX)
    if wants_metadata:
        filename = filename[: -len(METADATA_SUFFIX)]
    if withheld(request, request.context.project):
        raise HTTPNotFound()
    package = request.services.packages.fetch(request.context.project, filename)
    if package is None:
        upstream = request.services.upstream
        fallback = upstream.file(request, request.context.project, filename, wants_metadata)
        if fallback is None:
            raise HTTPNotFound()
        return fallback
    return metadata_response(request, package) if wants_metadata else download(request, package)


@view_config(route_name="api_file", request_method="POST", permission=WRITE)
def upload_file(request: Request) -> Response:
    form = read_form(request)
    content = form.get("content")
    if content is not None and getattr(content, "filename", None) != request.matchdict["filename"]:
        raise refuse("The uploaded file's name does not match the URL")
    return store_upload(request, form, name=request.matchdict["name"])


@view_config(route_name="api_file", request_method="DELETE", permission=WRITE)
def delete_file(request: Request) -> Response:
    packages = request.services.packages
    try:
        packages.check_delete(principals(request))
        packages.delete(_lookup(request), principals(request))
    except NotAllowed as exc:
        raise HTTPForbidden(str(exc)) from None
    return Response(status=200, body=b"", content_type="text/plain")


def _yank_body(request: Request) -> tuple[bool, str]:
    """``{"yanked": true, "reason": "..."}`` or ``{"yanked": false}``."""
    try:
        body = request.json_body
    except ValueError:
        raise HTTPBadRequest("Expected a JSON body") from None
    if not isinstance(body, dict) or not isinstance(body.get("yanked"), bool):
        raise HTTPBadRequest('Expected {"yanked": true|false, "reason": "..."}')
    reason = body.get("reason") or ""
    if not isinstance(reason, str):
        raise HTTPBadRequest("reason must be a string")
    return body["yanked"], reason.strip()


@view_config(route_name="api_file", request_method="PATCH", renderer="json", permission=WRITE)
def patch_file(request: Request) -> dict:
    """Yank or unyank one file; the answer shows what ``files_shown`` allows."""
    package = _lookup(request)
    yanked, reason = _yank_body(request)
    changed = request.services.packages.set_yanked(package, yanked, reason)
    return shown_json(request, changed, files_shown(request, request.context.project))


@view_config(route_name="api_release", request_method="GET", renderer="json", permission=READ)
def get_release(request: Request) -> dict:
    """One version's files; a quarantined project's versions are missing to readers (as
    PyPI's JSON API answers for them) and listed by name to its owners (see list_files)."""
    if files_shown(request, request.context.project) is Shown.NOTHING:
        raise HTTPNotFound()
    files = request.services.packages.release(request.context.project, _version(request))
    if not files:
        raise HTTPNotFound()
    return {"packages": files_json(request, files)}


@view_config(route_name="api_release", request_method="PATCH", renderer="json", permission=WRITE)
def patch_release(request: Request) -> dict:
    """Yank or unyank a release (every file of the version, in one request), as PyPI does."""
    packages = request.services.packages
    files = packages.release(request.context.project, _version(request))
    if not files:
        raise HTTPNotFound()
    yanked, reason = _yank_body(request)
    changed = packages.set_release_yanked(files, yanked, reason)
    return {"packages": files_json(request, changed)}


@view_config(
    route_name="api_release_keep", request_method=("PUT", "DELETE"), renderer="json",
    permission=WRITE,
)  # fmt: skip
def keep_release(request: Request) -> dict:
    """Mark a release to keep (PUT) or clear the mark (DELETE): retention never removes a
    marked release. Who may upload to the project (or an admin) may."""
    packages = request.services.packages
    files = packages.release(request.context.project, _version(request))
    if not files:
        raise HTTPNotFound()
    changed = packages.set_release_kept(files, request.method == "PUT")
    return {"packages": files_json(request, changed)}


def _version(request: Request) -> str:
    version = request.matchdict["version"]
    if not version or len(version) > 100:
        raise HTTPNotFound()
    return version
