"""What the views ask of the fallback: a project page, a JSON page or a file, or None
when the fallback has nothing to do with the request (the view then answers as without it).

The views call these after their permission check, so a user who may not read the index
gets the same 401/404 as without a fallback, and the upstream is never asked for them.

Project status (PEP 792) on the pages the fallback serves (``Upstream.status_of``): a status
set here wins; a project with files uploaded here shows its own status only (the upstream's
is of the public project that shares the name, which never shadows ours); otherwise the
upstream's status, read from its page (``parsing``), is passed through. An upstream
``quarantined`` withdraws the upstream's files, as a quarantine here withdraws ours: its
files are not listed (HTML, JSON, ``/pypi/<p>/json``), not fetched or passed through, and the
cache mode's copies of them are not listed either (a copy already stored is still sent to
whoever asks for it by URL: downloads of stored files never ask the upstream; set the
status here to ``quarantined`` to refuse those too). Files uploaded here stay listed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from pyramid.httpexceptions import (
    HTTPBadGateway,
    HTTPError,
    HTTPFound,
    HTTPGatewayTimeout,
    HTTPNotFound,
    HTTPNotModified,
)
from pyramid.request import Request
from pyramid.response import Response

from pypicloud.access.base import group_principal
from pypicloud.dists import versions_equal
from pypicloud.fastpath import NOT_BY_SERIAL
from pypicloud.models import Package, utcnow
from pypicloud.negotiation import SIMPLE_JSON
from pypicloud.packages import PackageService
from pypicloud.settings import Settings
from pypicloud.status import ACTIVE, ProjectStatus
from pypicloud.templating import render
from pypicloud.upstream.client import UpstreamClient, UpstreamPage, UpstreamUnavailable
from pypicloud.upstream.mirror import Mirror
from pypicloud.upstream.options import FallbackOptions
from pypicloud.upstream.parsing import UpstreamFile
from pypicloud.upstream.policy import FallbackPolicy, is_mirrored
from pypicloud.versions import sorted_versions
from pypicloud.views.common import principals
from pypicloud.views.pypi_json import listing_json
from pypicloud.views.simple import API_VERSION, file_facts

log = logging.getLogger(__name__)

STATUS_HEADER = "X-PyPI-Upstream"
METADATA_LIMIT = 16 * 1024 * 1024
# What a version in a URL we redirect to may hold (PEP 440 text and a little more).
VERSION_TEXT = re.compile(r"^[A-Za-z0-9.+!_-]{1,100}$")


def _time_text(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def unavailable(exc: UpstreamUnavailable) -> HTTPError:
    if exc.timeout:
        return HTTPGatewayTimeout(f"The upstream index did not answer in time: {exc}")
    return HTTPBadGateway(f"The upstream index failed: {exc}")


class Upstream:
    """The fallback, built once at start-up and shared by every thread."""

    def __init__(self, options: FallbackOptions, packages: PackageService) -> None:
        self.options = options
        self.policy = FallbackPolicy(options)
        self.packages = packages
        self.client = UpstreamClient(
            options.simple_url,
            options.timeout,
            options.package_max_age,
            observe=lambda outcome: packages.metrics.upstream_request(options.mode, outcome),
        )
        self.mirror = Mirror(packages, self.client)
        self._metadata: dict[str, bytes] = {}
        self._metadata_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, packages: PackageService) -> Upstream:
        options = FallbackOptions.from_settings(settings)
        log.info(options.describe())
        return cls(options, packages)

    # -- deciding ----------------------------------------------------------------------

    def _local(self, request: Request, name: str) -> Sequence[Package]:
        """The project's files here, read once per serial (the page cache keeps them)."""
        services = request.services
        serial = services.packages.serial()
        if name not in services.pages.get(serial, "projects", services.packages.project_set):
            return ()
        return services.pages.get(
            serial, ("upstream-local", name), lambda: tuple(self.packages.files(name))
        )

    def _consulted(self, request: Request, name: str) -> Sequence[Package] | None:
        """The local files when the upstream may be consulted for ``name``, else None.
        The settings are checked first: a disallowed name costs no database read either."""
        if not self.policy.name_allowed(name):
            return None
        if self.packages.status(name).hides_files:
            return None  # quarantined here: never the upstream's files under its name
        local = self._local(request, name)
        if not self.policy.may_look_up(name, local):
            return None
        # The answer depends on the upstream, not only on the serial: the fast path must not
        # keep it (pypicloud/fastpath.py).
        request.environ[NOT_BY_SERIAL] = True
        return local

    def _page(self, name: str) -> UpstreamPage | None:
        try:
            return self.client.project(name)
        except UpstreamUnavailable as exc:
            raise unavailable(exc) from None

    # -- project pages -----------------------------------------------------------------

    def project_page(self, request: Request, name: str, content_type: str) -> Response | None:
        if not self.policy.enabled:
            return None
        local = self._consulted(request, name)
        if local is None:
            return None
        if self.options.mode == "redirect" and not local:
            return HTTPFound(location=self.client.project_url(name))
        freshness = "fresh"
        try:
            page = self.client.project(name)
        except UpstreamUnavailable as exc:
            if not local:
                raise unavailable(exc) from None
            page, freshness = None, "unavailable"
        if page is None and not local:
            raise HTTPNotFound()
        if page is not None and page.stale:
            freshness = "stale"
        facts = self._facts(request, name, local, page)
        status = self.status_of(name, local, page)
        if content_type == SIMPLE_JSON:
            body = _json(_project_json(name, facts, status))
        else:
            body = render(
                "simple_project.html",
                api_version=API_VERSION,
                name=name,
                files=facts,
                status=None if status.is_active else status,
            ).encode()
        return _response(request, body, content_type, freshness)

    def status_of(
        self, name: str, local: Sequence[Package], page: UpstreamPage | None
    ) -> ProjectStatus:
        """The PEP 792 status a page the fallback serves shows (see the module's notes)."""
        own = self.packages.status(name)
        if not own.is_active or self.policy.has_private_files(local):
            return own
        return page.status if page is not None and page.status is not None else ACTIVE

    def _offered(
        self, name: str, local: Sequence[Package], page: UpstreamPage | None
    ) -> list[UpstreamFile]:
        """The upstream files listed beside the local ones: none of a project the upstream
        quarantines."""
        if page is None or _quarantined(page):
            return []
        return self.policy.visible(name, local, page.files, utcnow())

    def _facts(
        self,
        request: Request,
        name: str,
        local: Sequence[Package],
        page: UpstreamPage | None,
    ) -> list[dict[str, Any]]:
        kept = self._offered(name, local, page)
        withdrawn = _quarantined(page)
        cached = {p.filename: p for p in local}
        listed = {entry.filename for entry in kept}
        facts = [self._upstream_facts(request, name, e, cached.get(e.filename)) for e in kept]
        # Files uploaded here, and copies the cache mode made that the upstream no longer
        # lists (or the cooldown now hides): a cached file stays available, unless the
        # upstream quarantined the project it was copied from.
        facts += [
            _local_facts(request, p)
            for p in reversed(local)
            if p.filename not in listed and not (withdrawn and is_mirrored(p))
        ]
        return facts

    def _upstream_facts(
        self, request: Request, name: str, entry: UpstreamFile, copy: Package | None
    ) -> dict[str, Any]:
        if self.options.mode == "cache":
            url = request.route_url("api_file", name=name, filename=entry.filename)
            wheel = entry.filename.endswith(".whl")
            metadata = entry.core_metadata if wheel else None
        else:
            url, metadata = entry.url, entry.core_metadata
        sha256 = entry.sha256 or ""
        if copy is not None and is_mirrored(copy):
            sha256 = copy.sha256 or sha256
            metadata = copy.core_metadata_sha256 if copy.is_wheel else None
        return {
            "filename": entry.filename,
            "url": url,
            "version": entry.version,
            "sha256": sha256,
            "requires_python": entry.requires_python,
            "yanked": entry.yanked,
            "core_metadata": metadata,
            "size": entry.size,
            "upload_time": _time_text(entry.upload_time),
        }

    # -- the JSON API ------------------------------------------------------------------

    def answers_for(self, request: Request, name: str) -> bool:
        """Whether the fallback answers ``/pypi/<name>/json`` (asks nothing of the upstream):
        the view then redirects a non-normalized name to the normalized URL, as for local
        projects."""
        if not self.policy.enabled:
            return False
        local = self._consulted(request, name)
        return local is not None and not self.policy.has_private_files(local)

    def json_page(
        self, request: Request, name: str, version: str | None = None
    ) -> Response | dict | None:
        """``/pypi/<p>/json`` (or ``/pypi/<p>/<version>/json``) wherever the simple page is
        the fallback's: a project with no file uploaded here, and, with
        ``pypi.always_show_upstream``, one with files uploaded here too (the merge). Without
        that setting a project with files uploaded here is answered by the view alone, and
        the upstream is never asked (``_consulted``); so is a release uploaded here, always.

        The answer is made from the simple page's own merged list (``_facts``), not from the
        upstream's ``/pypi/<p>/json``: one upstream request (the simple page, kept for
        ``pypi.package_max_age``) serves both APIs, and the never-shadow rule, the cooldown,
        an upstream quarantine and the cache mode's URLs apply to both alike, so a client
        sees the same files in either. Files stored here are described as the view describes
        them, with their core metadata in ``info`` when the latest release is stored here;
        upstream releases get what the upstream's simple page tells (no summary or
        description). ``last_serial`` is left out: this index's serial does not move when
        the upstream changes."""
        if not self.policy.enabled or (version is not None and not VERSION_TEXT.match(version)):
            return None
        local = self._consulted(request, name)
        if local is None:
            return None
        if version is not None and any(
            not is_mirrored(p) and versions_equal(p.version, version) for p in local
        ):
            return None  # uploaded here, and no upstream file joins it: the view answers
        if self.options.mode == "redirect" and not local:
            path = f"{name}/{version}" if version else name
            return HTTPFound(location=f"{self.options.base_url}pypi/{path}/json")
        try:
            page = self.client.project(name)
        except UpstreamUnavailable as exc:
            if local:
                return None  # the cached copies answer, as the view answers for them
            raise unavailable(exc) from None
        facts = self._facts(request, name, local, page)
        if version is not None:
            facts = [f for f in facts if versions_equal(f["version"], version)]
        elif not facts and _quarantined(page):
            return _quarantined_json(name, self.status_of(name, local, page))
        if not facts:
            raise HTTPNotFound()
        return listing_json(request, name, facts, whole=version is None)

    # -- files -------------------------------------------------------------------------

    def file(self, request: Request, name: str, filename: str, metadata: bool) -> Response | None:
        """A file listed from the upstream that is not stored here yet (cache mode)."""
        if self.options.mode != "cache":
            return None
        local = self._consulted(request, name)
        if local is None:
            return None
        page = self.client.cached_page(name) or self._page(name)
        if page is None:
            return None
        entry = next((e for e in self._offered(name, local, page) if e.filename == filename), None)
        if entry is None:
            return None
        if metadata:
            return self._core_metadata(entry)
        if self._may_fill(request):
            try:
                package = self.mirror.fill(name, entry)
            except UpstreamUnavailable as exc:
                raise unavailable(exc) from None
            if package is not None:
                from pypicloud.views.files import download

                return download(request, package)
        return self._pass_through(request, entry)

    def _may_fill(self, request: Request) -> bool:
        held = principals(request)
        return any(group_principal(g) in held for g in self.options.cache_update)

    def _pass_through(self, request: Request, entry: UpstreamFile) -> Response:
        if not self.options.stream_files:
            return HTTPFound(location=entry.url)
        try:
            opened = self.client.request("GET", entry.url)
        except UpstreamUnavailable as exc:
            raise unavailable(exc) from None
        if opened.status != 200:
            opened.release_conn()
            raise HTTPBadGateway(f"The upstream answered {opened.status}")
        response = Response(content_type="application/octet-stream")
        response.app_iter = opened.stream(256 * 1024)
        if entry.size is not None:
            response.content_length = entry.size
        response.content_disposition = f'attachment; filename="{entry.filename}"'
        return response

    def _core_metadata(self, entry: UpstreamFile) -> Response:
        """PEP 658 metadata of a file not cached yet, checked against the page's digest."""
        digest = entry.core_metadata
        if not digest or not entry.filename.endswith(".whl"):
            raise HTTPNotFound("No core metadata for this file")
        with self._metadata_lock:
            content = self._metadata.get(digest)
        if content is None:
            try:
                content = self.client.read(entry.url + ".metadata", METADATA_LIMIT)
            except UpstreamUnavailable as exc:
                raise unavailable(exc) from None
            if hashlib.sha256(content).hexdigest() != digest:
                raise HTTPBadGateway("The upstream's core metadata does not match its sha256")
            with self._metadata_lock:
                if len(self._metadata) > 4096:
                    self._metadata.clear()
                self._metadata[digest] = content
        response = Response(body=content, content_type="application/octet-stream")
        response.etag = digest
        response.cache_control.private = True
        return response


def _quarantined(page: UpstreamPage | None) -> bool:
    return page is not None and page.status is not None and page.status.hides_files


def _local_facts(request: Request, package: Package) -> dict[str, Any]:
    """A file stored here; ``package`` lets the JSON API describe it as the view does."""
    return {**file_facts(request, package), "version": package.version, "package": package}


def _quarantined_json(name: str, status: ProjectStatus) -> dict[str, Any]:
    """``/pypi/<p>/json`` of a project that offers no file, as for one quarantined here."""
    return {
        "info": {"name": name, "version": None, "project_status": status.as_json()},
        "releases": {},
        "urls": [],
    }


def _project_json(name: str, facts: list[dict[str, Any]], status: ProjectStatus) -> dict[str, Any]:
    files = []
    for fact in facts:
        entry: dict[str, Any] = {
            "filename": fact["filename"],
            "url": fact["url"],
            "hashes": {"sha256": fact["sha256"]} if fact["sha256"] else {},
            "requires-python": fact["requires_python"],
            "yanked": fact["yanked"] if fact["yanked"] is not False else False,
            "core-metadata": {"sha256": fact["core_metadata"]} if fact["core_metadata"] else False,
            "provenance": fact.get("provenance"),  # local files only (PEP 740)
        }
        entry["dist-info-metadata"] = entry["core-metadata"]
        if fact["size"] is not None:
            entry["size"] = fact["size"]
        if fact["upload_time"]:
            entry["upload-time"] = fact["upload_time"]
        files.append(entry)
    return {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "project-status": status.as_json(),
        "versions": sorted_versions(f["version"] for f in facts),
        "files": files,
    }


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _response(request: Request, body: bytes, content_type: str, status: str) -> Response:
    etag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"Vary": "Accept, Authorization, Cookie", "ETag": f'"{etag}"', STATUS_HEADER: status}
    if etag in request.if_none_match:
        return HTTPNotModified(headers=headers)
    charset = "utf-8" if content_type.startswith("text/") else None
    response = Response(body=body, content_type=content_type, charset=charset)
    response.headers.update(headers)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response
