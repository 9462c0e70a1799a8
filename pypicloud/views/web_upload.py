"""The web UI's upload form: the same validation and storage path as twine's uploads."""

from __future__ import annotations

from packaging.utils import canonicalize_name
from pyramid.httpexceptions import HTTPError, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.dists import InvalidDistribution, parse_filename
from pypicloud.security import AUTHENTICATED, WRITE
from pypicloud.uploads import UploadRefused
from pypicloud.views.common import principals
from pypicloud.views.upload import STATUS, read_form, upload_request
from pypicloud.views.web import page


@view_config(route_name="web_upload", request_method=("GET", "HEAD"), permission=AUTHENTICATED)
def upload_page(request: Request) -> Response:
    return page(request, "upload.html", error="")


@view_config(route_name="web_upload", request_method="POST", permission=AUTHENTICATED)
def upload(request: Request) -> Response:
    """Name and version come from the filename (the browser sends only the file); the
    service then checks them against the file's own metadata, as for twine."""
    try:
        form = read_form(request)
        content = form.get("content")
        filename = str(getattr(content, "filename", "") or "")
        try:
            dist = parse_filename(filename)
        except InvalidDistribution as exc:
            return page(request, "upload.html", status=400, error=f"Not a distribution: {exc}")
        request.services.security.require(request, WRITE, canonicalize_name(dist.name))
        fields = {"content": content, "name": dist.name, "version": dist.version}
        fields["filetype"] = dist.kind
        result = request.services.packages.upload(
            upload_request(request, fields, None), principals(request)
        )
    except UploadRefused as exc:
        return page(request, "upload.html", status=STATUS[exc.kind], error=exc.message)
    except HTTPError as exc:
        if exc.code in (400, 413):
            return page(request, "upload.html", status=exc.code, error=str(exc.detail or exc))
        raise
    location = request.route_path("web_project", name=result.package.name)
    return HTTPSeeOther(location=location)
