"""The front door: remembered pages and stored files answered before Pyramid runs at all.

For a cached ``/simple/`` page Pyramid's router, its request and response objects and the
tweens cost more than finding the answer does. This WSGI middleware, in front of the whole
application, takes what the fast path tween (fastpath.py) would answer: it asks the same
security policy who is asking (Basic credentials; a request with a cookie goes to
Pyramid) and whether they may, then replays the page the tween remembered for the same key,
or sends a whole stored file. Anything else, a refusal included, goes to Pyramid unchanged,
which then reuses the identity found here instead of checking the password again.

What the observe and identity tweens do for a request is done here as well: the request is
counted for /metrics under its route, and the access log names the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from pypicloud.fastpath import ROUTE_KEY, UNKNOWN, FastPath
from pypicloud.logs import USER_KEY
from pypicloud.packages import Delivery
from pypicloud.security import LIST, READ
from pypicloud.storage.files import FileStorage
from pypicloud.views.files import whole_file

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: Validators and ranges make a file download conditional: WebOb's machinery answers those.
CONDITIONAL = ("HTTP_RANGE", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_RANGE")
Answer = tuple[str, list[tuple[str, str]], Iterable[bytes], int]


class FrontDoor:
    """WSGI middleware over the Pyramid application (``pypicloud.wsgi_app`` builds both)."""

    def __init__(self, app: WSGIApp, fast: FastPath) -> None:
        self.app = app
        #: As on Pyramid's router: tools and tests reach the services through it.
        self.registry = fast.registry
        self.fast = fast
        self.services = fast.services
        self.security = fast.services.security
        self.metrics = fast.services.metrics
        #: Files are sent here only from file storage: an object store's handle is a
        #: request of its own, which the view would then make again.
        self.local_files = isinstance(fast.services.storage, FileStorage)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        found = self.fast.eligible(environ)
        if found is None:
            return self.app(environ, start_response)
        started = time.perf_counter()
        route, name, filename = found
        security = self.security
        try:
            identity = security.cookieless_identity(environ)
        except Exception:  # an access backend that fails: Pyramid's error views answer
            return self.app(environ, start_response)
        if not security.allows(identity, READ if name else LIST, name or None):
            return self.app(environ, start_response)  # the views say how to refuse
        if identity is not None:
            environ[USER_KEY] = identity.username
        if route == "api_file":
            answer = self._file(environ, name, filename)
        else:
            answer = self._page(environ, route, name, identity)
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body, length = answer
        metrics = self.metrics
        if metrics.enabled:
            metrics.request(
                route,
                environ["REQUEST_METHOD"],
                int(status[:3]),
                time.perf_counter() - started,
                length,
            )
        start_response(status, headers)
        return body

    def _page(
        self, environ: dict[str, Any], route: str, name: str, identity: object
    ) -> Answer | None:
        fast = self.fast
        content_type = ""
        if route != "pypi_json":
            negotiated = fast.content_type_of(environ.get("HTTP_ACCEPT", ""))
            if negotiated is UNKNOWN or negotiated is None:
                return None  # negotiated by the tween (or refused by the view) first
            content_type = negotiated  # type: ignore[assignment]
        key = fast.page_key(environ, route, name, identity, content_type)
        page = fast.replay(environ, route, key)
        if page is None:
            return None
        validator = environ.get("HTTP_IF_NONE_MATCH")
        if validator:
            not_modified = page.not_modified_for(validator)
            if not_modified is not None:
                return "304 Not Modified", list(not_modified), [], 0
        return page.status, list(page.headerlist), [page.body], len(page.body)

    def _file(self, environ: dict[str, Any], name: str, filename: str) -> Answer | None:
        if environ["REQUEST_METHOD"] != "GET" or not self.local_files:
            return None
        for header in CONDITIONAL:
            if header in environ:
                return None
        package = self.fast.file_record(name, filename)
        if package is None:
            return None
        packages = self.services.packages
        if packages.delivery is Delivery.REDIRECT or packages.delivery is Delivery.ACCEL:
            return None  # the view answers with the redirect or nginx's header
        sent = whole_file(environ, self.services, package)
        if sent is None:
            return None
        headers, body = sent
        self.metrics.download("stream")
        environ[ROUTE_KEY] = "api_file"
        length = int(headers[-1][1])  # whole_file puts Content-Length last
        return "200 OK", headers, body, length
