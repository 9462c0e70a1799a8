"""PyPI's JSON API: ``/pypi/<project>/json`` and ``/pypi/<project>/<version>/json``.

A project whose simple page the upstream fallback serves gets its answer from the
fallback (``Upstream.json_page``), made here by ``listing_json`` from that page's files."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version
from pyramid.httpexceptions import HTTPMovedPermanently, HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.dists import CoreMetadata, InvalidDistribution, parse_core_metadata
from pypicloud.models import Package
from pypicloud.security import READ
from pypicloud.versions import sorted_versions
from pypicloud.views.common import stable_file_url, upload_time


def _latest_version(files: list[Package]) -> str:
    """Newest final release that is not entirely yanked, else the newest version."""
    versions = sorted_versions(p.version for p in files)
    return _latest_of(versions, {p.version for p in files if p.yanked is False})


def _latest_of(versions: Sequence[str], live: Collection[str]) -> str:
    """Of ``versions`` (sorted), the newest final one in ``live``, else the newest."""
    for version in reversed(versions):
        try:
            final = not Version(version).is_prerelease
        except InvalidVersion:
            final = False
        if final and version in live:
            return version
    return versions[-1]


def _file_json(request: Request, package: Package) -> dict:
    return {
        "filename": package.filename,
        "url": stable_file_url(request, package),
        "digests": {"md5": package.md5, "sha256": package.sha256},
        "md5_digest": package.md5,
        "size": package.size,
        "packagetype": "bdist_wheel" if package.is_wheel else "sdist",
        "python_version": _python_tag(package.filename),
        "requires_python": package.requires_python,
        "upload_time": package.last_modified.strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": upload_time(package),
        "yanked": package.yanked is not False,
        "yanked_reason": package.yanked or None,
    }


def _python_tag(filename: str) -> str:
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        return parts[-3] if len(parts) >= 5 else "py3"
    return "source"


def _metadata_for(request: Request, files: list[Package]) -> CoreMetadata | None:
    """Core metadata of the version's files, wheels first (their METADATA is static)."""
    for package in sorted(files, key=lambda p: not p.is_wheel):
        raw = request.services.packages.core_metadata(package)
        if raw is None:
            continue
        try:
            return parse_core_metadata(raw)
        except InvalidDistribution:
            continue
    return None


def _info(name: str, version: str, files: list[Package], meta: CoreMetadata | None) -> dict:
    yanked = all(p.yanked is not False for p in files)
    info = {
        "name": meta.name if meta else name,
        "version": version,
        "summary": (meta.summary if meta else None) or files[0].summary,
        "description": meta.description if meta else None,
        "description_content_type": meta.description_content_type if meta else None,
        "requires_dist": (meta.requires_dist or None) if meta else None,
        "requires_python": (meta.requires_python if meta else None) or files[0].requires_python,
        "author": meta.author if meta else None,
        "author_email": meta.author_email if meta else None,
        "maintainer": meta.maintainer if meta else None,
        "maintainer_email": meta.maintainer_email if meta else None,
        "license": meta.license if meta else None,
        "license_expression": meta.license_expression if meta else None,
        "keywords": meta.keywords if meta else None,
        "home_page": meta.home_page if meta else None,
        "classifiers": meta.classifiers if meta else [],
        "project_urls": (meta.project_urls or None) if meta else None,
        "provides_extra": (meta.provides_extra or None) if meta else None,
        "yanked": yanked,
        "yanked_reason": (files[0].yanked or None) if yanked else None,
    }
    return info


def _fact_json(fact: dict[str, Any]) -> dict[str, Any]:
    """A file the upstream lists, from the simple page's facts."""
    return {
        "filename": fact["filename"],
        "url": fact["url"],
        "digests": {"sha256": fact["sha256"]},
        "size": fact["size"],
        "packagetype": "bdist_wheel" if fact["filename"].endswith(".whl") else "sdist",
        "python_version": _python_tag(fact["filename"]),
        "requires_python": fact["requires_python"],
        "upload_time_iso_8601": fact["upload_time"],
        "yanked": fact["yanked"] is not False,
        "yanked_reason": fact["yanked"] or None,
    }


def listing_json(
    request: Request, name: str, facts: list[dict[str, Any]], *, whole: bool = True
) -> dict[str, Any]:
    """This API's answer from the fallback's merged simple page (``facts``: the upstream's
    files and those stored here, which carry their ``package``), or, not ``whole``, one
    release's answer (``facts`` of that release only). The latest release is chosen as for
    local projects; files stored here are described as for local projects, and so is
    ``info`` when the latest release is stored here (its core metadata); for an upstream
    release ``info`` holds what a simple page tells."""
    versions = sorted_versions({f["version"] for f in facts})
    live = {f["version"] for f in facts if f["yanked"] is False}
    latest = _latest_of(versions, live)

    def described(fact: dict[str, Any]) -> dict[str, Any]:
        package = fact.get("package")
        return _file_json(request, package) if package is not None else _fact_json(fact)

    latest_facts = [f for f in facts if f["version"] == latest]
    stored = [f["package"] for f in latest_facts if f.get("package") is not None]
    if stored:
        info = _info(name, latest, stored, _metadata_for(request, stored))
    else:
        info = {
            "name": name,
            "version": latest,
            "requires_python": latest_facts[0]["requires_python"],
            "yanked": all(f["yanked"] is not False for f in latest_facts),
        }
    answer: dict[str, Any] = {"info": info}
    if whole:
        answer["releases"] = {
            v: [described(f) for f in facts if f["version"] == v] for v in versions
        }
    answer["urls"] = [described(f) for f in latest_facts]
    return answer


def _project(request: Request) -> tuple[str, list[Package]]:
    name = request.context.project
    files = request.services.packages.files(name)
    if not files:
        raise HTTPNotFound()
    return name, files


def _quarantined(request: Request, name: str) -> dict:
    """A quarantined project's page: it exists, and offers no file (PEP 792)."""
    status = request.services.packages.status(name)
    return {
        "info": {"name": name, "version": None, "project_status": status.as_json()},
        "releases": {},
        "urls": [],
        "last_serial": request.services.packages.serial(),
    }


@view_config(
    route_name="pypi_json", request_method=("GET", "HEAD"), renderer="json", permission=READ
)
def project_json(request: Request) -> dict | Response:
    upstream = request.services.upstream
    quarantined = request.services.packages.status(request.context.project).hides_files
    if quarantined:
        pass  # never the upstream's files under a quarantined local name
    elif request.matchdict["name"] == request.context.project:
        fallback = upstream.json_page(request, request.context.project)
        if fallback is not None:
            return fallback
    elif upstream.answers_for(request, request.context.project):
        location = request.route_url("pypi_json", name=request.context.project)
        return HTTPMovedPermanently(location=location)
    name, files = _project(request)
    if request.matchdict["name"] != name:
        return HTTPMovedPermanently(location=request.route_url("pypi_json", name=name))
    if quarantined:
        return _quarantined(request, name)
    latest = _latest_version(files)
    latest_files = [p for p in files if p.version == latest]
    releases: dict[str, list[dict]] = {}
    for version in sorted_versions(p.version for p in files):
        releases[version] = [_file_json(request, p) for p in files if p.version == version]
    return {
        "info": _info(name, latest, latest_files, _metadata_for(request, latest_files)),
        "releases": releases,
        "urls": [_file_json(request, p) for p in latest_files],
        "last_serial": request.services.packages.serial(),
    }


@view_config(
    route_name="pypi_version_json",
    request_method=("GET", "HEAD"),
    renderer="json",
    permission=READ,
)
def version_json(request: Request) -> dict | Response:
    name = request.context.project
    version = request.matchdict["version"]
    if request.services.packages.status(name).hides_files:
        raise HTTPNotFound()
    fallback = request.services.upstream.json_page(request, name, version)
    if fallback is not None:
        return fallback
    version_files = request.services.packages.release(name, request.matchdict["version"])
    if not version_files:
        raise HTTPNotFound()
    version = version_files[0].version
    return {
        "info": _info(name, version, version_files, _metadata_for(request, version_files)),
        "urls": [_file_json(request, p) for p in version_files],
        "last_serial": request.services.packages.serial(),
    }
