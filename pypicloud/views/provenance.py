"""The provenance object of a file (PEP 740), at PyPI's Integrity API path.

Read permission is the file's: whoever may not read the project gets what a missing
project gets. The document comes from storage (it is not on the index's hot path); index
pages only link to it, from the package database's ``provenance_sha256`` fact.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.dists import versions_equal
from pypicloud.models import Package
from pypicloud.security import READ
from pypicloud.storage.layout import PROVENANCE_CONTENT_TYPE
from pypicloud.views.project_status import withheld


def provenance_url(request: Request, package: Package) -> str | None:
    """The absolute URL of the file's provenance, or None when it has none."""
    if not package.provenance_sha256:
        return None
    return request.route_url(
        "provenance", name=package.name, version=package.version, filename=package.filename
    )


@view_config(route_name="provenance", request_method=("GET", "HEAD"), permission=READ)
def provenance(request: Request) -> Response:
    """A quarantined project's provenance is missing but to admins, as its files are."""
    if withheld(request, request.context.project):
        raise HTTPNotFound()
    packages = request.services.packages
    package = packages.fetch(request.context.project, request.matchdict["filename"])
    if package is None or not versions_equal(package.version, request.matchdict["version"]):
        raise HTTPNotFound()
    document = packages.provenance(package)
    if document is None:
        raise HTTPNotFound("No provenance for this file")
    response = Response(
        body=document, content_type=PROVENANCE_CONTENT_TYPE, conditional_response=True
    )
    response.etag = package.provenance_sha256
    response.cache_control.private = True
    response.cache_control.max_age = request.services.options.cache_max_age
    return response
