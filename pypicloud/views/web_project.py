"""The web UI's project page, and its write actions (yank, unyank, delete; the status
form posts to pypicloud.views.project_status).

The page needs READ on the project (the forbidden view answers 404 to a signed-in user who
may not read it, as for a missing project); the actions need WRITE and are POST forms that
carry the CSRF token, each redirecting back to the page.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import lru_cache

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version
from pyramid.httpexceptions import HTTPForbidden, HTTPMovedPermanently, HTTPNotFound, HTTPSeeOther
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from pypicloud.dists import CoreMetadata, InvalidDistribution, parse_core_metadata
from pypicloud.models import Package
from pypicloud.packages import NotAllowed
from pypicloud.security import READ, WRITE
from pypicloud.status import MAX_REASON as MAX_STATUS_REASON
from pypicloud.status import Status
from pypicloud.views.common import principals, stable_file_url
from pypicloud.views.project_status import Shown, files_shown
from pypicloud.views.web import install_lines, page

log = logging.getLogger(__name__)
MAX_REASON = 200


@dataclasses.dataclass
class Release:
    version: str
    files: list[Package]
    prerelease: bool

    @property
    def yanked(self) -> bool:
        return all(p.yanked is not False for p in self.files)


def is_prerelease(version: str) -> bool:
    try:
        return Version(version).is_prerelease
    except InvalidVersion:
        return False


def releases(files: list[Package]) -> list[Release]:
    """The files grouped by version, in the cache's order (newest version first)."""
    grouped: dict[str, list[Package]] = {}
    for package in files:
        grouped.setdefault(package.version, []).append(package)
    return [Release(v, fs, is_prerelease(v)) for v, fs in grouped.items()]


def python_tag(filename: str) -> str:
    """What a file installs on: the wheel's Python tags, or "source" for an sdist."""
    if not filename.endswith(".whl"):
        return "source"
    try:
        tags: frozenset[Tag] = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return "?"
    return ".".join(sorted({tag.interpreter for tag in tags}))


@lru_cache(maxsize=256)
def render_readme(text: str, content_type: str | None) -> str:
    """The README as sanitized HTML, as PyPI renders it (readme_renderer cleans the
    output: no scripts, no event handlers); kept per text, since rendering is slow."""
    # Imported on first use: readme_renderer brings docutils, pygments and two HTML
    # engines (about 20 MB) that a server answering only pip never needs.
    from readme_renderer import markdown, rst, txt

    kind = (content_type or "text/x-rst").split(";")[0].strip().lower()
    html: str | None = None
    if kind == "text/markdown":
        html = markdown.render(text)
    elif kind == "text/x-rst":
        html = rst.render(text)
    return html if html is not None else (txt.render(text) or "")


def metadata_of(request: Request, files: list[Package]) -> CoreMetadata | None:
    """The newest non-yanked file's core metadata (the newest file's when all are yanked)."""
    chosen = next((p for p in files if p.yanked is False), files[0])
    raw = request.services.packages.core_metadata(chosen)
    if raw is None:
        return None
    try:
        return parse_core_metadata(raw)
    except InvalidDistribution as exc:
        log.warning("unreadable core metadata for %s: %s", chosen.filename, exc)
        return None


@view_config(route_name="web_project_noslash", request_method=("GET", "HEAD"), permission=READ)
@view_config(route_name="web_project", request_method=("GET", "HEAD"), permission=READ)
def project_page(request: Request) -> Response:
    """The project, its releases and the newest file's metadata. A quarantined project's
    page keeps its name and status but, to anyone but an admin, shows no link or metadata
    (which comes from a file): the same rule as its downloads. Its owners still see its
    releases' file names, to yank or delete them; readers see no file (``files_shown``)."""
    name = request.context.project
    files = request.services.packages.files(name)
    if not files:  # before the redirect, which would tell a missing name from a private one
        raise HTTPNotFound()
    if request.matchdict["name"] != name or request.matched_route.name != "web_project":
        raise HTTPMovedPermanently(location=request.route_path("web_project", name=name))
    shown = files_shown(request, name)
    if shown is Shown.NOTHING:
        files = []
    meta = metadata_of(request, files) if files and shown is Shown.FILES else None
    readme = None
    if meta is not None and meta.description:
        readme = render_readme(meta.description, meta.description_content_type)
    return page(
        request,
        "project.html",
        name=name,
        files_withheld=shown is not Shown.FILES,
        names_only=shown is Shown.NAMES,
        releases=releases(files),
        meta=meta,
        readme=readme,
        python_tag=python_tag,
        file_url=lambda p: stable_file_url(request, p),
        install=install_lines(request, name)["pip"],
        may_write=bool(request.has_permission(WRITE)),
        may_delete=request.services.packages.may_delete(principals(request)),
        project_status=request.services.packages.status(name),
        statuses=[s.value for s in Status],
        max_status_reason=MAX_STATUS_REASON,
    )


def _back(request: Request) -> HTTPSeeOther:
    return HTTPSeeOther(location=request.route_path("web_project", name=request.context.project))


@view_config(route_name="web_yank", request_method="POST", permission=WRITE)
def yank(request: Request) -> HTTPSeeOther:
    """Yank or unyank a release (``version``) or one of its files (``filename`` too)."""
    packages = request.services.packages
    version, filename = request.POST.get("version", ""), request.POST.get("filename", "")
    files = packages.release(request.context.project, version) if version else []
    if filename:
        files = [p for p in files if p.filename == filename]
    if not files:
        raise HTTPNotFound()
    yanked = request.POST.get("action") == "yank"
    reason = str(request.POST.get("reason", "")).strip()[:MAX_REASON]
    packages.set_release_yanked(files, yanked, reason)
    return _back(request)


@view_config(route_name="web_delete", request_method="POST", permission=WRITE)
def delete(request: Request) -> HTTPSeeOther:
    """Delete one file, under the server's delete policy."""
    packages = request.services.packages
    package = packages.fetch(request.context.project, str(request.POST.get("filename", "")))
    if package is None:
        raise HTTPNotFound()
    try:
        packages.delete(package, principals(request))
    except NotAllowed as exc:
        raise HTTPForbidden(str(exc)) from None
    if not packages.files(package.name):
        return HTTPSeeOther(location=request.route_path("root"))
    return _back(request)
