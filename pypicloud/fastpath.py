"""Index pages remembered as sent, and file downloads answered before Pyramid routes.

pip asks for ``/simple/``, ``/simple/<p>/`` and files over and over; between two changes the
answers are the same bytes. This tween recognises those URLs itself (GET, no query string,
no cookie), asks the security policy who is asking and whether they may (the same check the
views declare, so nothing is served that the view would refuse), then remembers the page
the view made, which the front door (frontdoor.py) replays for the same key without
Pyramid; a file the front door left (HEAD, a Range, a validator) skips routing here.

A page is remembered only after its view answered 200 for the route this module expected,
without a cookie being set, keyed by everything its bytes depend on: the serial, the route,
the negotiated format, the base URL, whether the viewer is anonymous (shared caches may
keep anonymous answers) and, for listings, ``viewer_key`` (which includes the
access version, so a grant change is a new key). Entries are dropped when the serial moves.
Anything else (a miss, a refusal, a redirect, a Range or conditional request on a file)
goes through Pyramid as before, and so does an answer that depends on more than the serial
(the upstream fallback's pages mark themselves with ``NOT_BY_SERIAL``).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from packaging.utils import canonicalize_name
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from pypicloud.compression import accepts_gzip, gzip_etag, identity_etag
from pypicloud.models import Package
from pypicloud.negotiation import choose_content_type
from pypicloud.security import LIST, READ
from pypicloud.views.files import METADATA_SUFFIX
from pypicloud.views.simple import SIGNED_LINK_WINDOW

#: The store's size: the bodies of every entry together, in bytes.
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: A larger body is not remembered (a huge root index of a single viewer is still fine).
MAX_ENTRY_BYTES = 8 * 1024 * 1024
#: What one remembered file record (its Package, the data dict, the key) really holds, as
#: tracemalloc measured it: 1.4-2 KB. Counted at 512 bytes, the 32 MB store could keep
#: 65,000 of them, 130 MB, at 10,000 projects and more files.
FILE_RECORD_BYTES = 2048
#: What a remembered page holds besides its body (its key, headers, ETag, the view's cached
#: copy's key), as tracemalloc measured it: about 1 KB once shared headers are kept once.
PAGE_RECORD_BYTES = 1024
#: Distinct Accept headers remembered with their negotiated type (clients send few).
MAX_ACCEPTS = 256
ROUTE_KEY = "pypicloud.route"
#: Set by views whose answer depends on more than the serial (the upstream fallback).
NOT_BY_SERIAL = "pypicloud.not_by_serial"
NOT_MODIFIED_HEADERS = frozenset({"etag", "vary", "cache-control"})

Handler = Callable[[Request], Response]


class Page:
    """One remembered response: its headers and body, ready to send again."""

    __slots__ = ("body", "by_encoding", "etag", "headerlist", "not_modified", "status")

    def __init__(self, status: str, headerlist: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headerlist = tuple(shared(header) for header in headerlist)
        self.body = body
        self.etag = next((v for k, v in headerlist if k.lower() == "etag"), None)
        self.not_modified = tuple(
            header for header in self.headerlist if header[0].lower() in NOT_MODIFIED_HEADERS
        )
        #: Whether the page varies by Accept-Encoding: then a client holding the other
        #: representation's ETag (gzip or identity) gets its 304 too, as from the view.
        vary = next((v for k, v in headerlist if k.lower() == "vary"), "")
        self.by_encoding = self.etag is not None and "accept-encoding" in vary.lower()

    def not_modified_for(self, header: str | None) -> tuple[tuple[str, str], ...] | None:
        """The 304's headers when If-None-Match names this page's ETag or its other
        representation's (with the ETag the client named); None otherwise."""
        if self.etag is None or not header:
            return None
        if _matches(header, self.etag):
            return self.not_modified
        if self.by_encoding:
            identity = identity_etag(self.etag)
            alternate = gzip_etag(self.etag) if identity == self.etag else identity
            if _matches(header, alternate):
                return tuple(
                    (k, alternate if k.lower() == "etag" else v) for k, v in self.not_modified
                )
        return None

    @property
    def size(self) -> int:
        """What the store counts for it: the body and what the page holds besides."""
        return len(self.body) + PAGE_RECORD_BYTES


#: Header values every page repeats (Content-Type, Vary, Cache-Control, the security
#: headers) are kept once, not once per page; a handful of values exist, so this is small.
_SHARED_HEADERS: dict[tuple[str, str], tuple[str, str]] = {}
MAX_SHARED_HEADERS = 1024
#: Headers whose value differs from page to page: not worth sharing.
OWN_HEADERS = frozenset({"etag", "content-length"})


def shared(header: tuple[str, str]) -> tuple[str, str]:
    """The one kept copy of a (name, value) header many pages send."""
    if header[0].lower() in OWN_HEADERS:
        return header
    found = _SHARED_HEADERS.get(header)
    if found is not None:
        return found
    if len(_SHARED_HEADERS) >= MAX_SHARED_HEADERS:
        return header
    return _SHARED_HEADERS.setdefault(header, header)


class PageStore:
    """A thread-safe LRU of pages (and file records) bounded by bytes, for one serial."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._serial: int | None = None
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, serial: int, key: Hashable) -> Any:
        entry = self._entries.get(key) if serial == self._serial else None
        return None if entry is None else entry[0]

    def put(self, serial: int, key: Hashable, value: Any, size: int) -> None:
        if size > min(MAX_ENTRY_BYTES, self.max_bytes):
            return
        with self._lock:
            if self._serial is None or serial > self._serial:
                self._entries.clear()
                self._bytes = 0
                self._serial = serial
            elif serial < self._serial:
                return  # made from an older state than the store already holds
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def __len__(self) -> int:
        return len(self._entries)


def match(path: str) -> tuple[str, str, str] | None:
    """(route name, project, filename) for the URLs served here; None for anything else."""
    parts = path.split("/")
    # "/simple/" -> ["", "simple", ""]; "/simple/p/" -> ["", "simple", "p", ""]
    if len(parts) == 3 and parts[0] == "" and parts[2] == "":
        if parts[1] in ("simple", "pypi"):
            return f"{parts[1]}_index", "", ""
        return None
    if len(parts) == 4 and parts[0] == "" and parts[2]:
        if parts[3] == "" and parts[1] in ("simple", "pypi"):
            return f"{parts[1]}_project", parts[2], ""
        if parts[1] == "pypi" and parts[3] == "json":
            return "pypi_json", parts[2], ""
        return None
    if len(parts) == 5 and parts[1:3] == ["api", "package"] and parts[3] and parts[4]:
        return "api_file", parts[3], parts[4]
    return None


#: ``FastPath.content_type_of`` for an Accept header not negotiated yet (the tween will).
UNKNOWN = object()


class FastPath:
    """The tween, one per application: remembers the pages the views answer, which the
    front door (frontdoor.py) replays, and sends files when the front door did not."""

    def __init__(self, handler: Handler, registry: Registry) -> None:
        self.handler = handler
        self.registry = registry
        self.services = registry.services  # type: ignore[attr-defined]
        self.store = PageStore(DEFAULT_MAX_BYTES)
        self._accepts: dict[str, str | None] = {}
        registry.fast_path = self  # type: ignore[attr-defined]  # for the front door

    def eligible(self, environ: dict[str, Any]) -> tuple[str, str, str] | None:
        """(route, project, filename) of a request answered here or by the front door:
        a GET (HEAD for files) of a served URL, no query string, no cookie, a project
        name already in its normal form (the view redirects the others)."""
        method = environ["REQUEST_METHOD"]
        if (
            (method != "GET" and method != "HEAD")
            or environ.get("QUERY_STRING")
            or "HTTP_COOKIE" in environ
        ):
            return None
        found = match(environ.get("PATH_INFO", ""))
        if found is None:
            return None
        route, raw_name, _ = found
        if raw_name and canonical(raw_name) != raw_name:
            return None
        if method == "HEAD" and route != "api_file":
            return None
        return found

    def __call__(self, request: Request) -> Response:
        environ = request.environ
        found = self.eligible(environ)
        if found is None:
            return self.handler(request)
        route, name, filename = found
        security = self.services.security
        identity = security.identity(request)
        if not security.allows(identity, READ if name else LIST, name or None):
            return self.handler(request)  # the views say how to refuse (401/403/404)
        if route == "api_file":
            return self._file(request, name, filename)
        return self._page(request, route, name, identity)

    # -- pages -------------------------------------------------------------------------

    def content_type_of(self, accept: str) -> str | None | object:
        """The negotiated type for an Accept header seen before, None for one the view
        refuses (406), ``UNKNOWN`` for one not seen yet."""
        return self._accepts.get(accept, UNKNOWN)

    def page_key(
        self, environ: dict[str, Any], route: str, name: str, identity: object, content_type: str
    ) -> tuple[Hashable, ...]:
        """What a page's bytes depend on, besides the serial; the same for the tween that
        remembers it and the front door that replays it."""
        anonymous = identity is None  # anonymous answers may be public in shared caches
        if route == "pypi_json":
            return (route, name, anonymous, base_url_key(environ))
        gzipped = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        key: tuple[Hashable, ...] = (
            route,
            name,
            anonymous,
            content_type,
            base_url_key(environ),
            gzipped,
        )
        if name:
            if self.services.packages.links_expire:  # as the view keys signed links
                key += (int(time.time() // SIGNED_LINK_WINDOW),)
            return key
        return key + (self.services.security.viewer_key_of(identity),)

    def _page(self, request: Request, route: str, name: str, identity: object) -> Response:
        environ = request.environ
        content_type = ""
        if route != "pypi_json":
            negotiated = self._content_type(environ.get("HTTP_ACCEPT", ""), request)
            if negotiated is None:
                return self.handler(request)  # 406, from the view
            content_type = negotiated
        serial = self.services.packages.serial()
        key = self.page_key(environ, route, name, identity, content_type)
        # A revalidation asks for the whole page here, so that it is remembered and the
        # next one is the front door's 304 (a client that only revalidates would otherwise
        # never bring an evicted page back); its 304 is then answered from that page.
        validator = environ.pop("HTTP_IF_NONE_MATCH", None)
        try:
            response = self.handler(request)
        finally:
            if validator is not None:
                environ["HTTP_IF_NONE_MATCH"] = validator
        page = self._remember(request, route, serial, key, response)
        if validator is None or response.status_int != 200:
            return response
        if page is None:
            page = Page(response.status, response.headerlist, response.body)
        not_modified = page.not_modified_for(validator)
        if not_modified is None:
            return response
        return Response(status="304 Not Modified", headerlist=list(not_modified))

    def _content_type(self, accept: str, request: Request) -> str | None:
        try:
            return self._accepts[accept]
        except KeyError:
            pass
        chosen = choose_content_type(request)
        if len(self._accepts) >= MAX_ACCEPTS:
            self._accepts.clear()
        self._accepts[accept] = chosen
        return chosen

    def _remember(
        self, request: Request, route: str, serial: int, key: Hashable, response: Response
    ) -> Page | None:
        matched = getattr(request, "matched_route", None)
        if (
            response.status_int != 200
            or matched is None
            or matched.name != route
            or "Set-Cookie" in response.headers
            or request.environ.get(NOT_BY_SERIAL)
        ):
            return None
        page = Page(response.status, response.headerlist, response.body)
        self.store.put(serial, key, page, page.size)
        return page

    def replay(self, environ: dict[str, Any], route: str, key: Hashable) -> Page | None:
        """The remembered page for ``key`` at the current serial, counted as a hit."""
        page: Page | None = self.store.get(self.services.packages.serial(), key)
        if page is not None:
            environ[ROUTE_KEY] = route
            self.services.metrics.page(True)  # a hit of the page cache, one level up
        return page

    # -- files -------------------------------------------------------------------------

    def file_record(self, name: str, filename: str) -> Package | None:
        """The file's record, remembered until the serial moves; None for a file the
        view must answer (metadata, a quarantined project's file, an unknown one)."""
        if filename.endswith(METADATA_SUFFIX):
            return None
        packages = self.services.packages
        if packages.status(name).hides_files:
            return None  # quarantined: the view decides (404 but to admins)
        serial = packages.serial()
        key = ("file", name, filename)
        package: Package | None = self.store.get(serial, key)
        if package is None:
            package = packages.fetch(name, filename)
            if package is not None:
                package = download_record(package)
                self.store.put(serial, key, package, FILE_RECORD_BYTES)
        return package

    def _file(self, request: Request, name: str, filename: str) -> Response:
        from pypicloud.views.errors import drop_malformed_range
        from pypicloud.views.files import download

        package = self.file_record(name, filename)
        if package is None:
            return self.handler(request)  # the 404, from the view
        request.environ[ROUTE_KEY] = "api_file"
        drop_malformed_range(request)  # NewRequest subscribers do not run on this path
        return download(request, package)


#: What a download reads of a record's ``data`` (headers, length); the rest (summary,
#: metadata, hashes but sha256) stays in the database.
DOWNLOAD_KEYS = ("hash_sha256", "size")


def download_record(package: Package) -> Package:
    """The record with only what a download needs: about a third of a full one's memory,
    which counts at 10,000 projects when every file is asked for."""
    data = {k: package.data[k] for k in DOWNLOAD_KEYS if k in package.data}
    return dataclasses.replace(package, summary=None, data=data)


@functools.lru_cache(maxsize=4096)
def canonical(name: str) -> str:
    """``canonicalize_name``, remembered: the same few names come in all day."""
    return canonicalize_name(name)


def base_url_key(environ: dict[str, Any]) -> tuple[str, ...]:
    """What ``request.application_url`` is made from, without making it: a cheaper key."""
    return (
        environ["wsgi.url_scheme"],
        environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}",
        environ.get("SCRIPT_NAME", ""),
    )


def _matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weak comparison, as RFC 9110 asks;
    an unquoted tag counts too, as WebOb, and so the views, read it)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/").strip('"')
    return any(part.strip().removeprefix("W/").strip('"') == bare for part in header.split(","))


def factory(handler: Handler, registry: Registry) -> FastPath:
    """Pyramid's tween factory (``config.add_tween("pypicloud.fastpath.factory")``)."""
    return FastPath(handler, registry)
