"""The simple repository API: PEP 503 HTML and PEP 691 JSON, with PEP 592/658/700 fields,
api-version 1.4: PEP 740's ``provenance`` on every JSON file (a URL for a file with
attestations, else null) and PEP 792's project status. PEP 708's optional ``tracks`` and
``alternate-locations`` are not served: this index declares no tracked upstream project."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable

from packaging.utils import canonicalize_name
from pyramid.httpexceptions import (
    HTTPMovedPermanently,
    HTTPNotAcceptable,
    HTTPNotFound,
    HTTPNotModified,
)
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.compression import MIN_BYTES, VARY, accepts_gzip, compress, gzip_etag
from pypicloud.models import Package
from pypicloud.negotiation import SIMPLE_JSON, choose_content_type
from pypicloud.security import LIST, READ
from pypicloud.status import ProjectStatus
from pypicloud.templating import render
from pypicloud.versions import sorted_versions
from pypicloud.views.common import file_url, readable, stable_file_url, upload_time
from pypicloud.views.provenance import provenance_url

API_VERSION = "1.4"
SIGNED_LINK_WINDOW = 600  # seconds a page with signed URLs may be served from memory


def project_route(request: Request) -> str:
    return "pypi_project" if request.matched_route.name.startswith("pypi") else "simple_project"


@view_config(route_name="simple_index_noslash")
@view_config(route_name="pypi_index_noslash", request_method=("GET", "HEAD"))
def index_noslash(request: Request) -> Response:
    index = "pypi_index" if request.matched_route.name.startswith("pypi") else "simple_index"
    return HTTPMovedPermanently(location=request.route_url(index, _query=request.GET))


@view_config(route_name="simple_project_noslash")
@view_config(route_name="pypi_project_noslash")
def project_noslash(request: Request) -> Response:
    return HTTPMovedPermanently(
        location=request.route_url(
            project_route(request),
            name=canonicalize_name(request.matchdict["name"]),
            _query=request.GET,
        )
    )


@view_config(route_name="simple_index", request_method=("GET", "HEAD"), permission=LIST)
@view_config(route_name="pypi_index", request_method=("GET", "HEAD"), permission=LIST)
def simple_index(request: Request) -> Response:
    content_type = _content_type(request)
    services = request.services
    serial = services.packages.serial()
    names = services.pages.get(serial, "projects", services.packages.project_set)
    # What this viewer may see is decided once per serial and viewer, not per request.
    viewer = services.security.viewer_key(request)
    visible = services.pages.get(
        serial, ("visible", viewer), lambda: tuple(sorted(readable(request, names)))
    )
    route = project_route(request)

    def render_page() -> bytes:
        if content_type == SIMPLE_JSON:
            return _json(
                {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in visible]}
            )
        return render(
            "simple_index.html",
            api_version=API_VERSION,
            projects=visible,
            url=lambda n: request.route_url(route, name=n),
        ).encode()

    key = ("index", route, content_type, request.application_url, viewer)
    return _page_response(request, serial, key, content_type, render_page)


@view_config(route_name="simple_project", request_method=("GET", "HEAD"), permission=READ)
@view_config(route_name="pypi_project", request_method=("GET", "HEAD"), permission=READ)
def simple_project(request: Request) -> Response:
    raw_name = request.matchdict["name"]
    name = canonicalize_name(raw_name)
    services = request.services
    serial = services.packages.serial()
    quarantined = services.packages.status(name).hides_files
    if raw_name == name and not quarantined:  # the upstream fallback may answer
        fallback = services.upstream.project_page(request, name, _content_type(request))
        if fallback is not None:
            return fallback
    # Existence first: a redirect for a missing name would tell it from a private one (404).
    if name not in services.pages.get(serial, "projects", services.packages.project_set):
        if raw_name != name and services.upstream.answers_for(request, name):
            location = request.route_url(project_route(request), name=name, _query=request.GET)
            return HTTPMovedPermanently(location=location)
        raise HTTPNotFound()
    if raw_name != name:
        return HTTPMovedPermanently(
            location=request.route_url(project_route(request), name=name, _query=request.GET)
        )
    content_type = _content_type(request)

    def render_page() -> bytes:
        status = services.packages.status(name)
        files = services.packages.offered(name)
        facts = [file_facts(request, p) for p in reversed(files)]  # oldest first
        if content_type == SIMPLE_JSON:
            return _json(_project_json(name, files, facts, status))
        return render(
            "simple_project.html",
            api_version=API_VERSION,
            name=name,
            files=facts,
            status=None if status.is_active else status,
        ).encode()

    key: tuple[Hashable, ...] = ("project", name, content_type, request.application_url)
    if services.packages.links_expire:
        key += (int(time.time() // SIGNED_LINK_WINDOW),)
    return _page_response(request, serial, key, content_type, render_page)


def _content_type(request: Request) -> str:
    content_type = choose_content_type(request)
    if content_type is None:
        raise HTTPNotAcceptable(
            "Acceptable: application/vnd.pypi.simple.v1+json, "
            "application/vnd.pypi.simple.v1+html, text/html"
        )
    return content_type


def file_facts(request: Request, package: Package) -> dict:
    """What a project page says of one local file (the fallback's merged pages too)."""
    url = file_url(request, package)
    # PEP 658 puts the metadata at the file URL + ".metadata": only our own URLs can do that
    # (a suffix on a signed storage URL breaks its signature).
    ours = url == stable_file_url(request, package)
    return {
        "filename": package.filename,
        "url": url,
        "sha256": package.sha256 or "",
        "requires_python": package.requires_python,
        "yanked": package.yanked,
        "core_metadata": package.core_metadata_sha256 if package.is_wheel and ours else None,
        "size": package.size,
        "upload_time": upload_time(package),
        "provenance": provenance_url(request, package),
    }


def _project_json(
    name: str, files: list[Package], facts: list[dict], status: ProjectStatus
) -> dict:
    entries = []
    for fact in facts:
        entry = {
            "filename": fact["filename"],
            "url": fact["url"],
            "hashes": {"sha256": fact["sha256"]} if fact["sha256"] else {},
            "requires-python": fact["requires_python"],
            "yanked": fact["yanked"] if fact["yanked"] else False,
            "core-metadata": {"sha256": fact["core_metadata"]} if fact["core_metadata"] else False,
            "upload-time": fact["upload_time"],
            "provenance": fact.get("provenance"),  # PEP 740: absolute URL or null
        }
        entry["dist-info-metadata"] = entry["core-metadata"]
        if fact["size"] is not None:
            entry["size"] = fact["size"]
        entries.append(entry)
    return {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "project-status": status.as_json(),
        "versions": sorted_versions(p.version for p in files),
        "files": entries,
    }


def _json(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _page_response(
    request: Request,
    serial: int,
    key: Hashable,
    content_type: str,
    render_page: Callable[[], bytes],
) -> Response:
    services = request.services
    etag = f'"{services.pages.etag_for(serial, key)}"'
    gzipped = accepts_gzip(request.environ.get("HTTP_ACCEPT_ENCODING", ""))
    headers = {"Vary": VARY, "ETag": etag, "Cache-Control": cache_control(request)}
    for candidate in (etag, gzip_etag(etag)):  # a 304 for either representation's ETag
        if candidate.strip('"') in request.if_none_match:
            return HTTPNotModified(headers={**headers, "ETag": candidate})
    body = services.pages.get(serial, key, render_page)
    if gzipped and len(body) > MIN_BYTES:
        body = services.pages.get(serial, (key, "gzip"), lambda: compress(body))
        headers.update({"ETag": gzip_etag(etag), "Content-Encoding": "gzip"})
    charset = "utf-8" if content_type.startswith("text/") else None
    response = Response(body=body, content_type=content_type, charset=charset)
    response.headers.update(headers)
    return response


def cache_control(request: Request) -> str:
    """Shared caches (nginx, a CDN) may keep a page only an anonymous request got: it is
    what every anonymous reader gets. A signed-in user's page, or one holding signed
    storage links, stays private and is revalidated (cheaply, by ETag) each time."""
    services = request.services
    options = services.options
    anonymous = services.security.identity(request) is None
    if not anonymous or services.packages.links_expire or not options.index_max_age:
        return "private, no-cache"
    return (
        f"public, max-age={options.index_max_age}, "
        f"stale-while-revalidate={options.index_stale_while_revalidate}"
    )
