"""The only code that talks to the upstream index: project pages and file bytes.

Every call has connect and read timeouts (``pypi.fallback_timeout``) and no retries, so a
slow or dead upstream costs a request at most a few seconds and never hangs a worker.
Project pages are kept in memory for ``pypi.package_max_age`` seconds and then revalidated
with ``If-None-Match``; when the upstream fails, the last good copy is served, marked stale.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from pypicloud.status import ProjectStatus
from pypicloud.upstream.parsing import (
    InvalidPage,
    UpstreamFile,
    parse_html_page,
    parse_json_page,
)

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger(__name__)

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{SIMPLE_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
USER_AGENT = "pypicloud-fallback"
CHUNK = 256 * 1024
MAX_PAGE = 64 * 1024 * 1024  # a project page larger than this is refused


class UpstreamUnavailable(Exception):
    """The upstream did not answer usefully; ``timeout`` tells 504 from 502."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclasses.dataclass(frozen=True)
class UpstreamPage:
    """One project's files upstream, and its PEP 792 status when the page gives one;
    ``stale`` when the upstream failed and this is the last good copy."""

    name: str
    files: tuple[UpstreamFile, ...]
    etag: str | None = None
    fetched: float = 0.0  # time.monotonic() of the last successful (re)validation
    stale: bool = False
    missing: bool = False  # the upstream has no such project (remembered like a page)
    status: ProjectStatus | None = None  # None: the page says nothing (readable) about it


class UpstreamClient:
    def __init__(
        self,
        simple_url: str,
        timeout: float,
        max_age: int = 0,
        max_pages: int = 4096,
        observe: Callable[[str], None] | None = None,
    ) -> None:
        self.simple_url = simple_url
        #: Told each request's outcome (``ok``, ``http_<status>``, ``timeout``, ``error``):
        #: the metrics' upstream counter.
        self.observe = observe or (lambda outcome: None)
        self.max_age = max_age
        self.max_pages = max_pages
        self.seconds = timeout
        self._http: urllib3.PoolManager | None = None
        self._pages: OrderedDict[str, UpstreamPage] = OrderedDict()
        self._lock = threading.Lock()
        #: Requests sent, for the figures and the tests.
        self.requests = 0

    def project_url(self, name: str) -> str:
        return f"{self.simple_url}{name}/"

    def _remembered(self, name: str) -> UpstreamPage | None:
        with self._lock:
            page = self._pages.get(name)
            if page is not None:
                self._pages.move_to_end(name)
            return page

    def _remember(self, name: str, page: UpstreamPage) -> None:
        with self._lock:
            self._pages[name] = page
            self._pages.move_to_end(name)
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)

    def cached_page(self, name: str) -> UpstreamPage | None:
        page = self._remembered(name)
        return None if page is None or page.missing else page

    def project(self, name: str) -> UpstreamPage | None:
        """The project's upstream files (None: the upstream has no such project).

        Raises UpstreamUnavailable when the upstream fails and no earlier copy exists.
        """
        page = self._remembered(name)
        # A 404 is remembered for max_age too: a typo must not hammer the upstream.
        if page is None or time.monotonic() - page.fetched >= self.max_age:
            try:
                page = self._fetch(name, page)
            except UpstreamUnavailable as exc:
                if page is None or page.missing:
                    raise
                log.warning("upstream failed for %s (%s); serving the last good copy", name, exc)
                return dataclasses.replace(page, stale=True)
            self._remember(name, page)
        return None if page.missing else page

    def _fetch(self, name: str, known: UpstreamPage | None) -> UpstreamPage:
        url = self.project_url(name)
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        if known is not None and known.etag:
            headers["If-None-Match"] = known.etag
        response = self.request("GET", url, headers=headers)
        try:
            if response.status == 304 and known is not None:
                return dataclasses.replace(known, fetched=time.monotonic(), stale=False)
            if response.status == 404:
                return UpstreamPage(name, (), fetched=time.monotonic(), missing=True)
            if response.status != 200:
                raise UpstreamUnavailable(f"the upstream answered {response.status} for {url}")
            body = _read_limited(response, MAX_PAGE, time.monotonic() + 3 * self.seconds)
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            final_url = _final_url(url, response)
            try:
                parsed = (
                    parse_json_page(body, final_url)
                    if content_type == SIMPLE_JSON
                    else parse_html_page(body, final_url)
                )
            except InvalidPage as exc:
                raise UpstreamUnavailable(f"{url}: {exc}") from None
            return UpstreamPage(
                name,
                tuple(parsed.files),
                response.headers.get("ETag"),
                time.monotonic(),
                status=parsed.status,
            )
        finally:
            response.release_conn()

    @property
    def http(self) -> urllib3.PoolManager:
        """The connection pool, made on first use: urllib3 costs about 4 MB of RSS, which a
        server without a fallback (``pypi.fallback = none``) never needs."""
        if self._http is None:
            import urllib3

            with self._lock:
                if self._http is None:
                    timeout = urllib3.Timeout(connect=self.seconds, read=self.seconds)
                    self._http = urllib3.PoolManager(
                        num_pools=4, maxsize=16, retries=False, timeout=timeout, block=False
                    )
        return self._http

    def request(self, method: str, url: str, **kwargs: object) -> urllib3.BaseHTTPResponse:
        from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

        self.requests += 1
        try:
            response = self.http.request(
                method,
                url,
                preload_content=False,
                redirect=True,
                **kwargs,  # type: ignore[arg-type]
            )
        except NewConnectionError as exc:  # a subclass of the timeout error, oddly
            self.observe("error")
            raise UpstreamUnavailable(f"the upstream is unreachable: {exc}") from None
        except TimeoutError as exc:
            self.observe("timeout")
            raise UpstreamUnavailable(f"the upstream timed out: {exc}", timeout=True) from None
        except HTTPError as exc:
            self.observe("error")
            raise UpstreamUnavailable(f"the upstream is unreachable: {exc}") from None
        self.observe("ok" if response.status < 400 else f"http_{response.status}")
        return response

    @contextmanager
    def open(self, url: str) -> Iterator[urllib3.BaseHTTPResponse]:
        """A file's bytes, streamed (read timeouts apply to every chunk)."""
        response = self.request("GET", url, headers={"User-Agent": USER_AGENT})
        try:
            if response.status != 200:
                raise UpstreamUnavailable(f"the upstream answered {response.status} for {url}")
            yield response
        finally:
            response.release_conn()

    def read(self, url: str, limit: int) -> bytes:
        """A small file (core metadata), whole."""
        with self.open(url) as response:
            return _read_limited(response, limit, time.monotonic() + 3 * self.seconds)


def _final_url(url: str, response: urllib3.BaseHTTPResponse) -> str:
    """Where the page really came from (relative links resolve against it)."""
    history = response.retries.history if response.retries else ()
    for hop in history:
        if hop.redirect_location:
            url = urljoin(url, hop.redirect_location)
    return url


def _read_limited(response: urllib3.BaseHTTPResponse, limit: int, deadline: float) -> bytes:
    """The whole body, refused past ``limit`` bytes or past ``deadline`` (a trickling
    upstream must not hold a worker, though every read is within the timeout)."""
    from urllib3.exceptions import HTTPError, TimeoutError

    chunks, size = [], 0
    try:
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise UpstreamUnavailable(f"the upstream's answer is over {limit} bytes")
            if time.monotonic() > deadline:
                raise UpstreamUnavailable("the upstream is too slow", timeout=True)
            chunks.append(chunk)
    except TimeoutError as exc:
        raise UpstreamUnavailable(f"the upstream timed out: {exc}", timeout=True) from None
    except HTTPError as exc:
        raise UpstreamUnavailable(f"the upstream broke off: {exc}") from None
    return b"".join(chunks)
